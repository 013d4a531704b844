"""The campaign engine: every input record ends as exactly one result line.

::

    source ─► producer ─► bounded queue ─► workers (throttle + retry around GetuiClient) ─► results
              (resume filter, render, dedupe, planner)

The producer reads records in chunks (off the event loop), skips those a previous run finished, renders
each message, holds back duplicates, and groups recipients into requests. ``concurrency`` workers send
them. Outcomes are decided here and written by :class:`~getui_async.results.ResultsWriter`:

- Getui's per-cid status -> ``successed_*``; no per-cid detail (async, or a repeated request_id that
  Getui drops) -> ``accepted``; a terminal API error -> ``failed``; a bad record -> ``rejected``; a
  recipient seen earlier in the input -> ``duplicate``.
- A batch refused as a whole (``20001``) is split in halves until the bad item stands alone, so the good
  items still go. A recipient missing from a synchronous reply is re-sent alone, with the same
  request_id, to learn its fate; it is never assumed delivered or failed.
- A daily quota, a fatal error (credentials, base URL) or :meth:`Campaign.request_stop` stops intake;
  requests in flight finish (within ``drain_timeout_s``); unsent records get no line, so ``--resume``
  sends exactly them. Deterministic request_ids make a re-sent request a no-op at Getui.

The engine prints nothing: progress goes to observers as :mod:`~getui_async.events`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

from .client import STATUSES, GetuiClient
from .config import CampaignSettings, Mode, Settings
from .dedupe import DuplicateFilter
from .errors import (
    ApiError,
    DuplicateRequestError,
    FatalApiError,
    InputError,
    InvalidTargetError,
    MessageError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    TransportError,
)
from .events import BatchSent, CampaignStopping, Observer, Observers, RecordDone, RetryScheduled
from .messages import MessageTemplate, Rendered, derive_campaign_id, derive_notify_id, recipient_ids
from .planner import Endpoint, Plan, Planner
from .results import ResultsWriter, ResumeState, RunMeta, load_resume_state
from .retry import call_with_retry
from .sources import BadRecord, Record, RecordSource, SourceItem, open_source
from .throttle import Throttle
from .transport import Transport

__all__ = ["Campaign", "Summary", "run_campaign"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Kind = Literal["cid", "alias"]

#: Records read per hop to the reader thread.
READ_CHUNK: Final = 1024
#: Recipients waiting in the queue for a worker, at most (about; a request is never split for it).
QUEUED_RECIPIENTS: Final = 4096
#: Ranking used to summarize the statuses of the several cids behind one alias.
_RANK: Final = {"successed_online": 3, "successed_offline": 2, "successed_ignore": 1}


class Job(NamedTuple):
    """One recipient on its way: a push (target, request_id, message) plus where it came from.

    A tuple, not a dataclass: one is made per recipient, and a frozen dataclass costs ~3x to build.
    """

    target: str
    request_id: str
    message: Rendered
    kind: Kind
    line: int
    record: int


_PERSONAL_IN_LIST: Final = "personalized content cannot be sent with --mode list (use auto or batch)"


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


@dataclass
class Summary:
    """What a run did; ``exit_code`` is the CLI contract's (0 ok, 1 some failed/rejected, 3 stopped)."""

    campaign_id: str
    results_path: str | None
    counts: Counter[str] = field(default_factory=Counter)
    previous: Counter[str] = field(default_factory=Counter)
    records: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    requests: int = 0
    retries: int = 0
    token_refreshes: int = 0
    throttle_pauses: int = 0
    #: Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``).
    already_taken: int = 0
    stopped: str | None = None
    stop_detail: str = ""
    dry_run: bool = False

    @property
    def done(self) -> int:
        """Result lines written by this run."""
        return sum(self.counts.values())

    @property
    def recipients_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return 3
        total = self.counts + self.previous
        return 1 if total["failed"] or total["rejected"] else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "results": self.results_path,
            "counts": dict(self.counts),
            "previous_counts": dict(self.previous),
            "records": self.records,
            "skipped_already_done": self.skipped,
            "lines_written": self.done,
            "elapsed_s": round(self.elapsed_s, 3),
            "recipients_per_s": round(self.recipients_per_s, 1),
            "requests": self.requests,
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "throttle_pauses": self.throttle_pauses,
            "already_taken": self.already_taken,
            "stopped": self.stopped,
            "stop_detail": self.stop_detail,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
        }


