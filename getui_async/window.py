"""The calendar gate: the send window and the daily-quota wait, shared by every worker.

Requests start only inside the send window, and a daily-quota reply can hold everyone until the quota
resets. Both waits are one shared wait, never one per worker; requests already in flight finish;
:meth:`WindowGate.stop` ends a wait at once; a wait that would end after ``--deadline`` is a stop
instead (the stops are :class:`~getui_async.errors.PaceStop` and its subclasses).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Final, TypeAlias

from .errors import DeadlinePassed, OutsideWindow, WaitInterrupted
from .events import WaitEnded, WaitOutcome, WaitReason, WaitStarted
from .schedule import Schedule, format_duration

__all__ = ["MAX_SLEEP_S", "QUOTA_GRACE_S", "PaceEvent", "WindowGate"]

log = logging.getLogger(__name__)

#: The longest single sleep of a wait: the wall clock is read again after each, so a clock that jumps
#: (a suspended laptop, an NTP step) moves the wake-up with it.
MAX_SLEEP_S: Final = 60.0
#: A quota refusal this soon after a reset the gate waited for means Getui's clock is behind ours (or
#: its reset is late): try again after a short wait (doubling from 1 s, at most ``QUOTA_RETRY_MAX_S``)
#: instead of waiting a whole day.
QUOTA_GRACE_S: Final = 300.0
QUOTA_RETRY_MAX_S: Final = 30.0


PaceEvent: TypeAlias = WaitStarted | WaitEnded


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
