"""One gate in front of every request: in-flight limit, request rate, and a shared pause.

Three separate limits, each with its own tool: an ``asyncio.Semaphore`` bounds requests in flight, a
leaky bucket bounds requests per second, and the aiohttp connector bounds sockets (set by
the engine to at least the concurrency). When Getui answers with a per-minute limit (``10005``,
``30012``-``30015``, ``30018``), one worker reports it and *every* worker pauses until the next window
starts, instead of N workers each retrying into the same wall. After the pause, the rate drops
multiplicatively and then climbs back additively (AIMD), so a steady provider limit is approached from
below rather than hit every minute.

The rate is one :class:`~getui_async.leaky_bucket.LeakyBucket` for the throttle's life: a new rate
applies to requests already waiting, never a fresh limiter beside them. A
:class:`~getui_async.window.WindowGate` (optional, ``Throttle(gate=...)``) adds the campaign's time rules:
the send window and the daily-quota wait.

:meth:`Throttle.stop` (a stopping run) ends the waits for the rate, for a pause and for a retry's
backoff (:meth:`Throttle.sleep`) at once: whoever waited goes on to the sender's stop check, which sends
nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final

from .events import Observers, Throttled
from .leaky_bucket import LeakyBucket
from .retry import next_window_delay_s
from .window import WindowGate

__all__ = ["Throttle"]

#: After a throttle reply the rate becomes this fraction of the rate that was refused.
DECREASE_FACTOR: Final = 0.7
#: Each climb step adds this fraction of the refused rate.
INCREASE_FRACTION: Final = 0.05
#: Climb steps per rate window (60 s windows: a step every 15 s without a throttle reply).
INCREASE_STEPS_PER_WINDOW: Final = 4
MIN_RATE_PER_S: Final = 1.0


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
        self._limiter = LeakyBucket(rate_per_s) if rate_per_s else None
        self._window_s = window_s
        self._observers = observers or Observers()
        self._wall_clock = wall_clock
        self._open = asyncio.Event()
        self._open.set()
        self._stopped = False
        self._stop_event = asyncio.Event()
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

    def stop(self) -> None:
        """The run is stopping: nobody waits for the rate or a pause any more (idempotent)."""
        self._stopped = True
        self._stop_event.set()
        self._open.set()
        if self._limiter is not None:
            self._limiter.close()

    async def sleep(self, seconds: float) -> None:
        """A retry's backoff: ``seconds``, or less if the run stops first (the sender then sends nothing
        new), so a stop never waits out a backoff."""
        if self._stopped or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)

    async def __aenter__(self) -> None:
        gate = self._gate
        while True:
            if gate is not None:
                await gate.wait_window()
            if not self._open.is_set():
                await self._open.wait()
            await self._sem.acquire()
            try:
                if self._limiter is not None and not self._stopped:
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
        if not self._open.is_set() or self._stopped:
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
        """The new rate, in the one bucket every waiter is queued on (never a new bucket beside it)."""
        self._rate = rate
        if self._limiter is None:
            self._limiter = LeakyBucket(rate)
        else:
            self._limiter.set_rate(rate)
