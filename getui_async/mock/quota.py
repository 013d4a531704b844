"""The mock's daily push quota: one pool of recipients for every kind of push, reset on Getui's day."""

from __future__ import annotations

from collections import Counter

from .state import Live
from .wire import BEIJING_OFFSET_S, Refusal

__all__ = ["Quota"]


class Quota:
    """Recipients pushed today (in total and by kind, ``"app"`` or ``"list"``) against ``daily_quota``."""

    __slots__ = ("_live", "_pushed", "_used")

    def __init__(self, live: Live) -> None:
        self._live = live
        self._used = (0, 0)  # (day index, recipients used)
        self._pushed: Counter[str] = Counter()  # today's recipients by kind

    @property
    def counted(self) -> int:
        """Recipients counted on the day of the last push or look-up (not rolled over to today)."""
        return self._used[1]

    def pushed(self, kind: str) -> int:
        """Recipients of ``kind`` counted today (as of the last :meth:`used`)."""
        return self._pushed[kind]

    def used(self, now: float) -> int:
        """Recipients used on the quota day of ``now`` (a new day starts at zero)."""
        day = int((now + BEIJING_OFFSET_S - self._live.config.quota_reset_s) // 86_400)
        if self._used[0] != day:
            self._used = (day, 0)
            self._pushed.clear()
        return self._used[1]

    def take(self, recipients: int, code: int, now: float, kind: str) -> None:
        """Refuse a push that would take the day's recipients over ``daily_quota`` (it resets daily)."""
        used, quota = self.used(now), self._live.config.daily_quota
        if quota is not None and used + recipients > quota:
            self._live.counters.quota_refusals += 1
            raise Refusal(code)
        self._used = (self._used[0], used + recipients)
        self._pushed[kind] += recipients

    def clear(self) -> None:
        self._used = (0, 0)
        self._pushed.clear()
