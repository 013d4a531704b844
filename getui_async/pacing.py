"""The engine's side of issue #14: one object holding a run's window gate, exclusions, cap and ledger.

:class:`Pacing` is built once per send from :class:`~getui_async.config.PaceSettings` and is the only
owner of those parts, so intake, dispatcher and campaign each call one method of it instead of knowing
four modules:

- intake hands every planned request to :meth:`Pacing.screen` before it is queued: recipients on an
  ``--exclude`` list get an ``excluded`` line, recipients already at ``--max-per-day`` from other
  campaigns a ``capped`` line; the rest go on (the look-ups run in a worker thread, a batch at a time);
- the dispatcher passes each delivered recipient to :meth:`Pacing.delivered` (a list append), and the
  campaign writes them to the ledger with :meth:`Pacing.flush_ledger` at each checkpoint, after the
  results were fsynced: the ledger is never ahead of the results file, and a kill between the two is
  repaired on ``--resume`` by :func:`~getui_async.ledger.repair_from_results` (in :meth:`Pacing.open`);
- the throttle gets :meth:`Pacing.make_gate` (the send window and quota waits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .config import PaceSettings
from .events import Event
from .exclusions import ExclusionSet
from .intake import Job, off_loop
from .ledger import DELIVERED_STATUSES, FrequencyCap, Key, Ledger, SqliteLedger, repair_from_results
from .planner import Plan
from .results import ResultsLog, Status
from .results.sidecar import has_meta
from .schedule import Schedule
from .throttle import DeadlinePassed, OutsideWindow, PaceStop, WindowGate

__all__ = ["Pacing", "Screened", "schedule_of", "stop_reason"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Screened:
    """What :meth:`Pacing.check` found for one request's recipients (computed off the event loop)."""

    excluded: dict[str, str]  # target -> file
    capped: dict[Key, int]  # key -> deliveries that day from other campaigns
    day: date


def schedule_of(settings: PaceSettings) -> Schedule:
    """The run's time rules; raises :class:`~getui_async.schedule.ScheduleError` naming the flag (exit 2)."""
    return Schedule.from_flags(
        window=settings.window, tz=settings.tz, quota_reset=settings.quota_reset, deadline=settings.deadline
    )


def stop_reason(exc: PaceStop) -> tuple[str, str]:
    """The campaign stop (reason, detail) for a pacing stop: all exit 3, all resumable."""
    if isinstance(exc, OutsideWindow):
        return "window", str(exc)
    if isinstance(exc, DeadlinePassed):
        return ("quota" if exc.reason == "quota" else "deadline"), str(exc)
    return "signal", str(exc)


