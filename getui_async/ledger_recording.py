"""One run's side of the ledger: its lineage, its claims before send, its settlements after.

:meth:`LedgerRecorder.screen` claims a chunk's recipients before their request (one transaction) and
answers who is dead or at the cap. Each settled recipient is handed to :meth:`LedgerRecorder.settled`
(a list append); the campaign writes what was learned with :meth:`LedgerRecorder.flush` at each
checkpoint, after the results were fsynced. A claim not yet settled counts for other runs as a
delivery would, so settling late never lets a recipient over the cap.

A ledger fault (a full disk, a lost server, a replaced file) calls ``on_fault`` once: the run stops
(``ledger_error``, exit 3) and a resume settles from the results file what this run could not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .errors import ApiError, ConnectError
from .ledger import (
    Fate,
    Key,
    Ledger,
    LedgerError,
    Screened,
    Settlement,
    day_text,
    fate_of,
    settle_from_results,
    today,
)
from .outcome import DELIVERED_STATUSES, Kind
from .results.record import F_UNCONFIRMED
from .results.sidecar import has_meta

__all__ = ["LedgerRecorder", "dead_message"]

#: Statuses that settle a claim as a delivery, as the plain strings lines carry.
_DELIVERED: Final = frozenset(status.value for status in DELIVERED_STATUSES)

log = logging.getLogger(__name__)


class LedgerRecorder:
    """The claims and settlements of one run lineage on ``ledger``."""

    def __init__(
        self,
        ledger: Ledger,
        lineage: str,
        *,
        cap: int | None,
        suppress: bool,
        on_fault: Callable[[LedgerError], None],
    ) -> None:
        self.ledger = ledger
        self.lineage = lineage
        self.cap = cap
        self.suppress = suppress
        self._on_fault = on_fault
        #: Set by the first fault: nothing more is claimed or written.
        self.failed = False
        #: The ledger day each claimed, unsettled recipient was claimed on (bounded by the in-flight window).
        self._claimed: dict[Key, int] = {}
        self._held = Settlement()

    def _fault(self, exc: LedgerError) -> None:
        if not self.failed:
            self.failed = True
            self._on_fault(exc)

    async def repair(self, out: Path) -> int:
        """Settle this lineage's claims from ``out``, an earlier run's results (on a resume)."""
        if not has_meta(out):
            return 0
        settled = await settle_from_results(self.ledger, self.lineage, out)
        if settled:
            log.info("ledger %s: settled %d claims from %s", self.ledger.where, settled, out)
        return settled

    async def screen(self, kind: Kind, targets: Sequence[str]) -> tuple[Screened, int] | None:
        """Claim ``targets`` (with a cap) and find the dead; None after a fault (the run stops)."""
        if self.failed:
            return None
        day = today(self.ledger.zone)
        if self.cap is None and not self.suppress:
            return Screened(), day
        try:
            found = await self.ledger.screen(
                self.lineage, day, kind, targets, cap=self.cap, suppress=self.suppress
            )
        except LedgerError as exc:
            self._fault(exc)
            return None
        if self.cap is not None:
            claimed = self._claimed
            for target in targets:
                if target not in found.capped and target not in found.dead:
                    claimed[(kind, target)] = day
        return found, day

    def settled(
        self,
        kind: Kind,
        target: str,
        status: str,
        code: int | None,
        msg: str,
        extra: dict[str, Any] | None,
        exc: ApiError | None,
    ) -> None:
        """A recipient's line was written: its claim's fate is held until the next :meth:`flush`."""
        if status in _DELIVERED:  # the common case first: this runs once per recipient
            self._delivered(kind, target)
            return
        fate = fate_of(
            status,
            code,
            msg,
            unconfirmed=bool(extra and extra.get(F_UNCONFIRMED)),
            never_connected=isinstance(exc, ConnectError),
        )
        if fate is None:
            return
        if fate is Fate.DELIVERED:
            self._delivered(kind, target)
            return
        day = self._claimed.pop((kind, target), None)
        if day is not None:
            self._held.released.append((day, kind, target))
        if fate is Fate.DEAD:
            self._held.dead.append((kind, target, datetime.now(self.ledger.zone).date().isoformat()))

    def _delivered(self, kind: Kind, target: str) -> None:
        """Held as a delivery on the day it was claimed (today, when it was not claimed)."""
        day = self._claimed.pop((kind, target), None)
        self._held.delivered.append((today(self.ledger.zone) if day is None else day, kind, target))

    async def flush(self) -> None:
        """Write what was learned since the last flush: one ledger transaction (after the results)."""
        held = self._held
        if not len(held) or self.failed:
            return
        self._held = Settlement()
        try:
            await self.ledger.settle(self.lineage, held)
        except LedgerError as exc:
            self._fault(exc)  # the results file holds them: a resume settles them

    async def close(self) -> None:
        """Close the ledger; never raises."""
        await self.ledger.close()

    def capped_message(self, count: int, day: int) -> str:
        """The ``msg`` of a ``capped`` line."""
        return (
            f"over --max-per-day {self.cap}: {count} push{'es' if count != 1 else ''} "
            f"on {day_text(day)} (ledger day, {self.ledger.zone.key}) from other campaigns"
        )


def dead_message(since: str) -> str:
    """The ``msg`` of an ``excluded`` line for a recipient the ledger knows is dead."""
    return f"dead since {since} (remembered by the ledger; --no-suppress sends anyway)"
