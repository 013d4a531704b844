"""How a run stops: one switch that records why, wakes every part, and the wait that drains the rest.

Every stop (a signal, a quota, a fatal error, a write failure, unreadable input) goes through
:meth:`StopSwitch.request`: which of two reasons wins is :meth:`StopReason.wins_over`'s call, the
parts that may be waiting (the reader, the window gate, the line budget) are told at once through the
hooks they registered, and :func:`supervise` gives work in flight a bounded time to end. No task waits on
another without a way out, so a stop always ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from .events import CampaignStopping, Observers
from .outcome import StopReason

__all__ = ["CANCEL_GRACE_S", "StopSwitch", "supervise"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: After the drain timeout, cancelled tasks get this long to unwind (within the +5 s of the contract).
CANCEL_GRACE_S: Final = 3.0


class StopSwitch:
    """Why a run stopped (if it did), and who to wake when it does. Create inside the running loop."""

    def __init__(self, observers: Observers) -> None:
        self._observers = observers
        self._event = asyncio.Event()
        self._hooks: list[Callable[[], None]] = []
        self.reason: StopReason | None = None
        self.detail = ""

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on every accepted stop (now, if stopped already); it must be idempotent."""
        self._hooks.append(hook)
        if self.reason is not None:
            hook()

    def request(self, reason: StopReason | str, detail: str = "") -> bool:
        """Record ``reason`` unless a stop that outranks it was recorded; False when it did not win."""
        reason = StopReason(reason)
        if not reason.wins_over(self.reason):
            return False
        self.reason, self.detail = reason, detail
        self._event.set()
        for hook in self._hooks:
            hook()
        self._observers.emit(CampaignStopping(reason, detail))
        log.warning("stopping the campaign (%s)%s", reason, f": {detail}" if detail else "")
        return True

    async def wait(self) -> None:
        await self._event.wait()

    async def unless_stopped(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None (``work`` cancelled) if the run is stopped first."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a late error must not surface as "never retrieved"
        return None


async def supervise(
    tasks: Sequence[asyncio.Future[None]], switch: StopSwitch, *, drain_timeout_s: float, resume_word: str
) -> None:
    """Wait for ``tasks``; after a stop, at most ``drain_timeout_s`` more, then cancel what is left.

    Every task's outcome is retrieved here; the first unexpected error stops the run and is raised once
    everything has ended. ``resume_word`` names how the user resumes (for the abandoned-requests warning).
    """
    stop = asyncio.ensure_future(switch.wait())
    pending: set[asyncio.Future[Any]] = set(tasks)
    error: BaseException | None = None
    try:
        while pending and not stop.done():
            done, pending = await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stop)
            for task in done - {stop}:
                if not task.cancelled() and task.exception() is not None and error is None:
                    error = task.exception()
                    switch.request(StopReason.FATAL, f"internal error: {error!r}")
        if pending:
            _, pending = await asyncio.wait(pending, timeout=drain_timeout_s)
        if pending:
            log.warning(
                "%d requests still in flight after the drain timeout (%.0f s) were abandoned; "
                "their recipients get no line and are sent again on %s",
                len(pending),
                drain_timeout_s,
                resume_word,
            )
            for task in pending:
                task.cancel()
            _, stuck = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
            if stuck:
                log.error("%d tasks did not end when cancelled; leaving them behind", len(stuck))
    finally:
        stop.cancel()
        for task in tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is not None and error is None:
                error = task.exception()
    if error is not None and not isinstance(error, asyncio.CancelledError):
        raise error