def _timestamp() -> Callable[[], str]:
    """An ISO-8601 UTC clock with ms; formats once per millisecond (a batch reply settles 200 at once)."""
    sec_seen = ms_seen = -1
    sec_text = ms_text = ""

    def now() -> str:
        nonlocal sec_seen, sec_text, ms_seen, ms_text
        ms = time.time_ns() // 1_000_000
        if ms != ms_seen:
            sec = ms // 1000
            if sec != sec_seen:
                sec_seen, sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            ms_seen, ms_text = ms, f"{sec_text}.{ms % 1000:03d}Z"
        return ms_text

    return now


def _expected_records(fingerprint: dict[str, Any], name: str) -> int:
    """A generous guess at the record count, to size the duplicate filter (it grows if wrong)."""
    size = fingerprint.get("size")
    if not isinstance(size, int):
        return 1_000_000
    return max(100_000, size * (4 if name.endswith(".gz") else 1) // 32)


class Campaign:
    """One run of one message over one recipients source. Use :func:`run_campaign` for the common case."""

    def __init__(
        self,
        source: RecordSource,
        template: MessageTemplate,
        settings: Settings | None,
        options: CampaignSettings,
        *,
        out: Path | None,
        resume: bool = False,
        observers: Iterable[Observer] = (),
        transport: Transport | None = None,
    ) -> None:
        if settings is None and not options.dry_run:
            raise ValueError("settings are required unless dry_run is set")
        self._source = source
        self._options = options
        self._settings = settings
        self._out = out
        self._resume = resume
        self._transport = transport
        self._observers = Observers(observers)
        self.campaign_id = options.campaign_id or derive_campaign_id(template)
        self._fingerprint = template.fingerprint
        self._template = template.with_notify_id(derive_notify_id(self.campaign_id), self.campaign_id)
        self._planner: Planner[Job] = Planner(
            options.mode, batch_size=options.batch_size, list_chunk=options.list_chunk
        )
        self.summary = Summary(self.campaign_id, str(out) if out else None, dry_run=options.dry_run)
        self._ts = _timestamp()
        self._stop_event = asyncio.Event()
        self._stopping = False
        self._writer: ResultsWriter | None = None
        self._client: GetuiClient | None = None
        self._throttle: Throttle | None = None
        self._taskid: str | None = None
        self._first_chunk: list[SourceItem] = []
        self._taskid_lock = asyncio.Lock()

    # -- public control ----------------------------------------------------------------------------

    def request_stop(self, reason: str = "signal", detail: str = "") -> None:
        """Stop taking new work; requests in flight may finish within ``drain_timeout_s``."""
        if self._stopping:
            return
        self._stopping = True
        self.summary.stopped = reason
        self.summary.stop_detail = detail
        self._stop_event.set()
        self._observers.emit(CampaignStopping(reason, detail))
        log.warning("stopping the campaign (%s)%s", reason, f": {detail}" if detail else "")

    def flush_now(self) -> None:
        """Write every buffered result line now (for an immediate exit on a second signal)."""
        if self._writer is not None:
            self._writer.flush(fsync=True)

    async def run(self) -> Summary:
        """Send the campaign; returns the summary. Raises only before anything was written or sent."""
        started = time.monotonic()
        resume_state = load_resume_state(self._out) if (self._out and self._resume) else ResumeState()
        self.summary.previous = Counter(resume_state.counts)
        input_fingerprint = await asyncio.to_thread(self._source.fingerprint)  # stdin may block
        # Read the first chunk before anything is written: an empty file or a bad header is an input
        # error (exit 2, no results file left behind), not a stopped run to resume.
        self._first_chunk = await asyncio.to_thread(self._source.read_chunk, READ_CHUNK)
        meta = RunMeta(self.campaign_id, self._fingerprint, input_fingerprint)
        if self._out is not None:
            self._writer = ResultsWriter.open(self._out, meta, resume=self._resume)
        expected = _expected_records(input_fingerprint, self._source.name)
        dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=expected)
        try:
            if self._options.dry_run:
                await self._produce(resume_state, dedupe, None)
            else:
                await self._send(resume_state, dedupe)
        finally:
            dedupe.close()
            if self._writer is not None:
                self._writer.close()
            self.summary.elapsed_s = time.monotonic() - started
        return self.summary

    # -- orchestration ---------------------------------------------------------------------------------

    async def _send(self, resume_state: ResumeState, dedupe: DuplicateFilter[Job]) -> None:
        assert self._settings is not None
        opts = self._options
        settings = replace(
            self._settings, connector_limit=max(self._settings.connector_limit, opts.concurrency)
        )
        async with GetuiClient(settings, transport=self._transport, observers=self._observers) as client:
            self._client = client
            # Pre-flight: bad credentials or an unreachable host fail here, before any line is written.
            await call_with_retry(
                client.tokens.get,
                settings.retry,
                window_s=settings.throttle_window_s,
                on_retry=_log_preflight,
            )
            self._throttle = Throttle(
                concurrency=opts.concurrency,
                rate_per_s=opts.rate_per_s,
                window_s=settings.throttle_window_s,
                observers=self._observers,
            )
            # Bounded in recipients, not requests: enough to keep the workers fed, and no more, since
            # every queued recipient holds its rendered message (requests in flight hold the rest).
            largest = 1 if opts.mode is Mode.SINGLE else max(opts.batch_size, opts.list_chunk)
            queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue(
                maxsize=max(2, QUEUED_RECIPIENTS // largest)
            )
            workers = [asyncio.create_task(self._worker(queue)) for _ in range(opts.concurrency)]
            producer = asyncio.create_task(self._produce(resume_state, dedupe, queue))
            checkpoints = asyncio.create_task(self._checkpoints())
            tasks = (producer, checkpoints, *workers)
            try:
                await self._wait(asyncio.gather(*workers))
                if producer.done():
                    producer.result()  # a reader bug must surface, not pass as a short run
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.summary.token_refreshes = client.tokens.auth_calls
                self.summary.throttle_pauses = self._throttle.pauses

    async def _wait(self, workers: asyncio.Future[list[None]]) -> None:
        """Wait for the workers; once a stop is requested, at most ``drain_timeout_s`` more."""
        stop = asyncio.ensure_future(self._stop_event.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {workers, stop}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not workers.done():
                await asyncio.wait({workers}, timeout=self._options.drain_timeout_s)
                if not workers.done():
                    log.warning("requests still in flight after the drain timeout were abandoned")
                    return
            workers.result()  # a worker bug must surface
        finally:
            stop.cancel()

    async def _checkpoints(self) -> None:
        interval = self._options.checkpoint_interval_s
        while True:
            await asyncio.sleep(interval)
            if self._writer is not None:
                self._writer.flush(fsync=True)

    # -- producer ------------------------------------------------------------------------------------------

    async def _produce(
        self,
        resume_state: ResumeState,
        dedupe: DuplicateFilter[Job],
        queue: asyncio.Queue[Plan[Job] | None] | None,
    ) -> None:
        """Read, classify and plan every record; then tell the workers there is no more."""
        ready: list[Plan[Job]] = []
        record = 0
        try:
            while not self._stopping:
                try:
                    items, self._first_chunk = self._first_chunk, []
                    if not items:
                        items = await asyncio.to_thread(self._source.read_chunk, READ_CHUNK)
                except InputError as exc:
                    self.request_stop("input", str(exc))
                    break
                if not items:
                    break
                self._classify(record + 1, items, resume_state, dedupe, ready)
                record += len(items)
                await self._hand_over(ready, queue)
            if not self._stopping:
                for job, duplicate in dedupe.flush():
                    self._decided(job, duplicate, ready)
                ready.extend(self._planner.flush())
                await self._hand_over(ready, queue)
            else:
                # Settle what the filter held back: a duplicate gets its line now; the rest stays unsent
                # (no line), so a resume finds few holes far behind the last line.
                for job, duplicate in dedupe.flush():
                    if duplicate:
                        self._decided(job, True, ready)
        finally:
            self.summary.records = record
            if queue is not None:
                for _ in range(self._options.concurrency):
                    await queue.put(None)

    async def _hand_over(self, ready: list[Plan[Job]], queue: asyncio.Queue[Plan[Job] | None] | None) -> None:
        if queue is not None:
            for plan in ready:
                await queue.put(plan)
        ready.clear()

    def _classify(
        self,
        first: int,
        items: list[SourceItem],
        resume_state: ResumeState,
        dedupe: DuplicateFilter[Job],
        ready: list[Plan[Job]],
    ) -> None:
        """Decide what happens to each record of a chunk (numbered from ``first``).

        Decisions are the same on a resumed run (same input): a record already done is rendered and
        registered with the duplicate filter exactly as the first run did, then skipped. This loop runs
        once per recipient, so it keeps its lookups in locals.
        """
        render, endpoint_for = self._template.render, self._planner.endpoint_for
        campaign, done, add = self.campaign_id, resume_state.done, dedupe.add
        decide, ids = self._decided, recipient_ids
        for record, item in enumerate(items, first):
            if type(item) is BadRecord:
                if done(record):
                    self.summary.skipped += 1
                else:
                    self._reject(record, item.line, item.kind, item.target, item.field, item.reason)
                continue
            assert type(item) is Record
            try:
                rendered = render(item.variables, item.overrides or None)
            except MessageError as exc:
                self._refuse(record, item, done(record), exc.field, exc.reason)
                continue
            if endpoint_for(rendered.shared) is None:
                self._refuse(record, item, done(record), None, _PERSONAL_IN_LIST)
                continue
            request_id, fingerprint = ids(campaign, item.kind, item.target)
            if done(record):
                dedupe.register(fingerprint)
                self.summary.skipped += 1
                continue
            for job, duplicate in add(
                fingerprint, Job(item.target, request_id, rendered, item.kind, item.line, record)
            ):
                decide(job, duplicate, ready)

    def _refuse(self, record: int, item: Record, done: bool, field_name: str | None, reason: str) -> None:
        if done:
            self.summary.skipped += 1
        else:
            self._reject(record, item.line, item.kind, item.target, field_name, reason)

    def _decided(self, job: Job, duplicate: bool, ready: list[Plan[Job]]) -> None:
        if duplicate:
            self._write(job, "duplicate", None, "the same recipient appears earlier in the input", None, 0)
        elif self._options.dry_run:
            self._write(job, "validated", None, "", None, 0)
        else:
            endpoint = self._planner.endpoint_for(job.message.shared)
            assert endpoint is not None
            plan = self._planner.add(job, job.kind, endpoint)
            if plan is not None:
                ready.append(plan)

    # -- results -----------------------------------------------------------------------------------------

    def _write(
        self, job: Job, status: str, code: int | None, msg: str, taskid: str | None, attempts: int
    ) -> None:
        self._emit_line(
            {
                "line": job.line,
                "record": job.record,
                job.kind: job.target,
                "request_id": job.request_id,
                "status": status,
                "code": code,
                "msg": msg,
                "taskid": taskid,
                "attempts": attempts,
                "ts": self._ts(),
            },
            status,
            job.line,
        )

    def _reject(
        self,
        record: int,
        line: int,
        kind: Kind | None,
        target: str | None,
        field_name: str | None,
        reason: str,
    ) -> None:
        msg = f"field '{field_name}': {reason}" if field_name else reason
        self._emit_line(
            {
                "line": line,
                "record": record,
                (kind or "cid"): target,
                "request_id": None,
                "status": "rejected",
                "code": None,
                "msg": msg,
                "field": field_name,
                "taskid": None,
                "attempts": 0,
                "ts": self._ts(),
            },
            "rejected",
            line,
        )

    def _to_file(self) -> None:
        """Hand the lines of a batch or list reply to the OS now (a write, no fsync).

        Such a reply settles up to hundreds of recipients at once. Left in the buffer until the next
        checkpoint, a SIGKILL would drop their lines and a resume would send them again: dropped by
        Getui as repeated request_ids at best, delivered twice for list pushes, which have none. With
        this, a kill loses only replies still in flight. One write per request costs next to nothing.
        """
        if self._writer is not None:
            self._writer.flush()

    def _emit_line(self, result: dict[str, Any], status: str, line: int) -> None:
        if self._writer is not None:
            self._writer.write(result)
        self.summary.counts[status] += 1
        if self._observers:
            self._observers.emit(RecordDone(status, line))

    # -- workers -------------------------------------------------------------------------------------------

    async def _worker(self, queue: asyncio.Queue[Plan[Job] | None]) -> None:
        while True:
            plan = await queue.get()
            if plan is None:
                return
            if self._stopping:
                continue  # not sent: no line, so a resume sends it
            try:
                if plan.endpoint is Endpoint.SINGLE:
                    await self._single(plan.items[0])
                elif plan.endpoint is Endpoint.BATCH:
                    await self._batch(plan.kind, plan.items)
                else:
                    await self._list(plan.kind, plan.items)
            except _Abandoned:
                pass  # stopping: what was not settled gets no line

    async def _call(self, label: str, recipients: int, fn: Callable[[], Awaitable[T]], tries: _Tries) -> T:
        """One logical request: throttle gate per attempt, retries per policy, events and counters."""
        throttle, summary = self._throttle, self.summary
        assert throttle is not None
        observers = self._observers

        async def attempt() -> T:
            # After a stop nothing new goes out; only a request whose reply was lost is followed up,
            # so a recipient Getui may already have gets its line now rather than at the resume.
            if self._stopping and not tries.unsure:
                raise _Abandoned
            async with throttle:
                if self._stopping and not tries.unsure:  # stopped while this waited at the gate
                    raise _Abandoned
                tries.n += 1
                summary.requests += 1
                started = time.monotonic()
                try:
                    result = await fn()
                except TransportError:
                    tries.unsure = True
                    raise
                except RateLimitedError as exc:
                    throttle.rate_limited(exc.code)
                    raise
                except ApiError:
                    if observers:
                        observers.emit(BatchSent(label, recipients, time.monotonic() - started, False))
                    raise
            if observers:
                observers.emit(BatchSent(label, recipients, time.monotonic() - started, True))
            return result

        def on_retry(state: Any) -> None:
            summary.retries += 1
            if observers:
                exc = state.outcome.exception() if state.outcome else None
                observers.emit(RetryScheduled(label, state.attempt_number, repr(exc), state.upcoming_sleep))

        assert self._settings is not None
        return await call_with_retry(attempt, self._settings.retry, window_s=None, on_retry=on_retry)

    def _stop_for(self, exc: ApiError) -> bool:
        """Stop the campaign for a quota or fatal error; True if ``exc`` was one."""
        if isinstance(exc, QuotaExceededError):
            self.request_stop("quota", f"{exc.msg} (code {exc.code})")
            return True
        if isinstance(exc, FatalApiError):
            self.request_stop("fatal", str(exc))
            return True
        return False

    def _failed(self, job: Job, exc: ApiError, attempts: int) -> None:
        msg = exc.msg or str(exc)
        if exc.action.value in ("retry", "refresh_token", "switch_host", "wait_window"):
            msg = f"{msg} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
        self._write(job, "failed", exc.code, msg, None, attempts)

    async def _single(self, job: Job, prior: int = 0) -> None:
        client = self._client
        assert client is not None
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
        if not statuses:
            self._accept_all((job,), result.taskid, tries.n, already_taken=not self._options.is_async)
            return
        status = statuses.get(job.target) if job.kind == "cid" else _best(statuses.values())
        self._settle(job, status, result.taskid, tries.n)

    def _settle(self, job: Job, status: Any, taskid: str | None, attempts: int) -> None:
        if status in STATUSES:
            self._write(job, status, 0, "", taskid, attempts)
        elif status is None:
            self._write(job, "accepted", 0, "Getui's reply did not name this recipient", taskid, attempts)
        else:
            self._write(job, "failed", 0, f"unknown delivery status {status!r}", taskid, attempts)

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
                self._to_file()
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

    async def _invalid_cids(self, jobs: Sequence[Job]) -> frozenset[str]:
        """The cids of ``jobs`` Getui calls invalid (``user/detail``); empty if that cannot be learned."""
        client = self._client
        assert client is not None
        cids = [job.target for job in jobs]
        try:
            check = await self._call("user_detail", 0, lambda: client.user_detail(cids), _Tries())
        except ApiError as exc:
            log.debug("user/detail did not help find the invalid cid: %s", exc)
            return frozenset()
        return frozenset(check.invalid) & frozenset(cids)

    async def _batch(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        client = self._client
        assert client is not None
        tries = _Tries(prior)
        send = client.push_batch_cid if kind == "cid" else client.push_batch_alias
        is_async = self._options.is_async
        try:
            result = await self._call("batch", len(jobs), lambda: send(jobs, is_async=is_async), tries)
        except RejectedError as exc:
            await self._split(kind, jobs, exc, tries.n, self._batch)
            return
        except ApiError as exc:
            self._fail_all(jobs, exc, tries.n)
            return
        if is_async or not result.tasks:
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
            elif kind == "alias":
                # Batch alias replies are keyed by cid and carry no request_id: the alias behind each
                # cid cannot be known, so say what is known (UNCERTAIN in the API facts, §4).
                self._write(job, "accepted", 0, "batch alias reply does not attribute cids", None, tries.n)
            else:
                unclear.append(job)
        self._to_file()
        await self._resend_alone(unclear, tries.n)

    async def _list_taskid(self, stale: str | None = None) -> str | None:
        """The campaign's list task, created once (again only if ``stale`` was refused)."""
        async with self._taskid_lock:
            if self._taskid is not None and self._taskid != stale:
                return self._taskid
            client = self._client
            assert client is not None
            message = self._template.shared()
            try:
                self._taskid = await self._call(
                    "list_message", 0, lambda: client.create_list_message(message), _Tries()
                )
            except ApiError as exc:
                if not self._stop_for(exc):
                    self.request_stop("fatal", f"could not create the list message: {exc}")
                return None
            return self._taskid

    async def _list(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        taskid = await self._list_taskid()
        if taskid is None:
            return
        client = self._client
        assert client is not None
        tries = _Tries(prior)
        targets = [job.target for job in jobs]
        is_async = self._options.is_async
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
            if status is None:
                unclear.append(job)
            else:
                self._settle(job, status, taskid, tries.n)
        self._to_file()
        # List pushes carry no request_id: a recipient resent alone goes with its own request_id, and
        # the campaign's notify_id makes a repeat replace rather than stack on the device.
        await self._resend_alone(unclear, tries.n)

    def _fail_all(self, jobs: Sequence[Job], exc: ApiError, attempts: int) -> None:
        """A request failed for good: stop the campaign if that is what it means, else fail its recipients."""
        if not self._stop_for(exc):
            for job in jobs:
                self._failed(job, exc, attempts)

    def _accept_all(
        self, jobs: Sequence[Job], taskid: str | None, attempts: int, *, already_taken: bool = False
    ) -> None:
        """Getui took the request without per-recipient status: every recipient is 'accepted'."""
        for job in jobs:
            if already_taken:
                self._taken(job, 0, attempts)
            else:
                self._write(job, "accepted", 0, "accepted without per-cid status", taskid, attempts)
        self._to_file()

    def _taken(self, job: Job, code: int | None, attempts: int) -> None:
        """Getui already had this request_id: sent earlier (a retry, a resume, or the same campaign)."""
        self.summary.already_taken += 1
        self._write(job, "accepted", code, "already taken by Getui (repeated request_id)", None, attempts)

    async def _resend_alone(self, jobs: Sequence[Job], attempts: int) -> None:
        """Recipients a reply did not mention: each goes alone, same request_id, to learn its fate."""
        if jobs:
            await _together(*(self._single(job, attempts) for job in jobs))


def _log_preflight(state: Any) -> None:
    """Tell the user why nothing is happening yet: the first /auth keeps failing."""
    exc = state.outcome.exception() if state.outcome else None
    log.warning("cannot get a Getui token yet (%s); retrying in %.1f s", exc, state.upcoming_sleep)


async def _together(*sends: Awaitable[None]) -> None:
    """Run sends side by side and wait for every one of them.

    A plain ``gather`` returns at the first ``_Abandoned`` (the campaign is stopping) while a sibling may
    still be in flight; that orphan's reply would come after the results file closed, so recipients
    Getui already has would get no line, and a resume would send them again (twice, for list pushes).
    Abandoned sends are expected; any other error is raised once all have finished.
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


async def run_campaign(
    source: RecordSource | str | os.PathLike[str],
    template: MessageTemplate,
    settings: Settings | None,
    options: CampaignSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    observers: Iterable[Observer] = (),
    transport: Transport | None = None,
) -> Summary:
    """Push ``template`` to every recipient in ``source``; one line per record in ``out``.

    ``source`` is a :class:`~getui_async.sources.RecordSource` or a path (CSV/JSONL, optionally .gz).
    Returns the :class:`Summary`; ``summary.exit_code`` follows the CLI contract.
    """
    opened = source if isinstance(source, RecordSource) else open_source(source)
    try:
        campaign = Campaign(
            opened,
            template,
            settings,
            options or CampaignSettings(),
            out=Path(out) if out is not None else None,
            resume=resume,
            observers=observers,
            transport=transport,
        )
        return await campaign.run()
    finally:
        if opened is not source:
            opened.close()
