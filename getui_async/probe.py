"""The gate between intake and the dispatcher: a canary's end, and the breaker for a wrong app.

A wrong app key or a production run over development cids shows in the first replies: nearly every
cid is dead (``20001 target user is invalid``). The breaker sends the first ``halt_after`` recipients,
waits until each has its line (dead cids resolved as the dispatcher always resolves them: ``user/detail``
in list mode), and halts the run before any later record goes when at least ``halt_dead_ratio`` of them
are dead. A canary (``--canary N``) is the same pause at N recipients, followed by a stop.

How the parts meet: intake hands recipients to the planner in slices that end exactly at the gate's
next checkpoint (:attr:`Gate.room`, :meth:`Gate.admit`), queues the partly filled requests there, counts
what it queued (:attr:`Gate.queued`) and awaits :meth:`Gate.checkpoint`; the settler reports every line
(:meth:`Gate.settle`) and every fatal reply (:meth:`Gate.refused`). Past its last checkpoint the gate lets
go (:meth:`Gate.on_done`): intake drops it and the settler stops reporting, so the rest of the run pays
one ``is None`` check per recipient. The pause costs about one round trip: the probe's last reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from .config import ProbeSettings
from .errors import ApiError, FatalApiError
from .outcome import FailedKind, Status, StopReason
from .results import Words
from .results.record import F_CODE, F_MSG, failed_kind
from .stopping import StopSwitch

__all__ = ["APP_REFUSAL_CODES", "Gate", "open_gate"]

#: Getui codes that refuse the app itself, not a recipient: blacklisted appId or IP, an unknown appId's URL.
APP_REFUSAL_CODES: Final = frozenset({10002, 404})


def open_gate(settings: ProbeSettings, stop: StopSwitch, words: Words) -> Gate | None:
    """The run's gate, woken by ``stop``; None when it has no checkpoint (no canary, the breaker off)."""
    points = {settings.halt_after} if settings.breaker else set()
    if settings.canary is not None:
        points.add(settings.canary)
    if not points:
        return None
    gate = Gate(settings, sorted(points), request_stop=stop.request, words=words)
    stop.on_stop(gate.wake)
    return gate


class Gate:
    """Counts the recipients of the probe, waits for their outcomes at each checkpoint, then decides.

    Create inside the running loop, with :func:`open_gate` (which makes a stop end a wait at once).
    """

    def __init__(
        self,
        settings: ProbeSettings,
        points: list[int],
        *,
        request_stop: Callable[[StopReason, str], object],
        words: Words,
    ) -> None:
        self._settings = settings
        self._points = points
        self._request_stop = request_stop
        self._words = words
        self._settled_all = asyncio.Event()
        self._stopped = False
        self._judged = not settings.breaker
        self._on_done: list[Callable[[], None]] = []
        #: Recipients handed to the planner, queued for a worker, and given their line, so far.
        self.admitted = 0
        self.queued = 0
        self.settled = 0
        #: Settled recipients Getui called dead (:attr:`FailedKind.DEAD`).
        self.dead = 0

    @property
    def room(self) -> int:
        """Recipients intake may still hand over before the next checkpoint (at least 1)."""
        return max(1, self._points[0] - self.admitted)

    def admit(self, count: int) -> bool:
        """``count`` more recipients went to the planner; True when the next checkpoint is reached."""
        self.admitted += count
        return self.admitted >= self._points[0]

    def on_done(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` once the gate has passed its last checkpoint (it watches nothing more)."""
        self._on_done.append(hook)

    def settle(self, status: Status, code: int | None, msg: str) -> None:
        """One recipient's line was written (from the settler, for each line while the gate watches)."""
        self.settled += 1
        if status is Status.FAILED and failed_kind({F_CODE: code, F_MSG: msg}) is FailedKind.DEAD:
            self.dead += 1
        if self.settled >= self.queued:
            self._settled_all.set()

    def refused(self, exc: ApiError) -> bool:
        """True when ``exc`` refuses the app itself during the probe: the run is halted (not ``fatal``)."""
        if self._judged or not _refuses_app(exc):
            return False
        self._request_stop(
            StopReason.HALTED,
            f"Getui refused the app itself in the first {self._settings.halt_after:,} recipients ({exc}): "
            "check the app id, its credentials and the base URL; nothing after them was sent",
        )
        return True

    def wake(self) -> None:
        """The run stops: a wait at a checkpoint ends now (idempotent)."""
        self._stopped = True
        self._settled_all.set()

    async def checkpoint(self) -> bool:
        """Wait until every queued recipient has its line; then halt, stop the canary, or go on (True)."""
        while self.settled < self.queued and not self._stopped:
            self._settled_all.clear()
            await self._settled_all.wait()
        if self._stopped:
            return False
        point = self._points.pop(0)
        settings = self._settings
        if not self._judged:
            if self.settled and self.dead >= settings.halt_dead_ratio * self.settled:
                self._request_stop(StopReason.HALTED, self._halt_text())
                return False
            self._judged = point >= settings.halt_after
        if settings.canary is not None and point >= settings.canary:
            self._request_stop(StopReason.CANARY, self._canary_text())
            return False
        if not self._points:
            for hook in self._on_done:
                hook()
        return True

    @property
    def done(self) -> bool:
        """True once the last checkpoint was passed: intake drops the gate."""
        return not self._points

    def _go_on(self) -> str:
        """How to send the rest anyway, in the caller's words (CLI flags or library arguments)."""
        again = self._words.again
        if self._words.resume.startswith("--"):
            return f"{again} --halt-dead-ratio 0"
        return f"{again} and ProbeSettings(halt_dead_ratio=0)"

    def _halt_text(self) -> str:
        ratio = self.dead / self.settled
        return (
            f"{self.dead:,} of the first {self.settled:,} recipients ({ratio:.0%}) are dead cids (20001 "
            f"target user is invalid), at least the halt ratio {self._settings.halt_dead_ratio:g}: most "
            "likely another app's cids, or development cids sent with production credentials (or the "
            f"reverse); nothing after them was sent. If the cids and the app are right: {self._go_on()}"
        )

    def _canary_text(self) -> str:
        return (
            f"canary of {self.admitted:,} recipients sent; look at the seed devices (the notification "
            "arrived, its title, body, icon and tap action are right, on each vendor's phones), then "
            f"{self._words.again} to send the rest"
        )


def _refuses_app(exc: ApiError) -> bool:
    """An app-level refusal (blacklisted appId or IP, an unknown appId), never one recipient's fault."""
    if not isinstance(exc, FatalApiError):
        return False
    return exc.code in APP_REFUSAL_CODES or (exc.code is None and exc.http_status == 404)
