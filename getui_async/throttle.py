"""One gate in front of every request: in-flight limit, request rate, and a shared pause.

Three separate limits, each with its own tool: an ``asyncio.Semaphore`` bounds requests in flight, an
``aiolimiter.AsyncLimiter`` bounds requests per second, and the aiohttp connector bounds sockets (set by
the engine to at least the concurrency). When Getui answers with a per-minute limit (``10005``,
``30012``-``30015``, ``30018``), one worker reports it and *every* worker pauses until the next window
starts, instead of N workers each retrying into the same wall. After the pause, the rate drops
multiplicatively and then climbs back additively (AIMD), so a steady provider limit is approached from
below rather than hit every minute.

A :class:`WindowGate` (optional, ``Throttle(gate=...)``) adds the campaign's time rules: requests start
only inside the send window, and a daily-quota reply can hold everyone until the quota resets. Both waits
are one shared wait, never one per worker; requests already in flight finish; :meth:`WindowGate.stop`
ends a wait at once; a wait that would end after ``--deadline`` is a stop instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Final, TypeAlias

from aiolimiter import AsyncLimiter

from .errors import GetuiError
from .events import Observers, Throttled, WaitEnded, WaitOutcome, WaitReason, WaitStarted
from .retry import next_window_delay_s
from .schedule import Schedule, format_duration

__all__ = [
    "DeadlinePassed",
    "OutsideWindow",
    "PaceEvent",
    "PaceStop",
    "Throttle",
    "WaitEnded",
    "WaitInterrupted",
    "WaitStarted",
    "WindowGate",
]

log = logging.getLogger(__name__)

#: After a throttle reply the rate becomes this fraction of the rate that was refused.
DECREASE_FACTOR: Final = 0.7
#: Each climb step adds this fraction of the refused rate.
INCREASE_FRACTION: Final = 0.05
#: Climb steps per rate window (60 s windows: a step every 15 s without a throttle reply).
INCREASE_STEPS_PER_WINDOW: Final = 4
MIN_RATE_PER_S: Final = 1.0


def _limiter(rate_per_s: float) -> AsyncLimiter:
    """A leaky bucket allowing ``rate_per_s`` on average, with at most one second's burst."""
    if rate_per_s >= 1:
        return AsyncLimiter(rate_per_s, 1.0)
    return AsyncLimiter(1, 1.0 / rate_per_s)


class Throttle:
    """``async with throttle:`` around each request. Create inside the running loop."""

    def __init__(
        self,
        *,
        concurrency: int,
        rate_per_s: float | None = None,
        window_s: float = 60.0,
        observers: Observers | None = None,
        wall_clock: Callable[[], float] = time.time,
        gate: WindowGate | None = None,
    ) -> None:
        self._gate = gate
        self._sem = asyncio.Semaphore(concurrency)
        self._ceiling = rate_per_s
        self._rate = rate_per_s
        self._limiter = _limiter(rate_per_s) if rate_per_s else None
        self._window_s = window_s
        self._observers = observers or Observers()
        self._wall_clock = wall_clock
        self._open = asyncio.Event()
        self._open.set()
        self._loop = asyncio.get_running_loop()
        self._peak: float | None = None
        self._next_increase = 0.0
        # requests counted since _count_start, to measure the rate when no limit is set
        self._count = 0
        self._count_start = self._loop.time()
        self.pauses = 0

    @property
    def rate_per_s(self) -> float | None:
        """The current request-rate limit (``None``: unlimited)."""
        return self._rate

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    async def __aenter__(self) -> None:
        gate = self._gate
        while True:
            if gate is not None:
                await gate.wait_window()
            if not self._open.is_set():
                await self._open.wait()
            await self._sem.acquire()
            try:
                if self._limiter is not None:
                    await self._limiter.acquire()
                    if self._peak is not None:
                        self._maybe_increase()
                else:
                    self._count += 1
            except BaseException:
                self._sem.release()
                raise
            # The window may have closed (or a quota wait begun) while this request queued for a slot.
            if gate is None or gate.is_open():
                return
            self._sem.release()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._sem.release()

    def rate_limited(self, code: int | None = None) -> None:
        """Getui refused a request for a per-minute limit: pause everyone until the next window.

        Reports during a pause are the same event seen by several workers and change nothing.
        """
        if not self._open.is_set():
            return
        now = self._loop.time()
        refused = self._rate if self._rate is not None else self._measured_rate(now)
        self._peak = refused
        self._set_rate(max(MIN_RATE_PER_S, refused * DECREASE_FACTOR))
        pause_s = next_window_delay_s(self._window_s, self._wall_clock())
        self._next_increase = now + pause_s + self._step_s
        self.pauses += 1
        self._open.clear()
        self._loop.call_later(pause_s, self._open.set)
        self._observers.emit(Throttled(code, pause_s, self._rate))

    @property
    def _step_s(self) -> float:
        return self._window_s / INCREASE_STEPS_PER_WINDOW

    def _measured_rate(self, now: float) -> float:
        elapsed = max(now - self._count_start, 1e-3)
        return max(MIN_RATE_PER_S, self._count / elapsed)

    def _maybe_increase(self) -> None:
        now = self._loop.time()
        if now < self._next_increase or self._peak is None or self._rate is None:
            return
        self._next_increase = now + self._step_s
        rate = self._rate + self._peak * INCREASE_FRACTION
        if self._ceiling is not None and rate >= self._ceiling:
            self._set_rate(self._ceiling)
            self._peak = None  # back at the user's limit: stop climbing
        else:
            self._set_rate(rate)

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        self._limiter = _limiter(rate)


