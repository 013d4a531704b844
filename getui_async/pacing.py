"""A run's pacing: its time rules and window gate, wired to the screening and the ledger.

:class:`Pacing` is built once per send from :class:`~getui_async.config.PaceSettings` and owns the
run's :class:`~getui_async.schedule.Schedule` and its :class:`~getui_async.throttle.WindowGate` (the
send window and the daily-quota waits the throttle and the dispatcher meet). It opens the two other
parts the flags ask for and hands each to its user:

- :attr:`Pacing.screening` (:mod:`~getui_async.screening`): intake's exclusion, dead-cid and cap screen;
- :attr:`Pacing.recorder` (:mod:`~getui_async.ledger_recording`): the run lineage's claims, and the
  settlements the dispatcher reports and the campaign flushes to the ledger after each checkpoint.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import PaceSettings
from .errors import DeadlinePassed, OutsideWindow, PaceStop
from .events import Event
from .exclusions import ExclusionSet
from .feed import off_loop
from .ledger import Ledger, LedgerError, open_ledger
from .ledger.postgres import pool_size
from .ledger_recording import LedgerRecorder
from .outcome import StopReason
from .pace_flags import schedule_of
from .results.sidecar import stored_lineage
from .screening import Screening
from .window import WindowGate

__all__ = ["Pacing", "stop_reason"]

log = logging.getLogger(__name__)

#: Called with the stop reason and its detail when the ledger fails mid-run.
StopRequest = Callable[[StopReason, str], None]


def stop_reason(exc: PaceStop) -> tuple[StopReason, str]:
    """The campaign stop (reason, detail) for a pacing stop: all exit 3, all resumable."""
    if isinstance(exc, OutsideWindow):
        return StopReason.WINDOW, str(exc)
    if isinstance(exc, DeadlinePassed):
        return (StopReason.QUOTA if exc.reason == "quota" else StopReason.DEADLINE), str(exc)
    return StopReason.SIGNAL, str(exc)


class Pacing:
    """The pacing parts of one run. Build with :meth:`open` (it reads the lists, opens the ledger)."""

    def __init__(
        self,
        settings: PaceSettings,
        *,
        exclusions: ExclusionSet | None = None,
        recorder: LedgerRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.schedule = schedule_of(settings)
        #: The run lineage's side of the ledger (None without a ledger).
        self.recorder = recorder
        #: Intake's screen (None without exclusion lists or a ledger).
        self.screening = (
            Screening(exclusions, recorder) if exclusions is not None or recorder is not None else None
        )
        self.gate: WindowGate | None = None
        #: Claims settled from the results file on a resume.
        self.repaired = 0

    @property
    def lineage(self) -> str | None:
        """The run lineage claims are made for (kept in the results sidecar), None without a ledger."""
        return self.recorder.lineage if self.recorder is not None else None

    @classmethod
    async def open(
        cls,
        settings: PaceSettings,
        *,
        out: Path | None,
        resume: bool,
        request_stop: StopRequest,
        again: str,
        concurrency: int = 1,
    ) -> Pacing:
        """Parse the times, read every ``--exclude`` file and open the ledger (settled on a resume).

        Raises :class:`~getui_async.schedule.ScheduleError`, :class:`~getui_async.errors.InputError` or
        :class:`~getui_async.ledger.LedgerError` (exit 2): call before anything is written or sent.
        ``request_stop`` stops the run on a later ledger fault; ``again`` says how to resume.
        """
        schedule_of(settings)  # the flags first: a typo'd --tz must not wait for a large list to load
        exclusions = await off_loop(lambda: ExclusionSet.load(settings.exclude)) if settings.exclude else None
        ledger: Ledger | None = None
        try:
            recorder = None
            if settings.ledger is not None:
                ledger = await open_ledger(
                    settings.ledger, zone=settings.ledger_tz, connections=pool_size(concurrency)
                )
                _say_zone(ledger, settings)
                earlier = stored_lineage(out) if resume and out is not None else None
                recorder = LedgerRecorder(
                    ledger,
                    earlier or uuid.uuid4().hex,
                    cap=settings.max_per_day,
                    suppress=not settings.no_suppress,
                    on_fault=lambda exc: request_stop(StopReason.LEDGER_ERROR, _fault_text(exc, again)),
                )
            self = cls(settings, exclusions=exclusions, recorder=recorder)
            if recorder is not None and resume and out is not None:
                self.repaired = await recorder.repair(out)
        except BaseException:
            if exclusions is not None:
                exclusions.close()
            if ledger is not None:
                await ledger.close()
            raise
        return self

    def make_gate(self, emit: Callable[[Event], None]) -> WindowGate | None:
        """The throttle's shared gate (made inside the running loop); None without window or quota waits."""
        if not self.settings.gated:
            return None
        self.gate = WindowGate(self.schedule, no_wait=self.settings.no_wait, on_event=emit)
        if self.screening is not None:
            self.screening.gate = self.gate
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

    # -- the dispatcher's view of the ledger recorder (its constructor and settle path use these) ------

    @property
    def records(self) -> bool:
        """True when settled recipients go to a ledger."""
        return self.recorder is not None

    async def flush_ledger(self) -> None:
        """Write the held settlements to the ledger (after the results lines reached the disk)."""
        if self.recorder is not None:
            await self.recorder.flush()

    async def close(self) -> None:
        """Close the exclusion set and the ledger; idempotent, never raises."""
        if self.screening is not None:
            self.screening.close()
        if self.recorder is not None:
            await self.recorder.close()


def _fault_text(exc: LedgerError, again: str) -> str:
    """The stop detail of a ledger fault: which ledger, the plain cause, what to do."""
    return f"could not write {exc.where}: {exc.reason}; free space, then {again}"


def _say_zone(ledger: Ledger, settings: PaceSettings) -> None:
    """Say so when the cap's day (the ledger's zone) is not the run's ``--tz``."""
    if settings.max_per_day is not None and ledger.zone.key != settings.tz:
        log.warning(
            "--max-per-day counts days in the ledger's zone %s (set when %s was created), not --tz %s",
            ledger.zone.key,
            ledger.where,
            settings.tz,
        )
