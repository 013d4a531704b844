"""Dispatcher: turns a plan (one request's worth of recipients) into outcomes; never writes a file.

It owns the client, the throttle and the campaign's list task. Each outcome goes to the results log
(:class:`~getui_async.results.ResultsLog`), which is committed to the OS after each request, so a kill
loses only replies still in flight.

- Getui's per-cid status -> ``successed_*``; no per-cid detail (async, or a repeated request_id that
  Getui drops) -> ``accepted``; a terminal API error -> ``failed`` (with Getui's code, the HTTP status
  and whether it may pass later); a daily quota or fatal error stops the campaign instead.
- A batch refused as a whole (``20001``) is split so the good items still go. A cid missing from a
  synchronous *batch* reply is re-sent alone with the same request_id, to learn its fate.
- A *list* push carries no request_id, so a list recipient is never re-sent: a cid the reply did not
  name is looked up with ``user/detail`` (invalid -> ``failed`` 20001), else ``accepted``.
- A code-0 reply whose ``data`` has the wrong shape (``unconfirmed``) is neither a delivery nor a
  repeated request_id: the recipients it does not name are ``accepted`` "did not confirm", never re-sent.
- After a stop nothing new goes out; a request whose reply was lost is still followed up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Final, TypeVar

from .client import GetuiClient
from .config import CampaignSettings, Settings
from .errors import (
    ApiError,
    DuplicateRequestError,
    FatalApiError,
    InvalidTargetError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    TransportError,
)
from .events import BatchSent, Observers, RetryScheduled
from .intake import Job
from .messages import MessageTemplate
from .outcome import DELIVERY_STATUSES, RETRYABLE_ACTIONS, Kind, Status
from .pacing import Pacing, stop_reason
from .planner import Endpoint, Plan
from .results import ResultsLog
from .retry import call_with_retry
from .throttle import PaceStop, Throttle

__all__ = ["Dispatcher", "LineBudget"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Ranking used to summarize the statuses of the several cids behind one alias.
_RANK: Final = {status.value: len(DELIVERY_STATUSES) - i for i, status in enumerate(DELIVERY_STATUSES)}
_STATUS: Final = {status.value: status for status in DELIVERY_STATUSES}
#: ``user/detail`` takes this many cids a call, at most.
_DETAIL_LIMIT: Final = 1000
_UNNAMED: Final = "Getui's reply did not name this recipient"
#: A code-0 reply whose ``data`` had the wrong shape: Getui took the request but said nothing usable.
_UNCONFIRMED: Final = "Getui's reply did not confirm this recipient"
_UNKNOWN_VALIDITY: Final = "; user/detail could not tell whether the cid is valid"
#: Attempts for a ``user/detail`` look-up at least, whatever ``--max-attempts`` says: a look-up
#: delivers nothing, and without it a dead list recipient could only be written ``accepted``.
LOOKUP_MIN_ATTEMPTS: Final = 3


class _Abandoned(Exception):
    """A request not sent because the campaign is stopping: its records get no line (resumable)."""


class _Tries:
    """Attempts made for one logical request (shared with the retry closure).

    ``unsure`` is set once an attempt went out and its reply was lost: Getui may have delivered it,
    so the request is finished (retried until its fate is known) even while the campaign stops.
    """

    __slots__ = ("n", "unsure")

    def __init__(self, n: int = 0) -> None:
        self.n = n
        self.unsure = False


class LineBudget:
    """Recipients allowed in flight, so that their lines fit in the disk reserve if the disk fills.

    Used only when the reserve is smaller than what the configured concurrency could have in flight
    (a nearly full disk): every recipient Getui may take then has room for its line.
    """

    def __init__(self, recipients: int) -> None:
        self.limit = max(1, recipients)
        self._free = self.limit
        self._changed = asyncio.Event()
        self._open = False

    async def take(self, wanted: int) -> int:
        """Book room for ``wanted`` lines (at most the whole budget, so one request always fits)."""
        wanted = min(wanted, self.limit)
        while self._free < wanted and not self._open:
            self._changed.clear()
            await self._changed.wait()
        self._free -= wanted
        return wanted

    def give(self, booked: int) -> None:
        self._free += booked
        self._changed.set()

    def open(self) -> None:
        """Wake every waiter for good (the campaign stops: they drain without sending)."""
        self._open = True
        self._changed.set()


class Dispatcher:
    """Sends plans through ``client`` under ``throttle``; outcomes go to ``results``."""

    def __init__(
        self,
        client: GetuiClient,
        throttle: Throttle,
        settings: Settings,
        options: CampaignSettings,
        template: MessageTemplate,
        results: ResultsLog,
        observers: Observers,
        *,
        stopping: Callable[[], bool],
        request_stop: Callable[[str, str], None],
        budget: LineBudget | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self._client = client
        # #14: delivered recipients go to the ledger; a daily-quota reply may wait (--wait-quota)
        self._pacing = pacing if pacing is not None and pacing.records else None
        self._quota_gate = pacing.wait_quota if pacing is not None else None
        self._budget = budget
        self._throttle = throttle
        self._settings = settings
        self._is_async = options.is_async
        self._template = template
        self._results = results
        self._observers = observers
        self._stopping = stopping
        self._request_stop = request_stop
        self._taskid: str | None = None
        self._taskid_lock = asyncio.Lock()
        self.requests = 0
        self.retries = 0
        #: Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``).
        self.already_taken = 0

    async def worker(self, queue: asyncio.Queue[Plan[Job] | None]) -> None:
        """Take plans until the end marker; after a stop, plans are drained unsent (no line: resumable)."""
        while True:
            plan = await queue.get()
            if plan is None:
                return
            if self._stopping():
                continue
            budget, booked = self._budget, 0
            if budget is not None:
                booked = await budget.take(len(plan.items))
                if self._stopping():
                    continue
            try:
                await self.send(plan)
            except _Abandoned:
                pass
            finally:
                self._results.commit()
                if budget is not None and self._results.error is None:
                    budget.give(booked)  # its lines reached the OS

    async def send(self, plan: Plan[Job]) -> None:
        if plan.endpoint is Endpoint.SINGLE:
            await self._single(plan.items[0])
        elif plan.endpoint is Endpoint.BATCH:
            await self._batch(plan.kind, plan.items)
        else:
            await self._list(plan.kind, plan.items)

    # -- one logical request -------------------------------------------------------------------------

    async def _call(
        self,
        label: str,
        recipients: int,
        fn: Callable[[], Awaitable[T]],
        tries: _Tries,
        *,
        min_attempts: int = 1,
    ) -> T:
        """One logical request: throttle gate per attempt, retries per policy, events and counters."""
        throttle, observers, stopping = self._throttle, self._observers, self._stopping

        async def attempt() -> T:
            while True:
                # After a stop nothing new goes out; only a request whose reply was lost is followed up,
                # so a recipient Getui may already have gets its line now rather than at the resume.
                if stopping() and not tries.unsure:
                    raise _Abandoned
                try:
                    outcome = await once()
                except PaceStop as exc:  # outside the window with --no-wait, past --deadline, a signal
                    self._request_stop(*stop_reason(exc))
                    raise _Abandoned from None
                if outcome is not None:
                    return outcome[0]

        async def once() -> tuple[T] | None:
            """One attempt; None after a daily-quota reply waited for its reset (--wait-quota)."""
            gate = self._quota_gate
            async with throttle:
                if stopping() and not tries.unsure:  # stopped while this waited at the gate
                    raise _Abandoned
                tries.n += 1
                self.requests += 1
                started = time.monotonic()
                sent_at = gate.now() if gate is not None else 0.0
                try:
                    result = await fn()
                except TransportError:
                    tries.unsure = True
                    raise
                except RateLimitedError as exc:
                    throttle.rate_limited(exc.code)
                    raise
                except QuotaExceededError as exc:
                    if gate is None:
                        raise
                    log.warning("daily quota used up (%s, code %s): waiting for its reset", exc.msg, exc.code)
                    quota_hit = True
                except ApiError:
                    if observers:
                        observers.emit(BatchSent(label, recipients, time.monotonic() - started, False))
                    raise
                else:
                    quota_hit = False
            if quota_hit:
                assert gate is not None
                await gate.wait_quota_reset(started_at=sent_at)  # then the same request again
                return None
            if observers:
                observers.emit(BatchSent(label, recipients, time.monotonic() - started, True))
            return (result,)

        def on_retry(state: Any) -> None:
            self.retries += 1
            if observers:
                exc = state.outcome.exception() if state.outcome else None
                observers.emit(RetryScheduled(label, state.attempt_number, repr(exc), state.upcoming_sleep))

        policy = self._settings.retry
        if policy.max_attempts < min_attempts:
            policy = replace(policy, max_attempts=min_attempts)
        return await call_with_retry(attempt, policy, window_s=None, on_retry=on_retry)

    def _stop_for(self, exc: ApiError) -> bool:
        """Stop the campaign for a quota or fatal error; True if ``exc`` was one."""
        if isinstance(exc, QuotaExceededError):
            self._request_stop("quota", f"{exc.msg} (code {exc.code})")
            return True
        if isinstance(exc, FatalApiError):
            self._request_stop("fatal", str(exc))
            return True
        return False

    # -- outcomes --------------------------------------------------------------------------------------

    def _line(
        self,
        job: Job,
        status: Status,
        code: int | None,
        msg: str,
        taskid: str | None,
        attempts: int,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if self._pacing is not None:
            self._pacing.delivered(status.value, job.kind, job.target)
        self._results.add(
            line=job.line,
            record=job.record,
            kind=job.kind,
            target=job.target,
            request_id=job.request_id,
            status=status,
            code=code,
            msg=msg,
            taskid=taskid,
            attempts=attempts,
            extra=extra,
        )

    def _failed(self, job: Job, exc: ApiError, attempts: int) -> None:
        """A failed line: Getui's code when there is one, plain words for a transport or HTTP failure."""
        retryable = exc.action in RETRYABLE_ACTIONS
        if exc.code is None and exc.http_status is not None:
            msg = f"HTTP {exc.http_status} from Getui"
        elif isinstance(exc, TransportError):
            msg = f"no reply from Getui: {exc.msg}" if exc.msg else "no reply from Getui"
        else:
            msg = exc.msg or str(exc)
        if retryable:
            msg = f"{msg} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
        self._line(job, Status.FAILED, exc.code, msg, None, attempts, self._results.failed_extra(exc))

    def _fail_all(self, jobs: Sequence[Job], exc: ApiError, attempts: int) -> None:
        """A request failed for good: stop the campaign if that is what it means, else fail its recipients."""
        if not self._stop_for(exc):
            for job in jobs:
                self._failed(job, exc, attempts)

    def _settle(self, job: Job, status: Any, taskid: str | None, attempts: int) -> None:
        known = _STATUS.get(status) if isinstance(status, str) else None
        if known is not None:
            self._line(job, known, 0, "", taskid, attempts)
        elif status is None:
            self._line(job, Status.ACCEPTED, 0, _UNNAMED, taskid, attempts)
        else:
            extra = {"http_status": None, "retryable": False}
            self._line(job, Status.FAILED, 0, f"unknown delivery status {status!r}", taskid, attempts, extra)

    def _accept_all(
        self, jobs: Sequence[Job], taskid: str | None, attempts: int, *, already_taken: bool = False
    ) -> None:
        """Getui took the request without per-recipient status: every recipient is 'accepted'."""
        for job in jobs:
            if already_taken:
                self._taken(job, 0, attempts)
            else:
                self._line(job, Status.ACCEPTED, 0, "accepted without per-cid status", taskid, attempts)

    def _taken(self, job: Job, code: int | None, attempts: int) -> None:
        """Getui already had this request_id: sent earlier (a retry, a resume, or the same campaign)."""
        self.already_taken += 1
        self._line(job, Status.ACCEPTED, code, "already taken by Getui (repeated request_id)", None, attempts)

    # -- the endpoints -----------------------------------------------------------------------------------

    async def _single(self, job: Job, prior: int = 0) -> None:
        client = self._client
        tries = _Tries(prior)
        send = client.push_single_cid if job.kind == "cid" else client.push_single_alias
        try:
            result = await self._call(
                "single", 1, lambda: send(job.target, job.message, request_id=job.request_id), tries
            )
        except DuplicateRequestError as exc:
            self._taken(job, exc.code, tries.n)
            return
        except ApiError as exc:
            self._fail_all((job,), exc, tries.n)
            return
        statuses = result.statuses
        status = statuses.get(job.target) if job.kind == "cid" else _best(statuses.values())
        if status is None and result.unconfirmed:
            self._line(job, Status.ACCEPTED, 0, _UNCONFIRMED, result.taskid, tries.n)
        elif not statuses:
            self._accept_all((job,), result.taskid, tries.n, already_taken=not self._is_async)
        else:
            self._settle(job, status, result.taskid, tries.n)

    async def _split(
        self,
        kind: Kind,
        jobs: Sequence[Job],
        exc: ApiError,
        attempts: int,
        again: Callable[..., Awaitable[None]],
    ) -> None:
        """A request refused as a whole: find the bad items so the rest still go.

        For an unknown cid, one ``user/detail`` call usually names it (about 16 fewer requests than
        bisecting 200 items); otherwise, or if that call does not help, bisect until the bad item stands
        alone.
        """
        if isinstance(exc, InvalidTargetError) and kind == "cid" and len(jobs) > 1:
            invalid = await self._invalid_cids(jobs)
            if invalid:
                good = [job for job in jobs if job.target not in invalid]
                for job in jobs:
                    if job.target in invalid:
                        self._failed(job, exc, attempts)
                self._results.commit()
                if good:
                    await again(kind, good, attempts)
                return
        if len(jobs) == 1:
            if isinstance(exc, DuplicateRequestError):
                self._taken(jobs[0], exc.code, attempts)
            else:
                self._failed(jobs[0], exc, attempts)
            return
        half = len(jobs) // 2
        await _together(again(kind, jobs[:half], attempts), again(kind, jobs[half:], attempts))

    async def _invalid_cids(self, jobs: Sequence[Job], *, settling: bool = False) -> frozenset[str] | None:
        """The cids of ``jobs`` Getui calls invalid (``user/detail``, ≤1000 a call); None if unknown.

        ``settling``: the recipients were pushed already and need a line, so ask even while stopping.
        """
        client = self._client
        cids = [job.target for job in jobs]
        invalid: set[str] = set()
        for start in range(0, len(cids), _DETAIL_LIMIT):
            part = cids[start : start + _DETAIL_LIMIT]
            try:
                lookup = _Tries()
                lookup.unsure = settling
                check = await self._call(
                    "user_detail",
                    0,
                    partial(client.user_detail, part),
                    lookup,
                    min_attempts=LOOKUP_MIN_ATTEMPTS,
                )
            except _Abandoned:
                return None
            except ApiError as exc:
                log.debug("user/detail could not tell the invalid cids: %s", exc)
                return None
            invalid.update(check.invalid)
        return frozenset(invalid) & frozenset(cids)

    async def _batch(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        client = self._client
        tries = _Tries(prior)
        send = client.push_batch_cid if kind == "cid" else client.push_batch_alias
        is_async = self._is_async
        try:
            result = await self._call("batch", len(jobs), lambda: send(jobs, is_async=is_async), tries)
        except RejectedError as exc:
            await self._split(kind, jobs, exc, tries.n, self._batch)
            return
        except ApiError as exc:
            self._fail_all(jobs, exc, tries.n)
            return
        if is_async or not (result.tasks or result.unconfirmed):
            # No per-cid detail at all: asked for (async), or every message was a request_id Getui
            # already had (a re-run of a sent campaign). Re-sending each alone would learn nothing more.
            self._accept_all(jobs, None, tries.n, already_taken=not is_async)
            return
        by_target = result.by_cid()
        unclear: list[Job] = []
        for job in jobs:
            hit = by_target.get(job.target)
            if hit is not None:
                self._settle(job, hit[1], hit[0], tries.n)
            elif result.unconfirmed:
                # The reply was malformed, not silent: re-sending alone would learn nothing more.
                self._line(job, Status.ACCEPTED, 0, _UNCONFIRMED, None, tries.n)
            elif kind == "alias":
                # Batch alias replies are keyed by cid and carry no request_id: the alias behind each
                # cid cannot be known (--mode batch's fast path; auto sends personalized aliases alone).
                self._line(
                    job, Status.ACCEPTED, 0, "batch alias reply does not attribute cids", None, tries.n
                )
            else:
                unclear.append(job)
        if unclear:
            self._results.commit()
            await _together(*(self._single(job, tries.n) for job in unclear))

    async def _list_taskid(self, stale: str | None = None) -> str | None:
        """The campaign's list task, created once (again only if ``stale`` was refused)."""
        async with self._taskid_lock:
            if self._taskid is not None and self._taskid != stale:
                return self._taskid
            client = self._client
            message = self._template.shared()
            try:
                self._taskid = await self._call(
                    "list_message", 0, lambda: client.create_list_message(message), _Tries()
                )
            except ApiError as exc:
                if not self._stop_for(exc):
                    self._request_stop("fatal", f"could not create the list message: {exc}")
                return None
            return self._taskid

    async def _list(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        taskid = await self._list_taskid()
        if taskid is None:
            return
        client = self._client
        tries = _Tries(prior)
        targets = [job.target for job in jobs]
        is_async = self._is_async
        send = client.push_list_cid if kind == "cid" else client.push_list_alias
        for recreated in (False, True):
            try:
                result = await self._call(
                    "list", len(jobs), partial(send, targets, taskid=taskid, is_async=is_async), tries
                )
                break
            except RejectedError as exc:
                if not recreated and "taskid" in exc.msg.lower():
                    # The stored message expired (its ttl) or was stopped: create it again, once.
                    new_taskid = await self._list_taskid(stale=taskid)
                    if new_taskid is None:
                        return
                    taskid = new_taskid
                    continue
                await self._split(kind, jobs, exc, tries.n, self._list)
                return
            except ApiError as exc:
                self._fail_all(jobs, exc, tries.n)
                return
        if is_async:
            self._accept_all(jobs, taskid, tries.n)
            return
        statuses = result.statuses
        unclear: list[Job] = []
        for job in jobs:
            status = statuses.get(job.target)
            if isinstance(status, dict):
                status = _best(status.values())
            if status is None or (result.unconfirmed and not isinstance(status, str)):
                unclear.append(job)
            else:
                self._settle(job, status, taskid, tries.n)
        if unclear:
            msg = _UNCONFIRMED if result.unconfirmed else _UNNAMED
            await self._unnamed(kind, unclear, taskid, tries.n, msg)

    async def _unnamed(
        self, kind: Kind, jobs: Sequence[Job], taskid: str, attempts: int, msg: str = _UNNAMED
    ) -> None:
        """List recipients Getui took but did not name: never re-sent (a list push has no request_id).

        ``user/detail`` tells a dead cid (``failed`` 20001) from one the reply merely left out (``msg``).
        """
        self._results.commit()  # what is known goes to the file before the look-up
        invalid = await self._invalid_cids(jobs, settling=True) if kind == "cid" else None
        dead = InvalidTargetError("target user is invalid (said by user/detail)", code=20001)
        if invalid is None and kind == "cid":
            msg += _UNKNOWN_VALIDITY
        for job in jobs:
            if invalid and job.target in invalid:
                self._failed(job, dead, attempts)
            else:
                self._line(job, Status.ACCEPTED, 0, msg, taskid, attempts)


async def _together(*sends: Awaitable[None]) -> None:
    """Run sends side by side and wait for every one of them.

    A plain ``gather`` returns at the first ``_Abandoned`` (the campaign is stopping) while a sibling may
    still be in flight; that orphan's reply would come after the results file closed, so recipients
    Getui already has would get no line, and a resume would send them again. Abandoned sends are
    expected; any other error is raised once all have finished.
    """
    outcomes = await asyncio.gather(*sends, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, _Abandoned):
            raise outcome


def _best(statuses: Iterable[Any]) -> str | None:
    """One status for an alias: the best delivery among its cids."""
    known = [str(s) for s in statuses if s in _RANK]
    if known:
        return max(known, key=_RANK.__getitem__)
    others = [s for s in statuses if isinstance(s, str)]
    return others[0] if others else None
