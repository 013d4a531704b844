"""What the CLI shows while a run goes: a live progress line (rich, only on a terminal).

It observes engine events and reads counters; it decides nothing (the end-of-run text is
:mod:`~getui_async.summary_text`). The line is redrawn
a few times a second from plain counters, never once per record. It is laid out for the terminal's
width on every redraw: whole fields are dropped by priority (:func:`fit_fields`) instead of each field
being cut, and the bar takes whatever room is left. It is transient: every way out erases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import IO, Any, Final

from .events import CampaignStopping, RecordDone, RetryScheduled, Throttled, WaitStarted
from .outcome import Status
from .safetext import printable

__all__ = [
    "SHORT_WORDS",
    "Field",
    "ProgressBar",
    "WaitNotice",
    "fit_fields",
    "plural",
    "status_line",
]

#: Each status's short word on the progress line, in the contract's order (Getui's words trimmed).
SHORT_WORDS: Final[dict[str, str]] = {
    status.value: {
        Status.SUCCESSED_ONLINE: "online",
        Status.SUCCESSED_OFFLINE: "offline",
        Status.SUCCESSED_IGNORE: "ignored",
    }.get(status, status.value)
    for status in Status
}
#: Status counts on the line, most important first: problems before deliveries.
_STATUS_PRIORITY: Final = tuple(
    s.value
    for s in (
        Status.FAILED, Status.REJECTED, Status.SUCCESSED_ONLINE, Status.SUCCESSED_OFFLINE, Status.ACCEPTED,
        Status.VALIDATED, Status.SUCCESSED_IGNORE, Status.DUPLICATE, Status.EXCLUDED, Status.CAPPED,
        Status.HELD_OUT,
    )
)  # fmt: skip
#: The bar is shown only with at least this many cells, and never wider than ``_BAR_MAX``.
_BAR_MIN: Final = 10
_BAR_MAX: Final = 40
#: The bar's place in the dropping order (see :meth:`ProgressBar.fields`): after the failure count.
_BAR_RANK: Final = 7
#: Seconds of history behind the rate (and so the ETA).
_RATE_WINDOW_S: Final = 5.0


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 result line``, ``2 result lines`` (with thousands separators)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def status_line(counts: Counter[str]) -> str:
    """``online 120 · offline 30 · failed 1`` in a fixed order, skipping zeros."""
    return " · ".join(
        f"{short} {counts[status]:,}" for status, short in SHORT_WORDS.items() if counts[status]
    )


@dataclass(frozen=True)
class Field:
    """One piece of the progress line: ``rank`` orders dropping (0 is kept longest), ``order`` placement."""

    text: str
    rank: int
    order: int
    style: str = ""
    #: Shorter whole-word forms, longest first, tried before the field is dropped (a wait's reason).
    shorter: tuple[str, ...] = ()


def fit_fields(
    fields: Sequence[Field], width: int, *, bar_rank: int | None = None, sep: str = "  "
) -> tuple[list[Field], int]:
    """The fields that fit in ``width`` cells, in display order, and the cells for the bar (0: none).

    Fields are dropped whole, lowest priority (highest ``rank``) first; one with ``shorter`` forms
    takes them in turn before it is dropped. The bar, when it has a
    ``bar_rank``, competes like a field ``_BAR_MIN`` cells wide and then takes the room left over.
    """
    from rich.cells import cell_len  # noqa: PLC0415 - rich is imported only for a terminal

    kept = sorted(fields, key=lambda f: f.rank)
    with_bar = bar_rank is not None

    def used(chosen: Sequence[Field], bar: bool) -> int:
        cells = sum(cell_len(f.text) for f in chosen) + len(sep) * max(0, len(chosen) - 1)
        return cells + (len(sep) + _BAR_MIN if bar else 0)

    while (kept or with_bar) and used(kept, with_bar) > width:
        if with_bar and (not kept or (bar_rank or 0) >= kept[-1].rank):
            with_bar = False
        elif kept[-1].shorter:
            last = kept[-1]
            kept[-1] = replace(last, text=last.shorter[0], shorter=last.shorter[1:])
        else:
            kept.pop()
    bar = min(_BAR_MAX, width - used(kept, False) - len(sep)) if with_bar else 0
    return sorted(kept, key=lambda f: f.order), bar


def _shorter_forms(text: str) -> tuple[str, ...]:
    """Whole-word shorter forms of a wait's text: without its parenthesis, then its first clause
    (``waiting for the send window (opens 09:00 ZONE)`` -> ``waiting for the send window``)."""
    forms = []
    for cut in (" (", ", "):
        head = text.split(cut, 1)[0]
        if head != text and head not in forms:
            forms.append(head)
            text = head
    return tuple(forms)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """A one-line progress display fed by engine events; a no-op object when ``enabled`` is false.

    ``initial`` is the number of records a previous run already finished (a resume), so the line
    counts the whole campaign against ``total``. :meth:`set_wait` shows why
    nothing moves (a pause, a retry wait, a stop) in words; an event with a ``waiting`` attribute
    (text or None) does the same.
    """

    def __init__(
        self,
        *,
        total: int | None,
        enabled: bool,
        description: str = "sending",
        initial: int = 0,
        file: IO[str] | None = None,
    ) -> None:
        self.enabled = enabled
        self.counts: Counter[str] = Counter()
        self.retries = 0
        self.pauses = 0
        self.initial = initial
        self._total = total
        self._description = description
        self._file = file
        self._wait: tuple[str, float | None, bool] | None = None
        #: Set once the run stops: no ETA from then on (nothing more will be sent).
        self.stopping = False
        self._started = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque()
        self._live: Any = None
        self._saved_handlers: list[logging.Handler] = []

    # -- feeding ---------------------------------------------------------------------------------------

    def __call__(self, event: object) -> None:
        """The observer: count, never render (rendering happens on the refresh timer)."""
        if isinstance(event, RecordDone):
            self.counts[event.status] += event.count
        elif isinstance(event, RetryScheduled):
            self.retries += 1
        elif isinstance(event, Throttled):
            self.pauses += 1
            self.set_wait("paused by Getui's per-minute limit", for_s=event.pause_s)
        elif isinstance(event, CampaignStopping):
            self.stopping = True
            self.set_wait("stopping: finishing requests in flight")
        elif hasattr(event, "waiting"):
            waiting = event.waiting
            self.set_wait(waiting if isinstance(waiting, str) else None)

    def set_wait(self, text: str | None, *, for_s: float | None = None, countdown: bool = True) -> None:
        """Show ``text`` (why the run is waiting), or clear it; ``for_s`` bounds how long it shows.

        With ``countdown`` the seconds left are shown too (a pause of known length).
        """
        if text is None:
            self._wait = None
        else:  # a repeated log line may carry Getui's msg: shown, never obeyed by the terminal
            self._wait = (printable(text), None if for_s is None else time.monotonic() + for_s, countdown)

    def set_total(self, total: int | None) -> None:
        """Give the line a total once it is known (an ``.xlsx`` declares its rows when opened)."""
        if total:
            self._total = total

    @property
    def done(self) -> int:
        """Records finished in the whole campaign: earlier runs' and this one's."""
        return self.initial + sum(self.counts.values())

    # -- layout ----------------------------------------------------------------------------------------

    def fields(self, now: float | None = None) -> list[Field]:
        """The line's fields for the current counters (rank: what survives a narrow terminal)."""
        now = time.monotonic() if now is None else now
        done, total = self.done, self._total
        rate = self._rate(now, done)
        out = [Field(self._description, 0, 0, "bold")]
        if total:
            out.append(Field(f"{min(100, done * 100 // total):>3d}%", 1, 2))
            out.append(Field(f"{done:,}/{total:,}", 2, 3))
        else:
            out.append(Field(f"{done:,}", 1, 3))
        if rate > 0:
            out.append(Field(f"{rate:,.0f}/s", 3, 4))
        out.append(Field(_clock(now - self._started), 8, 5))
        if total and rate > 0 and done < total and not self.stopping:
            out.append(Field(f"eta {_clock((total - done) / rate)}", 5, 6))
        for i, status in enumerate(_STATUS_PRIORITY):
            if self.counts[status]:
                style = "red" if status in (Status.FAILED, Status.REJECTED) else ""
                out.append(Field(f"{SHORT_WORDS[status]} {self.counts[status]:,}", 6 + i * 2, 10 + i, style))
        if self.retries:
            out.append(Field(f"retries {self.retries:,}", 9, 30))
        if self._wait is not None:
            text, until, countdown = self._wait
            if until is not None:
                left = until - now
                if left <= 0:
                    self._wait = None
                    return out
                if countdown:
                    text = f"{text}, {left:.0f} s left"
            shown = text if text.startswith("waiting") else f"waiting: {text}"
            out.append(Field(shown, 4, 40, "yellow", shorter=_shorter_forms(shown)))
        return out

    def render_text(self, width: int, now: float | None = None) -> Any:
        """The line as a rich ``Text`` no wider than ``width``."""
        from rich.text import Text  # noqa: PLC0415

        chosen, bar = fit_fields(self.fields(now), width, bar_rank=_BAR_RANK)
        line = Text(no_wrap=True, overflow="crop")
        for i, item in enumerate(chosen):
            if i:
                line.append("  ")
            line.append(item.text, style=item.style)
            if i == 0 and bar:
                line.append("  ")
                line.append_text(self._bar(bar))
        return line

    def _bar(self, cells: int) -> Any:
        from rich.text import Text  # noqa: PLC0415

        if not self._total:
            return Text("━" * cells, style="bright_black")
        filled = min(cells, self.done * cells // self._total)
        return Text.assemble(("━" * filled, "magenta"), ("━" * (cells - filled), "bright_black"))

    def _rate(self, now: float, done: int) -> float:
        samples = self._samples
        if not samples or samples[-1][0] < now:
            samples.append((now, done))
        while len(samples) > 2 and now - samples[0][0] > _RATE_WINDOW_S:
            samples.popleft()
        (t0, d0), (t1, d1) = samples[0], samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    # -- showing ---------------------------------------------------------------------------------------

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        # One cell short of the edge: a line filling the last column makes some terminals wrap.
        yield self.render_text(max(1, options.max_width - 1))

    def __enter__(self) -> ProgressBar:
        if not self.enabled:
            return self
        from rich.console import Console  # noqa: PLC0415 - rich is imported only for a terminal
        from rich.live import Live  # noqa: PLC0415

        console = Console(file=self._file or sys.stderr)
        self._started = time.monotonic()
        self._live = Live(
            self, console=console, auto_refresh=False, transient=True, redirect_stdout=False,
            redirect_stderr=False,
        )  # fmt: skip
        # Log lines go above the line, formatted exactly as without a terminal.
        root = logging.getLogger()
        self._saved_handlers = list(root.handlers)
        root.handlers[:] = [_above_the_line(h, console) for h in self._saved_handlers]
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Erase the line and give logging its handlers back; safe to call twice (a second signal)."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()
            logging.getLogger().handlers[:] = self._saved_handlers

    def print(self, text: str) -> None:
        """Print a message above the line (or plainly when there is none), control characters escaped."""
        text = printable(text, multiline=True)
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self._file or sys.stderr, flush=True)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    @contextlib.asynccontextmanager
    async def running(self, interval_s: float = 0.2) -> AsyncIterator[ProgressBar]:
        """Redraw every ``interval_s`` while the block runs."""
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


class _ConsoleStream:
    """A text stream that prints through a rich console, so a log line lands above the live line."""

    def __init__(self, console: Any) -> None:
        self._console = console

    def write(self, text: str) -> int:
        self._console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        self._console.file.flush()


def _above_the_line(handler: logging.Handler, console: Any) -> logging.Handler:
    if not isinstance(handler, logging.StreamHandler) or handler.stream not in (sys.stderr, console.file):
        return handler
    replacement = logging.StreamHandler(_ConsoleStream(console))
    replacement.setLevel(handler.level)
    replacement.setFormatter(handler.formatter)
    for log_filter in handler.filters:
        replacement.addFilter(log_filter)
    return replacement


class WaitNotice:
    """With ``--quiet`` (no line, only errors), a wait for the window or the quota still says one line:
    a run that sits silent for hours looks hung."""

    #: It needs no event per result line (see :attr:`~getui_async.events.Observers.records`).
    wants_records = False

    def __init__(self, file: IO[str], prog: str = "getui-push") -> None:
        self._file = file
        self._prog = prog

    def __call__(self, event: object) -> None:
        if type(event) is WaitStarted:
            print(f"{self._prog}: {printable(event.text)}", file=self._file, flush=True)
