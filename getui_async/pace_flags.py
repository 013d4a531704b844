"""The pacing flags' times read into the run's :class:`~getui_async.schedule.Schedule`, or refused.

One function, shared by the CLI (a bad ``--window``/``--tz``/``--quota-reset``/``--deadline`` is exit 2
before anything is read or sent) and :class:`~getui_async.pacing.Pacing` (the same rules at run time).
"""

from __future__ import annotations

from .config import PaceSettings
from .schedule import Schedule

__all__ = ["schedule_of"]


def schedule_of(settings: PaceSettings) -> Schedule:
    """The run's time rules; raises :class:`~getui_async.schedule.ScheduleError` naming the flag (exit 2)."""
    return Schedule.from_flags(
        window=settings.window, tz=settings.tz, quota_reset=settings.quota_reset, deadline=settings.deadline
    )
