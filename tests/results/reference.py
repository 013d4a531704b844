"""The reference of a reply's result lines: :meth:`ResultLine.to_bytes` for each row, one by one."""

from __future__ import annotations

from collections.abc import Sequence

from getui_async.intake import Job
from getui_async.outcome import Status
from getui_async.results.record import F_VARIANT, ResultLine


def reference_lines(
    rows: Sequence[tuple[Job, Status, str | None]], *, code: int | None, msg: str, attempts: int, ts: str
) -> bytes:
    """What :meth:`ResultLine.to_bytes` writes for each row, one by one: the reference of a reply's lines."""
    return b"".join(
        ResultLine(
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
            ts=ts,
            extra={F_VARIANT: job.variant} if job.variant is not None else {},
        ).to_bytes()
        for job, status, taskid in rows
    )