# -- send windows and quota waits --------------------------------------------------------------------

#: The longest single sleep of a wait: the wall clock is read again after each, so a clock that jumps
#: (a suspended laptop, an NTP step) moves the wake-up with it.
MAX_SLEEP_S: Final = 60.0
#: A quota refusal this soon after a reset the gate waited for means Getui's clock is behind ours (or
#: its reset is late): try again after a short wait (doubling from 1 s, at most ``QUOTA_RETRY_MAX_S``)
#: instead of waiting a whole day.
QUOTA_GRACE_S: Final = 300.0
QUOTA_RETRY_MAX_S: Final = 30.0


PaceEvent: TypeAlias = WaitStarted | WaitEnded


class PaceStop(GetuiError):
    """The campaign must stop sending now, leaving the rest resumable (exit 3)."""


class OutsideWindow(PaceStop):
    """``--no-wait``: a request was due outside the send window."""

    def __init__(self, opens_at: datetime, text: str) -> None:
        super().__init__(f"outside the send window ({text}); --no-wait given")
        self.opens_at = opens_at


class DeadlinePassed(PaceStop):
    """A wait would end after ``--deadline``."""

    def __init__(self, reason: WaitReason, until: datetime, deadline: str) -> None:
        what = "the send window opens" if reason == "window" else "the daily quota resets"
        super().__init__(f"{what} at {until:%Y-%m-%d %H:%M:%S} UTC, after the deadline {deadline}")
        self.reason = reason
        self.until = until


class WaitInterrupted(PaceStop):
    """A stop signal arrived during a wait."""


