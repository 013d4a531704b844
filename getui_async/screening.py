"""Screening a request's recipients before it is queued: exclusion lists and the daily frequency cap.

Intake hands every planned request to :meth:`Screening.screen`: recipients on an ``--exclude`` list get
an ``excluded`` line, recipients already at ``--max-per-day`` from other campaigns a ``capped`` line;
the rest go on. The look-ups run in a worker thread, a request at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timezone

from .errors import PaceStop
from .exclusions import ExclusionSet
from .intake import Job, record_decided
from .ledger import FrequencyCap, Key
from .outcome import Status
from .planner import Plan
from .results import ResultsLog
from .schedule import Schedule
from .window import WindowGate

__all__ = ["Screened", "Screening"]


@dataclass(frozen=True, slots=True)
class Screened:
    """What :meth:`Screening.check` found for one request's recipients (computed off the event loop)."""

    excluded: dict[str, str]  # target -> file
    capped: dict[Key, int]  # key -> deliveries that day from other campaigns
    day: date


class Screening:
    """The exclusion lists and the cap of one run; ``gate`` (set once made) delays a capped check."""

    def __init__(self, schedule: Schedule, exclusions: ExclusionSet | None, cap: FrequencyCap | None) -> None:
        self._schedule = schedule
        self.exclusions = exclusions
        self.cap = cap
        #: The send window's gate, when the run has one: the cap counts the day requests may start.
        self.gate: WindowGate | None = None

    def check(self, plan: Plan[Job]) -> Screened:
        """The look-ups for one request: a query per list, a snapshot probe per recipient (thread-safe)."""
        day = self._schedule.day(datetime.now(timezone.utc))
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
                record_decided(results, job, Status.EXCLUDED, msg)
                continue
            count = found.capped.get((kind, job.target))
            if count is not None and self.cap is not None:
                record_decided(results, job, Status.CAPPED, self.cap.message(count, found.day))
                continue
            kept.append(job)
        if not kept:
            return None
        return Plan(plan.endpoint, plan.kind, tuple(kept), plan.variant)

    def close(self) -> None:
        """Close the exclusion set; idempotent (the cap's ledger belongs to the ledger recorder)."""
        if self.exclusions is not None:
            self.exclusions.close()
