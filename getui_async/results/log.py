"""The results log: where every outcome goes. It builds the line, counts it, writes it, tells observers.

It does not decide outcomes: the engine tells it what became of each record.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from getui_async.errors import ApiError
from getui_async.events import Observers, RecordDone
from getui_async.outcome import RETRYABLE_ACTIONS, Kind, Status

from .record import F_HTTP_STATUS, F_RETRYABLE, F_SUPERSEDES, F_VARIANT, Recipient, ResultLine, encode_lines
from .sidecar import ResultsWriteError
from .writer import ResultsWriter

__all__ = ["ResultsLog"]

log = logging.getLogger(__name__)


def _nothing_superseded(record: int) -> str | None:
    return None


class ResultsLog:
    """Where every outcome goes: builds the line, counts it, writes it, tells observers.

    The one owner of the per-status counts. A write error never reaches the caller: the first one is
    handed to ``on_error`` (the campaign frees its disk reserve and stops intake); lines stay buffered
    in memory, every later commit retries, and :meth:`close` tries once more before reporting it.
    """

    def __init__(
        self,
        writer: ResultsWriter | None,
        observers: Observers,
        clock: Callable[[], str],
        *,
        prior: int = 0,
        on_error: Callable[[ResultsWriteError], None] = lambda exc: None,
    ) -> None:
        self._writer = writer
        self._observers = observers
        self._ts = clock
        self._prior = prior
        self._on_error = on_error
        self._supersedes: Callable[[int], str | None] = _nothing_superseded
        self.counts: Counter[str] = Counter()
        #: Earlier statuses this run's lines replaced (``--retry-failed``), by status.
        self.superseded: Counter[str] = Counter()
        self.error: ResultsWriteError | None = None

    def attach(
        self,
        writer: ResultsWriter,
        *,
        prior: int = 0,
        supersedes: Callable[[int], str | None] | None = None,
    ) -> None:
        """Start writing to ``writer`` (opened once the input's first records were read).

        ``supersedes(record)`` names the earlier status a line for ``record`` replaces (see
        :meth:`ResumeState.supersedes`); such a line carries it as ``supersedes``.
        """
        self._writer = writer
        self._prior = prior
        if supersedes is not None:
            self._supersedes = supersedes

    @property
    def path(self) -> Path | None:
        return self._writer.path if self._writer is not None else None

    def add_for(
        self,
        job: Recipient,
        *,
        status: Status,
        msg: str,
        code: int | None = None,
        taskid: str | None = None,
        attempts: int = 0,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`add` for a recipient the engine holds: its identity comes from ``job``."""
        self.add(
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
            variant=job.variant,
        )

    def add(
        self,
        *,
        line: int,
        record: int,
        kind: Kind,
        target: str | None,
        request_id: str | None,
        status: Status,
        code: int | None,
        msg: str,
        taskid: str | None,
        attempts: int,
        extra: Mapping[str, Any] | None = None,
        variant: str | None = None,
    ) -> None:
        """One record's final line (written at the next :meth:`commit`); ``variant`` only when set."""
        value = status.value
        writer = self._writer
        if writer is not None:
            if variant is not None:
                extra = {F_VARIANT: variant, **(extra or {})}
            earlier = self._supersedes(record)
            if earlier is not None:
                extra = {**(extra or {}), F_SUPERSEDES: earlier}
                self.superseded[earlier] += 1
            result = ResultLine(
                line=line,
                record=record,
                kind=kind,
                target=target,
                request_id=request_id,
                status=status,
                code=code,
                msg=msg,
                taskid=taskid,
                attempts=attempts,
                ts=self._ts(),
                extra=extra or {},
            )
            writer.hold(result)  # reaches the OS at the next commit (after each request)
        self.counts[value] += 1
        if self._observers.records:
            self._observers.emit(RecordDone(value, line, self._prior))

    def add_many(
        self,
        rows: Sequence[tuple[Recipient, Status, str | None]],
        *,
        code: int | None,
        msg: str,
        attempts: int,
    ) -> None:
        """The lines of ``(recipient, status, taskid)`` rows one reply settled, with the same code and msg.

        One timestamp, one encode call and one count per status for the whole reply (see
        :func:`encode_lines`); a ``--retry-failed`` run, whose lines may name what they supersede, goes
        line by line through :meth:`add_for`.
        """
        if not rows:
            return
        writer = self._writer
        if writer is not None and self._supersedes is not _nothing_superseded:
            for job, status, taskid in rows:
                self.add_for(job, status=status, code=code, msg=msg, taskid=taskid, attempts=attempts)
            return
        if writer is not None:
            lines, runs = encode_lines(rows, code=code, msg=msg, attempts=attempts, ts=self._ts())
            writer.hold_lines(lines, len(rows))
        else:
            runs = [(status, 1) for _, status, _ in rows]
        counts = self.counts
        if len(runs) == 1:
            status, count = runs[0]
            counts[status.value] += count
            if self._observers.records:
                self._observers.emit(RecordDone(status.value, rows[-1][0].line, self._prior, count))
            return
        by_status: Counter[str] = Counter()
        for status, count in runs:
            by_status[status.value] += count
        counts.update(by_status)
        if self._observers.records:
            for value, count in by_status.items():
                self._observers.emit(RecordDone(value, rows[-1][0].line, self._prior, count))

    def failed_extra(self, exc: ApiError) -> dict[str, Any]:
        """The fields a failed line adds: its HTTP status and whether it may pass later."""
        return {F_HTTP_STATUS: exc.http_status, F_RETRYABLE: exc.action in RETRYABLE_ACTIONS}

    def commit(self, *, fsync: bool = False) -> None:
        """Hand the lines so far to the OS now (after each request; with fsync at checkpoints)."""
        if self._writer is None:
            return
        try:
            self._writer.flush(fsync=fsync)  # after a failure, each commit is a retry
        except ResultsWriteError as exc:
            self._failed(exc)

    def _failed(self, exc: ResultsWriteError) -> None:
        if self.error is None:
            self.error = exc
            log.error("%s", exc)
            self._on_error(exc)

    def flush_quietly(self) -> None:
        """Write what can be written, never raising (for an immediate exit on a second signal)."""
        if self._writer is not None:
            try:
                self._writer.flush(fsync=True)
            except ResultsWriteError as exc:
                log.error("%s; %d result lines were not written", exc, self._writer.buffered)

    def close(self) -> ResultsWriteError | None:
        """Retry what a failed write left, fsync, close; the error that remains, if any."""
        writer = self._writer
        if writer is None:
            return None
        try:
            writer.close()
        except ResultsWriteError as exc:
            self.error = exc
            log.error("%s; %d result lines were not written", exc, writer.buffered)
            return exc
        if self.error is not None:
            log.warning("%s took the held result lines on a retry; the run still stops", writer.path)
        return self.error