class Pacing:
    """The pacing parts of one run. Build with :meth:`open` (it reads the lists, opens the ledger).

    The ledger is any :class:`~getui_async.ledger.Ledger` (pass one to the constructor for another
    backend); :meth:`open` opens the local :class:`~getui_async.ledger.SqliteLedger` at ``--ledger``.
    """

    def __init__(
        self,
        settings: PaceSettings,
        campaign_id: str,
        *,
        exclusions: ExclusionSet | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.campaign_id = campaign_id
        self.schedule = schedule_of(settings)
        self.exclusions = exclusions
        self.ledger = ledger
        self.cap = (
            FrequencyCap(ledger, campaign_id, settings.max_per_day)
            if ledger is not None and settings.max_per_day is not None
            else None
        )
        self.gate: WindowGate | None = None
        self._delivered: list[Key] = []
        #: Ledger rows replayed from the results file on ``--resume``.
        self.repaired = 0

    @classmethod
    async def open(
        cls, settings: PaceSettings, campaign_id: str, *, out: Path | None, resume: bool
    ) -> Pacing:
        """Parse the times, read every ``--exclude`` file and open the ledger (repaired on a resume).

        Raises :class:`~getui_async.schedule.ScheduleError`, :class:`~getui_async.errors.InputError` or
        :class:`~getui_async.ledger.LedgerError` (exit 2): call before anything is written or sent.
        """
        schedule_of(settings)  # the flags first: a typo'd --tz must not wait for a large list to load
        exclusions = await off_loop(lambda: ExclusionSet.load(settings.exclude)) if settings.exclude else None
        ledger: SqliteLedger | None = None
        try:
            if settings.ledger is not None:
                ledger = await off_loop(lambda: SqliteLedger(settings.ledger or ""))
            self = cls(settings, campaign_id, exclusions=exclusions, ledger=ledger)
            if ledger is not None and resume and out is not None and has_meta(out):
                opened = ledger
                tz = self.schedule.tz
                # The campaign named in the results' sidecar: the one that made those deliveries.
                self.repaired = await off_loop(lambda: repair_from_results(opened, out, tz=tz))
                if self.repaired:
                    log.info("ledger %s: replayed %d deliveries from %s", settings.ledger, self.repaired, out)
        except BaseException:
            if exclusions is not None:
                exclusions.close()
            if ledger is not None:
                ledger.close()
            raise
        return self

    # -- the window gate ---------------------------------------------------------------------------------

    def make_gate(self, emit: Callable[[Event], None]) -> WindowGate | None:
        """The throttle's shared gate (made inside the running loop); None without window or quota waits."""
        if not self.settings.gated:
            return None
        self.gate = WindowGate(self.schedule, no_wait=self.settings.no_wait, on_event=emit)
        return self.gate

    @property
    def wait_quota(self) -> WindowGate | None:
        """The gate to wait on after a daily-quota reply (``--wait-quota``), else None."""
        return self.gate if self.settings.wait_quota else None

    def stop(self) -> None:
        """End any wait now (a stop signal): waiting workers leave at once."""
        if self.gate is not None:
            self.gate.stop()

    def waits(self) -> list[dict[str, Any]]:
        """Every wait of the run for the summary JSON."""
        return [] if self.gate is None else [wait.to_dict() for wait in self.gate.waits]

    # -- exclusions and caps (intake) ---------------------------------------------------------------------

    @property
    def screens(self) -> bool:
        """True when planned requests must be screened (exclusions or a cap)."""
        return self.exclusions is not None or self.cap is not None

    def check(self, plan: Plan[Job]) -> Screened:
        """The look-ups for one request: a query per list, a snapshot probe per recipient (thread-safe)."""
        day = self.schedule.day(datetime.now(timezone.utc))
        excluded: dict[str, str] = {}
        if self.exclusions is not None:
            excluded = self.exclusions.contains_many(plan.kind, [job.target for job in plan.items])
        capped: dict[Key, int] = {}
        if self.cap is not None:
            kind = plan.kind
            keys: list[Key] = [(kind, job.target) for job in plan.items if job.target not in excluded]
            capped = self.cap.over(day, keys)
        return Screened(excluded, capped, day)

    async def screen(self, plan: Plan[Job], results: ResultsLog) -> Plan[Job] | None:
        """``plan`` without its excluded and capped recipients (their lines written); None if none is left.

        With a cap, a plan is checked only once requests may start: a run that waits overnight for its
        window counts the day it sends on, not the day it read the records.
        """
        gate = self.gate
        if self.cap is not None and gate is not None and not gate.is_open():
            try:
                await gate.wait_window()
            except PaceStop:
                return plan  # the dispatcher meets the same stop at the same gate before sending it
        found = await asyncio.to_thread(self.check, plan)
        if not found.excluded and not found.capped:
            return plan
        kept: list[Job] = []
        kind = plan.kind
        for job in plan.items:
            source = found.excluded.get(job.target)
            if source is not None:
                msg = self.exclusions.message(source) if self.exclusions is not None else source
                _decided(results, job, Status.EXCLUDED, msg)
                continue
            count = found.capped.get((kind, job.target))
            if count is not None and self.cap is not None:
                _decided(results, job, Status.CAPPED, self.cap.message(count, found.day))
                continue
            kept.append(job)
        if not kept:
            return None
        return Plan(plan.endpoint, plan.kind, tuple(kept))

    # -- the ledger (dispatcher and campaign) ------------------------------------------------------------

    @property
    def records(self) -> bool:
        """True when delivered recipients go to a ledger."""
        return self.ledger is not None

    def delivered(self, status: str, kind: str, target: str) -> None:
        """A recipient's line has ``status``: a delivery is held until the next :meth:`flush_ledger`."""
        if status in DELIVERED_STATUSES:
            self._delivered.append((kind, target))  # type: ignore[arg-type]  # kind is "cid" or "alias"

    async def flush_ledger(self) -> None:
        """Write what was delivered since the last flush: one ledger transaction, in a worker thread.

        Call after the results lines reached the disk. A failed write is logged and dropped: the
        results file is the truth, and ``--resume`` replays it into the ledger.
        """
        ledger, held = self.ledger, self._delivered
        if ledger is None or not held:
            return
        self._delivered = []
        day = self.schedule.day(datetime.now(timezone.utc))
        campaign = self.campaign_id
        try:
            await asyncio.to_thread(ledger.record, campaign, day, held)
        except Exception as exc:  # a ledger problem must not stop the campaign
            where = self.settings.ledger
            log.error("ledger %s: could not record %d deliveries: %s", where, len(held), exc)

    def close(self) -> None:
        """Close the exclusion set and the ledger (merging its pending rows); idempotent."""
        if self.exclusions is not None:
            self.exclusions.close()
        if self.ledger is not None:
            self.ledger.close()


def _decided(results: ResultsLog, job: Job, status: Status, msg: str) -> None:
    results.add(
        line=job.line,
        record=job.record,
        kind=job.kind,
        target=job.target,
        request_id=job.request_id,
        status=status,
        code=None,
        msg=msg,
        taskid=None,
        attempts=0,
    )
