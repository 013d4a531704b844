"""Recording deliveries in the shared ledger, never ahead of the results file.

The dispatcher passes each settled recipient to :meth:`LedgerRecorder.delivered` (a list append); the
campaign writes what was held with :meth:`LedgerRecorder.flush` at each checkpoint, after the results were
fsynced. A kill between the two is repaired on a resume by
:func:`~getui_async.ledger.repair_from_results` (:meth:`LedgerRecorder.repair`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path

from .feed import off_loop
from .ledger import Key, Ledger, repair_from_results
from .outcome import DELIVERED_STATUSES
from .results.sidecar import has_meta
from .schedule import Schedule

__all__ = ["LedgerRecorder"]

log = logging.getLogger(__name__)


class LedgerRecorder:
    """Deliveries of one campaign on their way to ``ledger`` (``where`` names it in messages)."""

    def __init__(self, ledger: Ledger, campaign_id: str, schedule: Schedule, *, where: str | None) -> None:
        self.ledger = ledger
        self._campaign_id = campaign_id
        self._schedule = schedule
        self._where = where
        self._held: list[Key] = []

    async def repair(self, out: Path) -> int:
        """Replay the deliveries of ``out`` (an earlier run's results) the ledger may have missed."""
        if not has_meta(out):
            return 0
        ledger, tz = self.ledger, self._schedule.tz
        # The campaign named in the results' sidecar: the one that made those deliveries.
        repaired = await off_loop(lambda: repair_from_results(ledger, out, tz=tz))
        if repaired:
            log.info("ledger %s: replayed %d deliveries from %s", self._where, repaired, out)
        return repaired

    def delivered(self, status: str, kind: str, target: str) -> None:
        """A recipient's line has ``status``: a delivery is held until the next :meth:`flush`."""
        if status in DELIVERED_STATUSES:
            self._held.append((kind, target))  # type: ignore[arg-type]  # kind is "cid" or "alias"

    async def flush(self) -> None:
        """Write what was delivered since the last flush: one ledger transaction, in a worker thread.

        Call after the results lines reached the disk. A failed write is logged and dropped: the
        results file is the truth, and a resume replays it into the ledger.
        """
        held = self._held
        if not held:
            return
        self._held = []
        day = self._schedule.day(datetime.now(timezone.utc))
        try:
            await asyncio.to_thread(self.ledger.record, self._campaign_id, day, held)
        except Exception as exc:  # a ledger problem must not stop the campaign
            log.error("ledger %s: could not record %d deliveries: %s", self._where, len(held), exc)

    def close(self) -> None:
        """Close the ledger (merging its pending rows)."""
        self.ledger.close()