class WindowGate:
    """The send window and the quota wait, shared by every worker. Create inside the running loop.

    ``clock`` (epoch seconds) and ``sleep`` are injected so tests never sleep. ``on_event`` receives
    :class:`WaitStarted`/:class:`WaitEnded` (quick, must not raise); :attr:`waits` keeps the ended waits
    for the summary, and :attr:`current` the wait in progress for the progress line.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        no_wait: bool = False,
        on_event: Callable[[PaceEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_sleep_s: float = MAX_SLEEP_S,
    ) -> None:
        self._schedule = schedule
        self._no_wait = no_wait
        self._on_event = on_event
        self._clock = clock
        self._sleep = sleep
        self._max_sleep_s = max_sleep_s
        self._open_until = math.inf if schedule.window is None else -math.inf
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._quota_passed_at = -math.inf  # the last quota reset a wait reached (epoch seconds)
        self._quota_reset_at = -math.inf  # the last real (scheduled) reset a wait reached
        self._quota_retries = 0  # short waits since that reset
        self._waits: list[WaitEnded] = []
        self.current: WaitStarted | None = None

    def now(self) -> float:
        """This gate's clock (epoch seconds): what :meth:`wait_quota_reset`'s ``started_at`` is read from."""
        return self._clock()

    @property
    def waits(self) -> tuple[WaitEnded, ...]:
        """Every wait that has ended, in order."""
        return tuple(self._waits)

    def is_open(self) -> bool:
        """True when a request may start now: inside the window and no quota wait in progress."""
        if self._task is not None:
            return False
        now = self._clock()
        if now < self._open_until:
            return True
        close = self._schedule.window_close(datetime.fromtimestamp(now, timezone.utc))
        if close is None:
            return False
        self._open_until = close.timestamp()
        return True

    async def wait_window(self) -> None:
        """Return once a request may start: at once inside the window, else after the shared wait.

        Raises :class:`OutsideWindow` with ``no_wait``, :class:`DeadlinePassed` when the window opens
        after the deadline, :class:`WaitInterrupted` after :meth:`stop`.
        """
        while not self.is_open():
            if self._task is None:
                now = datetime.fromtimestamp(self._clock(), timezone.utc)
                opens = self._schedule.next_open(now)
                text = self._schedule.window_wait_text()
                if self._no_wait:
                    raise OutsideWindow(opens, text)
                self._start("window", opens, text)
            await self._join()

    async def wait_quota_reset(self, *, started_at: float | None = None) -> None:
        """After a daily-quota reply: hold every request until the quota resets, then return.

        ``started_at`` (epoch seconds, from this gate's clock) is when the refused request was sent: a
        refusal of a request sent before a reset this gate already waited for is stale and returns at
        once. After the reset, the send window still applies.
        """
        started = self._clock() if started_at is None else started_at
        while started >= self._quota_passed_at:
            if self._task is None:
                clock = self._clock()
                now = datetime.fromtimestamp(clock, timezone.utc)
                if clock - self._quota_reset_at < QUOTA_GRACE_S:
                    # Refused just after the reset: the quota resets late, not tomorrow.
                    retry_s = min(QUOTA_RETRY_MAX_S, 2.0**self._quota_retries)
                    self._quota_retries += 1
                    until = datetime.fromtimestamp(clock + retry_s, timezone.utc)
                    text = f"waiting for the daily quota (not reset yet; again in {format_duration(retry_s)})"
                    self._start("quota", until, text)
                else:
                    resets = self._schedule.next_quota_reset(now)
                    self._start("quota", resets, self._schedule.quota_wait_text(now))
                    self._quota_retries = 0
            await self._join()
        await self.wait_window()

    def stop(self) -> None:
        """End any wait now (it raises :class:`WaitInterrupted`), and every later one. Idempotent."""
        self._stopping.set()

    async def aclose(self) -> None:
        """Stop and wait for the shared wait task to finish (call when the campaign ends)."""
        self.stop()
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def _start(self, reason: WaitReason, until: datetime, text: str) -> None:
        """Begin the one shared wait, or refuse it when it would end after the deadline."""
        if self._stopping.is_set():
            raise WaitInterrupted("stopped")
        schedule = self._schedule
        if schedule.past_deadline(until):
            raise DeadlinePassed(reason, until, schedule.deadline_text())
        now = self._clock()
        started = WaitStarted(reason, until, max(0.0, until.timestamp() - now), text)
        self.current = started
        when = f"{until.astimezone(schedule.tz):%Y-%m-%d %H:%M:%S} {schedule.tz.key}"
        if reason == "window":  # a warning: shown by default, even without a progress line
            log.warning("waiting for the send window: it opens at %s", when)
        else:
            log.warning("waiting for the daily quota: it resets at %s", when)
        self._emit(started)
        task = asyncio.get_running_loop().create_task(self._wait(started, now))
        task.add_done_callback(_retrieve)
        self._task = task

    async def _join(self) -> None:
        """Wait for the shared wait; a cancelled joiner leaves it running for the others."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    async def _wait(self, started: WaitStarted, began: float) -> None:
        outcome: WaitOutcome = "stopped"
        until = started.until.timestamp()
        try:
            while (left := until - self._clock()) > 0:
                if not await self._nap(min(left, self._max_sleep_s)):
                    raise WaitInterrupted(f"stopped while {started.text}")
            outcome = "resumed"
            if started.reason == "quota":
                self._quota_passed_at = until
                if self._quota_retries == 0:  # a scheduled reset, not a short retry after one
                    self._quota_reset_at = until
        finally:
            self._task = None
            self.current = None
            ended = WaitEnded(started.reason, started.until, self._clock() - began, outcome)
            self._waits.append(ended)
            self._emit(ended)

    async def _nap(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopped first; False when stopped."""
        if self._stopping.is_set():
            return False
        loop = asyncio.get_running_loop()
        nap = loop.create_task(_awaited(self._sleep(seconds)))
        halt = loop.create_task(self._stopping.wait())
        try:
            await asyncio.wait((nap, halt), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (nap, halt):
                task.cancel()
            await asyncio.gather(nap, halt, return_exceptions=True)
        return not self._stopping.is_set()

    def _emit(self, event: PaceEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # an observer's bug must not stop the campaign
            log.exception("observer failed on %s", type(event).__name__)


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a wait task's outcome as seen: every joiner already got it (no 'never retrieved' noise)."""
    if not task.cancelled():
        task.exception()
