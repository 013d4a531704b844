"""Settling recipients: the one place the dispatcher turns a reply or an error into result lines.

- Getui's per-cid status -> ``successed_*``; no per-cid detail (async, or a repeated request_id that
  Getui drops) -> ``accepted``; a terminal API error -> ``failed`` (with Getui's code, the HTTP status
  and whether it may pass later); a daily quota or fatal error stops the campaign instead.
- A list chunk whose reply was lost -> ``failed``, not retryable, ``unconfirmed``: Getui may have
  delivered it, and a list push has no request_id for Getui to drop a repeat by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from .errors import ApiError, FatalApiError, QuotaExceededError, TransportError
from .intake import Job
from .outcome import DELIVERY_STATUSES, RETRYABLE_ACTIONS, Status, StopReason
from .pacing import Pacing
from .probe import Gate
from .results import ResultsLog
from .results.record import F_RETRYABLE, F_UNCONFIRMED

__all__ = ["UNCONFIRMED", "UNNAMED", "Settler", "best_status"]

#: Ranking used to summarize the statuses of the several cids behind one alias.
_RANK: Final = {status.value: len(DELIVERY_STATUSES) - i for i, status in enumerate(DELIVERY_STATUSES)}
_STATUS: Final = {status.value: status for status in DELIVERY_STATUSES}
UNNAMED: Final = "Getui's reply did not name this recipient"
#: A code-0 reply whose ``data`` had the wrong shape: Getui took the request but said nothing usable.
UNCONFIRMED: Final = "Getui's reply did not confirm this recipient"
_TAKEN: Final = "already taken by Getui (repeated request_id)"
#: A list chunk that went out but whose reply was lost (``{}``: what was lost).
_MAYBE_DELIVERED: Final = (
    "the list chunk may have reached Getui (reply lost: {}): not re-sent, since list pushes carry no "
    "request_id; --retry-unconfirmed sends it again and may deliver twice"
)


class Settler:
    """Writes each recipient's line (and hands deliveries to the ledger); counts repeats Getui dropped."""

    def __init__(
        self,
        results: ResultsLog,
        *,
        request_stop: Callable[[StopReason, str], None],
        pacing: Pacing | None = None,
        probe: Gate | None = None,
    ) -> None:
        self._results = results
        self._request_stop = request_stop
        # told each line until the probe's last checkpoint, then dropped (one check per line after)
        self._probe = probe
        if probe is not None:
            probe.on_done(self._probe_done)
        # settled recipients go to the ledger (their claims' fates), when the run has one
        self._recorder = pacing.recorder if pacing is not None else None
        #: Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``).
        self.already_taken = 0

    def _probe_done(self) -> None:
        self._probe = None

    def commit(self) -> None:
        """What is known goes to the OS now (before a look-up or a follow-up request)."""
        self._results.commit()

    def line(
        self,
        job: Job,
        status: Status,
        code: int | None,
        msg: str,
        taskid: str | None,
        attempts: int,
        extra: dict[str, Any] | None = None,
        exc: ApiError | None = None,
    ) -> None:
        if self._recorder is not None:
            self._recorder.settled(job.kind, job.target, status.value, code, msg, extra, exc)
        if self._probe is not None:
            self._probe.settle(status, code, msg)
        self._results.add_for(
            job, status=status, code=code, msg=msg, taskid=taskid, attempts=attempts, extra=extra
        )

    def stop_for(self, exc: ApiError) -> bool:
        """Stop the campaign for a quota or fatal error; True if ``exc`` was one."""
        if isinstance(exc, QuotaExceededError):
            self._request_stop(StopReason.QUOTA, f"{exc.msg} (code {exc.code})")
            return True
        if isinstance(exc, FatalApiError):
            if self._probe is None or not self._probe.refused(exc):  # in the probe: halted
                self._request_stop(StopReason.FATAL, str(exc))
            return True
        return False

    def failed(self, job: Job, exc: ApiError, attempts: int) -> None:
        """A failed line: Getui's code when there is one, plain words for a transport or HTTP failure."""
        retryable = exc.action in RETRYABLE_ACTIONS
        msg = _failure_text(exc)
        if retryable:
            msg = f"{msg} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
        self.line(job, Status.FAILED, exc.code, msg, None, attempts, self._results.failed_extra(exc), exc)

    def maybe_delivered(self, jobs: Sequence[Job], exc: ApiError, attempts: int) -> None:
        """A list chunk's reply was lost: ``failed`` and ``unconfirmed``, never re-sent blindly."""
        msg = _MAYBE_DELIVERED.format(exc.msg or type(exc).__name__)
        for job in jobs:
            extra = self._results.failed_extra(exc)
            extra[F_RETRYABLE] = False
            extra[F_UNCONFIRMED] = True
            self.line(job, Status.FAILED, exc.code, msg, None, attempts, extra)

    def fail_all(self, jobs: Sequence[Job], exc: ApiError, attempts: int) -> None:
        """A request failed for good: stop the campaign if that is what it means, else fail its recipients."""
        if not self.stop_for(exc):
            for job in jobs:
                self.failed(job, exc, attempts)

    def status(self, job: Job, status: Any, taskid: str | None, attempts: int) -> None:
        """The line for the status Getui named for ``job`` (``None``: the reply did not name it)."""
        self.statuses(((job, status, taskid),), attempts)

    def statuses(self, named: Iterable[tuple[Job, Any, str | None]], attempts: int) -> None:
        """The lines for the statuses one reply named, ``(job, status, taskid)`` each, in order.

        Delivery statuses are settled together (:meth:`ResultsLog.add_many`); ``None`` (not named) is
        ``accepted``, anything else ``failed``.
        """
        known: list[tuple[Job, Status, str | None]] = []
        for job, status, taskid in named:
            delivered = _STATUS.get(status) if isinstance(status, str) else None
            if delivered is not None:
                known.append((job, delivered, taskid))
                continue
            self._together(known, 0, "", attempts)
            known = []
            if status is None:
                self.line(job, Status.ACCEPTED, 0, UNNAMED, taskid, attempts)
            else:
                extra = {"http_status": None, "retryable": False}
                msg = f"unknown delivery status {status!r}"
                self.line(job, Status.FAILED, 0, msg, taskid, attempts, extra)
        self._together(known, 0, "", attempts)

    def list_reply(
        self, jobs: Sequence[Job], statuses: Mapping[str, Any], taskid: str, unconfirmed: bool, attempts: int
    ) -> list[Job]:
        """The lines of a list chunk's recipients its reply named, in one pass; returns the others, in
        order (not named, or named without a plain status by an ``unconfirmed`` reply).

        Why: a list reply names up to 1,000 cids; one loop here instead of the list task's then
        :meth:`statuses`' spares a loop, a tuple and an unpacking a recipient.
        """
        known: list[tuple[Job, Status, str | None]] = []
        unclear: list[Job] = []
        delivered_as = _STATUS.get
        for job in jobs:
            status = statuses.get(job.target)
            if isinstance(status, dict):  # an alias: the best of its cids' statuses
                status = best_status(status.values())
            if isinstance(status, str):
                delivered = delivered_as(status)
                if delivered is not None:
                    known.append((job, delivered, taskid))
                    continue
            elif status is None or unconfirmed:
                unclear.append(job)
                continue
            self._together(known, 0, "", attempts)  # the lines stay in the chunk's order
            known = []
            self.statuses(((job, status, taskid),), attempts)
        self._together(known, 0, "", attempts)
        return unclear

    def _together(
        self, rows: Sequence[tuple[Job, Status, str | None]], code: int | None, msg: str, attempts: int
    ) -> None:
        """:meth:`line` for many recipients with the same code and msg (one reply's), written together."""
        if not rows:
            return
        if self._recorder is not None or self._probe is not None:
            for job, status, _ in rows:
                if self._recorder is not None:
                    self._recorder.settled(job.kind, job.target, status.value, code, msg, None, None)
                if self._probe is not None:  # re-read: the probe's last checkpoint drops it
                    self._probe.settle(status, code, msg)
        self._results.add_many(rows, code=code, msg=msg, attempts=attempts)

    def accept_all(
        self, jobs: Sequence[Job], taskid: str | None, attempts: int, *, already_taken: bool = False
    ) -> None:
        """Getui took the request without per-recipient status: every recipient is 'accepted'."""
        if already_taken:
            self.already_taken += len(jobs)
            taskid = None
        rows = [(job, Status.ACCEPTED, taskid) for job in jobs]
        self._together(rows, 0, _TAKEN if already_taken else "accepted without per-cid status", attempts)

    def taken(self, job: Job, code: int | None, attempts: int) -> None:
        """Getui already had this request_id: sent earlier (a retry, a resume, or the same campaign)."""
        self.already_taken += 1
        self.line(job, Status.ACCEPTED, code, _TAKEN, None, attempts)


def _failure_text(exc: ApiError) -> str:
    """A failure in plain words: Getui's message, or what went wrong on the way."""
    if isinstance(exc, TransportError):
        # A reply that came but was refused (too large, a redirect) says so; no reply says that.
        if exc.http_status is not None:
            return exc.msg
        return f"no reply from Getui: {exc.msg}" if exc.msg else "no reply from Getui"
    if exc.code is None and exc.http_status is not None:
        return f"HTTP {exc.http_status} from Getui"
    return exc.msg or str(exc)


def best_status(statuses: Iterable[Any]) -> str | None:
    """One status for an alias: the best delivery among its cids."""
    texts = [s for s in statuses if isinstance(s, str)]  # a lying reply may give lists: never hashed
    known = [str(s) for s in texts if s in _RANK]
    if known:
        return max(known, key=_RANK.__getitem__)
    return texts[0] if texts else None
