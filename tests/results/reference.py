"""The reference of a reply's result lines: the per-line path, :meth:`ResultsLog.add_for` row by row.

That path (a :class:`ResultLine` and its ``to_bytes`` per line) is the one ``--retry-failed`` runs, so the
reply-at-a-time encoder must write exactly what it writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from getui_async.events import Observers
from getui_async.intake import Job
from getui_async.outcome import Status
from getui_async.results import ResultsLog
from getui_async.results.record import ResultLine


class _Captured:
    """Stands in for the results writer: keeps each held line's bytes."""

    def __init__(self) -> None:
        self.data = b""

    def hold(self, result: ResultLine) -> None:
        self.data += result.to_bytes()


def reference_lines(
    rows: Sequence[tuple[Job, Status, str | None]], *, code: int | None, msg: str, attempts: int, ts: str
) -> bytes:
    """What :meth:`ResultsLog.add_for` writes for each row, one by one."""
    captured = _Captured()
    log = ResultsLog(captured, Observers(()), lambda: ts)  # type: ignore[arg-type]
    for job, status, taskid in rows:
        log.add_for(job, status=status, code=code, msg=msg, taskid=taskid, attempts=attempts)
    return captured.data
