"""A leaky-bucket rate limiter whose rate can change while requests wait on it.

``aiolimiter.AsyncLimiter`` fixes its drip rate when it is built (``max_rate`` and ``time_period`` are
attributes, but the rate it leaks at is derived once in ``__init__``), so an adaptive rate would have to
swap limiters, and a waiter on the old one would keep the old rate while newcomers start on an empty
bucket. This one keeps its level across :meth:`LeakyBucket.set_rate`: the level drained so far is
counted at the old rate, and the waiter at the head recomputes its wait at the new one.

:meth:`LeakyBucket.close` ends every wait at once: a stopping run must not hold its workers queued at
the rate (64 waiters at 4 a second kept Ctrl-C waiting 16 s with nothing in flight).
"""

from __future__ import annotations

import asyncio

__all__ = ["LeakyBucket"]


class LeakyBucket:
    """``rate_per_s`` acquisitions a second on average, bursts of one second's worth (at least 1).

    Waiters are served in order (one at a time at the head, the others behind an ``asyncio.Lock``), so
    a rate change affects every waiter alike. Create inside the running loop.
    """

    __slots__ = ("_closed", "_head", "_last", "_level", "_loop", "_rate", "_turn")

    def __init__(self, rate_per_s: float) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s!r}")
        self._loop = asyncio.get_running_loop()
        self._rate = rate_per_s
        self._level = 0.0
        self._last = self._loop.time()
        self._turn = asyncio.Lock()
        self._head: asyncio.Future[None] | None = None  # the head waiter's wake-up
        self._closed = False

    @property
    def rate_per_s(self) -> float:
        return self._rate

    @property
    def _capacity(self) -> float:
        return max(1.0, self._rate)

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate now; a waiter already blocked waits by the new rate from here on."""
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s!r}")
        self._leak()
        self._rate = rate_per_s
        self._wake_head()

    def close(self) -> None:
        """Let every waiter (and every later :meth:`acquire`) through at once: the run is stopping, and
        its callers decide, past the bucket, that nothing new is sent."""
        self._closed = True
        self._wake_head()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wake_head(self) -> None:
        head = self._head
        if head is not None and not head.done():
            head.set_result(None)

    def has_capacity(self) -> bool:
        """True when one acquisition would pass at once (and nobody is waiting)."""
        self._leak()
        return not self._turn.locked() and self._level + 1 <= self._capacity

    async def acquire(self) -> None:
        """Take one unit, waiting until the bucket has room for it."""
        async with self._turn:
            while not self._closed:
                self._leak()
                if self._level + 1 <= self._capacity:
                    self._level += 1
                    return
                delay = (self._level + 1 - self._capacity) / self._rate
                head = self._head = self._loop.create_future()
                timer = self._loop.call_later(delay, _wake, head)
                try:
                    await head
                finally:
                    timer.cancel()
                    self._head = None

    def _leak(self) -> None:
        now = self._loop.time()
        self._level = max(0.0, self._level - (now - self._last) * self._rate)
        self._last = now

    def __repr__(self) -> str:
        return (
            f"<LeakyBucket rate_per_s={self._rate!r} level={self._level:.3f} waiting={self._turn.locked()}"
            f"{' closed' if self._closed else ''}>"
        )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
