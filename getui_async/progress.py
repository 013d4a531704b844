"""What the CLI shows: a live progress bar (rich, only on a terminal) and the end-of-run summary.

Both are observers of engine events and read counters; neither decides anything. The bar is updated
a few times a second from plain counters, never once per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator
from types import TracebackType
from typing import IO, Any, Final

from .engine import Summary
from .events import RecordDone, RetryScheduled, Throttled

__all__ = ["ProgressBar", "format_summary", "status_line"]

_SHORT: Final = {
    "successed_online": "online",
    "successed_offline": "offline",
    "successed_ignore": "ignored",
    "accepted": "accepted",
    "failed": "failed",
    "rejected": "rejected",
    "duplicate": "duplicate",
    "validated": "validated",
}


def status_line(counts: Counter[str]) -> str:
    """``online 120 · offline 30 · failed 1`` in a fixed order, skipping zeros."""
    return " · ".join(f"{short} {counts[status]:,}" for status, short in _SHORT.items() if counts[status])


class ProgressBar:
    """A rich progress bar fed by engine events; a no-op object when ``enabled`` is false."""

    def __init__(self, *, total: int | None, enabled: bool, description: str = "sending") -> None:
        self.enabled = enabled
        self.counts: Counter[str] = Counter()
        self.retries = 0
        self.pauses = 0
        self._total = total
        self._description = description
        self._progress: Any = None
        self._task: Any = None
        self._saved_handlers: list[logging.Handler] = []

    def __call__(self, event: object) -> None:
        """The observer: count, never render (rendering happens on the refresh timer)."""
        if isinstance(event, RecordDone):
            self.counts[event.status] += 1
        elif isinstance(event, RetryScheduled):
            self.retries += 1
        elif isinstance(event, Throttled):
            self.pauses += 1

    def __enter__(self) -> ProgressBar:
        if not self.enabled:
            return self
        from rich.console import Console  # noqa: PLC0415 - rich is imported only for a terminal
        from rich.logging import RichHandler  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=sys.stderr)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(self._description, total=self._total, rate="0", status="")
        # Log lines go above the bar instead of through it, while the bar shows.
        root = logging.getLogger()
        self._saved_handlers = list(root.handlers)
        root.handlers[:] = [
            _above_the_bar(handler, console, RichHandler)
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, RichHandler)
            else handler
            for handler in self._saved_handlers
        ]
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self.refresh()
            self._progress.stop()
            logging.getLogger().handlers[:] = self._saved_handlers

    def refresh(self) -> None:
        if self._progress is None:
            return
        done = sum(self.counts.values())
        task = self._progress.tasks[0]
        speed = task.speed or 0.0
        extra = f" · retries {self.retries:,}" if self.retries else ""
        extra += f" · throttle pauses {self.pauses}" if self.pauses else ""
        self._progress.update(
            self._task, completed=done, rate=f"{speed:,.0f}", status=status_line(self.counts) + extra
        )

    @contextlib.asynccontextmanager
    async def running(self, interval_s: float = 0.2) -> AsyncIterator[ProgressBar]:
        """Refresh the bar every ``interval_s`` while the block runs."""
        with self:
            if not self.enabled:
                yield self
                return

            async def tick() -> None:
                while True:
                    await asyncio.sleep(interval_s)
                    self.refresh()

            ticker = asyncio.create_task(tick())
            try:
                yield self
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker


def _above_the_bar(handler: logging.Handler, console: Any, rich_handler: Any) -> logging.Handler:
    replacement: logging.Handler = rich_handler(console=console, show_path=False, show_time=False)
    replacement.setLevel(handler.level)
    return replacement


def format_summary(summary: Summary, *, out: IO[str] | None = None) -> str:
    """The end-of-run report (what the CLI prints to stderr)."""
    what = "dry run" if summary.dry_run else "campaign"
    lines = []
    if summary.stopped:
        lines.append(
            f"getui-push: {what} {summary.campaign_id} STOPPED ({summary.stopped}): {summary.stop_detail}"
        )
    else:
        lines.append(f"getui-push: {what} {summary.campaign_id} finished")
    lines.append(
        f"  {summary.done:,} result lines in {summary.elapsed_s:.2f} s "
        f"({summary.recipients_per_s:,.0f} recipients/s); {summary.records:,} records read"
        + (f", {summary.skipped:,} already done" if summary.skipped else "")
    )
    width = max((len(s) for s in summary.counts), default=0)
    lines.extend(
        f"    {status:<{width}}  {summary.counts[status]:>10,}" for status in _SHORT if summary.counts[status]
    )
    if not summary.dry_run:
        lines.append(
            f"  requests {summary.requests:,} · retries {summary.retries:,} · "
            f"token refreshes {summary.token_refreshes} · throttle pauses {summary.throttle_pauses}"
        )
    if summary.already_taken:
        lines.append(
            f"  note: Getui already had the request_id of {summary.already_taken:,} recipients (a retry "
            f"whose first reply was lost, or an earlier run of campaign {summary.campaign_id}); if this "
            "message was meant to reach them again, send it with a new --campaign"
        )
    if summary.results_path:
        lines.append(f"  results: {summary.results_path}")
    if summary.stopped == "input":
        lines.append("  the input cannot be read past that point: the records after it were not sent")
    elif summary.stopped:
        lines.append("  the results are consistent: run the same command with --resume to send the rest")
    text = "\n".join(lines)
    if out is not None:
        print(text, file=out)
    return text
