"""A run's pacing: its time rules and window gate, wired to the screening and the ledger recording.

:class:`Pacing` is built once per send from :class:`~getui_async.config.PaceSettings` and owns the
run's :class:`~getui_async.schedule.Schedule` and its :class:`~getui_async.throttle.WindowGate` (the
send window and the daily-quota waits the throttle and the dispatcher meet). It opens the two other
parts the flags ask for and hands each to its user:

- :attr:`Pacing.screening` (:mod:`~getui_async.screening`): intake's exclusion and cap screen;
- :attr:`Pacing.recorder` (:mod:`~getui_async.ledger_recording`): the deliveries the dispatcher reports
  and the campaign flushes to the ledger after each checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import PaceSettings
from .errors import DeadlinePassed, OutsideWindow, PaceStop
from .events import Event
from .exclusions import ExclusionSet
from .feed import off_loop
from .ledger import FrequencyCap, Ledger, SqliteLedger
from .ledger_recording import LedgerRecorder
from .outcome import StopReason
from .pace_flags import schedule_of
from .screening import Screening
from .window import WindowGate

__all__ = ["Pacing", "stop_reason"]


def stop_reason(exc: PaceStop) -> tuple[StopReason, str]:
    """The campaign stop (reason, detail) for a pacing stop: all exit 3, all resumable."""
    if isinstance(exc, OutsideWindow):
        return StopReason.WINDOW, str(exc)
    if isinstance(exc, DeadlinePassed):
        return (StopReason.QUOTA if exc.reason == "quota" else StopReason.DEADLINE), str(exc)
    return StopReason.SIGNAL, str(exc)


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
        self.schedule = schedule_of(settings)
        cap = (
            FrequencyCap(ledger, campaign_id, settings.max_per_day)
            if ledger is not None and settings.max_per_day is not None
            else None
        )
        #: Intake's screen (None without exclusion lists or a cap).
        self.screening = (
            Screening(self.schedule, exclusions, cap) if exclusions is not None or cap is not None else None
        )
        #: Where deliveries go (None without a ledger).
        self.recorder = (
            LedgerRecorder(ledger, campaign_id, self.schedule, where=settings.ledger)
            if ledger is not None
            else None
        )
        self.gate: WindowGate | None = None
        #: Ledger rows replayed from the results file on a resume.
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
            if self.recorder is not None and resume and out is not None:
                self.repaired = await self.recorder.repair(out)
        except BaseException:
            if exclusions is not None:
                exclusions.close()
            if ledger is not None:
                ledger.close()
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
        """True when delivered recipients go to a ledger."""
        return self.recorder is not None

    def delivered(self, status: str, kind: str, target: str) -> None:
        """A recipient's line has ``status``: held for the ledger until the next :meth:`flush_ledger`."""
        if self.recorder is not None:
            self.recorder.delivered(status, kind, target)

    async def flush_ledger(self) -> None:
        """Write the held deliveries to the ledger (after the results lines reached the disk)."""
        if self.recorder is not None:
            await self.recorder.flush()

    def close(self) -> None:
        """Close the exclusion set and the ledger (merging its pending rows); idempotent."""
        if self.screening is not None:
            self.screening.close()
        if self.recorder is not None:
            self.recorder.close()
