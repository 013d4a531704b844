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
from .outcome import Kind, Status
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

    async def screen(self, plans: list[Plan[Job]], results: ResultsLog) -> list[Plan[Job]]:
        """``plans`` (one intake chunk) without their excluded and capped recipients (their lines
        written), in order; a plan left empty is dropped. One ledger transaction per recipient kind.

        With a cap, plans are claimed only once requests may start: a run that waits overnight for its
        window counts the day it sends on, not the day it read the records.
        """
        recorder, gate = self.recorder, self.gate
        if recorder is not None and recorder.cap is not None and gate is not None and not gate.is_open():
            try:
                await gate.wait_window()
            except PaceStop:
                return plans  # the dispatcher meets the same stop at the same gate before sending it
        by_kind: dict[Kind, list[str]] = {}
        for plan in plans:
            by_kind.setdefault(plan.kind, []).extend(job.target for job in plan.items)
        listed: dict[Kind, dict[str, str]] = {}
        decided: dict[Kind, dict[str, tuple[Status, str]]] = {}
        for kind, targets in by_kind.items():
            found = listed[kind] = await self._listed(kind, targets)
            if recorder is None:
                continue
            rest = [target for target in targets if target not in found]
            verdicts = decided[kind] = {}
            if not rest:
                continue
            answer = await recorder.screen(kind, rest)
            if answer is None:
                return []  # a ledger fault: the run is stopping; these recipients stay unsent
            screened, day = answer
            for target, since in screened.dead.items():
                verdicts[target] = (Status.EXCLUDED, dead_message(since))
            for target, held in screened.capped.items():
                verdicts[target] = (Status.CAPPED, recorder.capped_message(held, day))
        kept: list[Plan[Job]] = []
        for plan in plans:
            left = self._keep(plan, results, listed[plan.kind], decided.get(plan.kind, {}))
            if left is not None:
                kept.append(left)
        return kept

    async def _listed(self, kind: Kind, targets: list[str]) -> dict[str, str]:
        """Target -> the exclusion list naming it (a look-up in a worker thread)."""
        if self.exclusions is None:
            return {}
        return await asyncio.to_thread(self.exclusions.contains_many, kind, targets)

    def _keep(
        self,
        plan: Plan[Job],
        results: ResultsLog,
        listed: dict[str, str],
        decided: dict[str, tuple[Status, str]],
    ) -> Plan[Job] | None:
        """Write the decided lines (listed: target -> its list file); the plan of the rest, if any."""
        if not listed and not decided:
            return plan
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
        return Plan(plan.endpoint, plan.kind, tuple(kept), plan.variant)

    def close(self) -> None:
        """Close the exclusion set; idempotent (the ledger belongs to the recorder)."""
        if self.exclusions is not None:
            self.exclusions.close()
