"""Screening a request's recipients before it is queued: exclusion lists, dead cids, the daily cap.

Intake hands every planned request to :meth:`Screening.screen`: recipients on an ``--exclude`` list, or
remembered dead by the ledger, get an ``excluded`` line; recipients other runs already reached
``--max-per-day`` times on the ledger's day get a ``capped`` line; the rest are claimed (one ledger
transaction for the whole request) and go on. A ledger fault drops the request unsent (no lines: a
resume sends it) and the run stops.
"""

from __future__ import annotations

import asyncio

from .errors import PaceStop
from .exclusions import ExclusionSet
from .intake import Job, record_decided
from .ledger_recording import LedgerRecorder, dead_message
from .outcome import Status
from .planner import Plan
from .results import ResultsLog
from .window import WindowGate

__all__ = ["Screening"]


class Screening:
    """The exclusion lists and the ledger of one run; ``gate`` (set once made) delays a capped check."""

    def __init__(self, exclusions: ExclusionSet | None, recorder: LedgerRecorder | None) -> None:
        self.exclusions = exclusions
        self.recorder = recorder
        #: The send window's gate, when the run has one: the cap counts the day requests may start.
        self.gate: WindowGate | None = None

    async def screen(self, plan: Plan[Job], results: ResultsLog) -> Plan[Job] | None:
        """``plan`` without its excluded and capped recipients (their lines written); None if none is left.

        With a cap, a plan is claimed only once requests may start: a run that waits overnight for its
        window counts the day it sends on, not the day it read the records.
        """
        recorder, gate = self.recorder, self.gate
        if recorder is not None and recorder.cap is not None and gate is not None and not gate.is_open():
            try:
                await gate.wait_window()
            except PaceStop:
                return plan  # the dispatcher meets the same stop at the same gate before sending it
        kind, exclusions = plan.kind, self.exclusions
        excluded: dict[str, str] = {}
        if exclusions is not None:
            targets = [job.target for job in plan.items]
            excluded = await asyncio.to_thread(exclusions.contains_many, kind, targets)
        rest = [job.target for job in plan.items if job.target not in excluded]
        decided: dict[str, tuple[Status, str]] = {}
        if recorder is not None and rest:
            found = await recorder.screen(kind, rest)
            if found is None:
                return None  # a ledger fault: the run is stopping; these recipients stay unsent
            screened, day = found
            for target, since in screened.dead.items():
                decided[target] = (Status.EXCLUDED, dead_message(since))
            for target, held in screened.capped.items():
                decided[target] = (Status.CAPPED, recorder.capped_message(held, day))
        if not excluded and not decided:
            return plan
        return self._keep(plan, results, excluded, decided)

    def _keep(
        self,
        plan: Plan[Job],
        results: ResultsLog,
        listed: dict[str, str],
        decided: dict[str, tuple[Status, str]],
    ) -> Plan[Job] | None:
        """Write the decided lines (listed: target -> its list file); the plan of the rest, if any."""
        kept: list[Job] = []
        exclusions = self.exclusions
        for job in plan.items:
            source = listed.get(job.target)
            if source is not None:
                msg = exclusions.message(source) if exclusions is not None else source
                record_decided(results, job, Status.EXCLUDED, msg)
                continue
            verdict = decided.get(job.target)
            if verdict is not None:
                record_decided(results, job, *verdict)
                continue
            kept.append(job)
        if not kept:
            return None
        return Plan(plan.endpoint, plan.kind, tuple(kept))

    def close(self) -> None:
        """Close the exclusion set; idempotent (the ledger belongs to the recorder)."""
        if self.exclusions is not None:
            self.exclusions.close()
