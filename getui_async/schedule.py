"""When a campaign may send: the send window, the daily quota reset, the deadline, the ledger's day.

Pure functions of an aware ``datetime`` (the caller owns the clock), so every rule is testable without
waiting. Times of day are wall-clock times in one IANA zone (``--tz``, default ``Asia/Shanghai``: Getui's
quota day and the Chinese vendors' quiet hours are both in China time). Comparisons are done in UTC,
never between local wall times, so a DST change can't make a window open twice or never.

A window ``start-end`` is open on every day from the moment a wall clock in its zone first shows
``start`` until the moment it first shows ``end`` (one whose end is earlier than its start crosses
midnight: ``21:00-09:00``). On DST days this is still what the wall clock says: an end that occurs twice
(a fall-back night) closes the window at its first occurrence, and the repeated hour does not reopen it;
a start or end that a spring-forward change skips is reached at the change itself, so the window opens
or closes there (a window lying wholly in the skipped hour is empty that day).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

__all__ = [
    "DEFAULT_QUOTA_RESET",
    "DEFAULT_TZ",
    "Schedule",
    "ScheduleError",
    "Window",
    "format_duration",
    "parse_clock",
    "parse_deadline",
    "parse_zone",
]

DEFAULT_TZ: Final = "Asia/Shanghai"
DEFAULT_QUOTA_RESET: Final = "00:00"

_CLOCK: Final = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DAY: Final = timedelta(days=1)


class ScheduleError(ConfigError):
    """A ``--window``/``--tz``/``--quota-reset``/``--deadline`` value is unusable (a usage error: exit 2)."""

    def __init__(self, flag: str, value: str, reason: str) -> None:
        super().__init__(f"{flag} {value!r}: {reason}")
        self.flag = flag
        self.value = value
        self.reason = reason


def parse_zone(text: str, flag: str = "--tz") -> ZoneInfo:
    """The IANA zone named ``text`` (``Asia/Shanghai``, ``UTC``)."""
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(flag, text, "not a known IANA time zone (such as Asia/Shanghai or UTC)") from None


def parse_clock(text: str, flag: str) -> time:
    """``HH:MM`` or ``HH:MM:SS`` (24-hour) as a naive :class:`~datetime.time`."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ScheduleError(flag, text, "expected a time of day as HH:MM or HH:MM:SS")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ScheduleError(flag, text, "hours run 00-23, minutes and seconds 00-59")
    return time(hour, minute, second)


def parse_deadline(text: str, tz: ZoneInfo, flag: str = "--deadline") -> datetime:
    """An ISO 8601 date-time (``2026-12-02T18:00``, ``...+08:00``, ``...Z``); a naive one is in ``tz``."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"  # Python 3.10's fromisoformat does not take "Z"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ScheduleError(flag, text, "expected an ISO 8601 date-time such as 2026-12-02T18:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc)


def format_clock(moment: time) -> str:
    """``09:00``, or ``09:00:30`` when the seconds matter."""
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def format_duration(seconds: float) -> str:
    """A wait for people: ``3 h 12 min``, ``12 min``, ``45 s`` (rounded up, never ``0 s``)."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _next_at(wall: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The first instant strictly after ``now`` whose wall time in ``tz`` is ``wall`` (in UTC)."""
    day = now.astimezone(tz).date()
    for offset in (-1, 0, 1, 2):  # -1: a DST shift can put yesterday's occurrence after now
        candidate = datetime.combine(day + offset * _DAY, wall, tzinfo=tz).astimezone(timezone.utc)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a wall time occurs every day")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Window:
    """A daily send window ``start-end`` of wall times in ``tz``."""

    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo, flag: str = "--window") -> Window:
        """``HH:MM[:SS]-HH:MM[:SS]``; the end may be earlier than the start (the window crosses midnight)."""
        head, sep, tail = text.partition("-")
        if not sep:
            raise ScheduleError(flag, text, "expected START-END, such as 09:00-21:00")
        try:
            start, end = parse_clock(head, flag), parse_clock(tail, flag)
        except ScheduleError as exc:
            raise ScheduleError(flag, text, f"{exc.reason} (START-END, such as 09:00-21:00)") from None
        if start == end:
            raise ScheduleError(flag, text, "start and end are equal: the window would be empty")
        return cls(start, end, tz)

    def __str__(self) -> str:
        return f"{format_clock(self.start)}-{format_clock(self.end)} {self.tz.key}"

    def contains(self, now: datetime) -> bool:
        """True when ``now`` (any aware datetime) is inside the window."""
        return self.close(now) is not None

    def next_open(self, now: datetime) -> datetime:
        """``now`` (in UTC) if inside the window, else the instant it next opens."""
        now = now.astimezone(timezone.utc)
        if self.contains(now):
            return now
        day = now.astimezone(self.tz).date()
        for offset in range(4):  # a day whose window the DST change empties is skipped
            opens, closes = self._span(day + offset * _DAY)
            if now < opens < closes:
                return opens
        raise AssertionError("unreachable: a window opens within two days")  # pragma: no cover

    def close(self, now: datetime) -> datetime | None:
        """When the window that contains ``now`` closes (in UTC); ``None`` when ``now`` is outside."""
        now = now.astimezone(timezone.utc)
        day = now.astimezone(self.tz).date()
        for opened in (day - _DAY, day):  # the window opened today, or yesterday and crosses midnight
            opens, closes = self._span(opened)
            if opens <= now < closes:
                return closes
        return None

    def _span(self, day: date) -> tuple[datetime, datetime]:
        """The window that opens on local ``day``: its opening and closing instants, in UTC."""
        ends = day if self.start < self.end else day + _DAY
        return _first_showing(day, self.start, self.tz), _first_showing(ends, self.end, self.tz)


def _first_showing(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant of local ``day`` when a wall clock in ``tz`` shows ``wall``, in UTC.

    A wall time shown twice (a fall-back hour) gives its first occurrence (``fold=0``); one a
    spring-forward change skips gives the change itself, when the clock jumps past it.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz).astimezone(timezone.utc)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # Skipped: fold=1 reads it with the offset after the change (an instant before the change), fold=0
    # with the offset before (an instant after it). Bisect the whole seconds between for the change.
    before = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    after = int(first.timestamp())
    offset = datetime.fromtimestamp(before, tz).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
            before = middle
        else:
            after = middle
    return datetime.fromtimestamp(after, timezone.utc)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Every time rule of one run. Build it with :meth:`from_flags` (the CLI's values, validated)."""

    tz: ZoneInfo
    window: Window | None = None
    quota_reset: time = time(0, 0)
    deadline: datetime | None = None  # aware, UTC

    @classmethod
    def from_flags(
        cls,
        *,
        window: str | None = None,
        tz: str = DEFAULT_TZ,
        quota_reset: str = DEFAULT_QUOTA_RESET,
        deadline: str | None = None,
    ) -> Schedule:
        """Parse ``--window``, ``--tz``, ``--quota-reset``, ``--deadline``; raises :class:`ScheduleError`."""
        zone = parse_zone(tz)
        return cls(
            tz=zone,
            window=Window.parse(window, zone) if window is not None else None,
            quota_reset=parse_clock(quota_reset, "--quota-reset"),
            deadline=parse_deadline(deadline, zone) if deadline is not None else None,
        )

    def in_window(self, now: datetime) -> bool:
        """True when requests may start at ``now`` (always, without a window)."""
        return self.window is None or self.window.contains(now)

    def next_open(self, now: datetime) -> datetime:
        """When requests may next start: ``now`` itself inside the window (in UTC)."""
        now = now.astimezone(timezone.utc)
        return now if self.window is None else self.window.next_open(now)

    def window_close(self, now: datetime) -> datetime | None:
        """When the current window closes; ``None`` outside it or without a window."""
        return None if self.window is None else self.window.close(now)

    def next_quota_reset(self, now: datetime) -> datetime:
        """The next daily quota reset strictly after ``now`` (in UTC)."""
        return _next_at(self.quota_reset, self.tz, now.astimezone(timezone.utc))

    def past_deadline(self, moment: datetime) -> bool:
        """True when ``moment`` is later than the deadline (never without one)."""
        return self.deadline is not None and moment > self.deadline

    def day(self, now: datetime) -> date:
        """The calendar day of ``now`` in the run's zone (the ledger's day)."""
        return now.astimezone(self.tz).date()

    def window_wait_text(self) -> str:
        """``waiting for the send window (opens 09:00 Asia/Shanghai)``."""
        assert self.window is not None
        return f"waiting for the send window (opens {format_clock(self.window.start)} {self.tz.key})"

    def quota_wait_text(self, now: datetime) -> str:
        """``waiting for the daily quota (resets in 3 h 12 min)``."""
        left = (self.next_quota_reset(now) - now).total_seconds()
        return f"waiting for the daily quota (resets in {format_duration(left)})"

    def deadline_text(self) -> str:
        """The deadline as people read it, in the run's zone."""
        assert self.deadline is not None
        return f"{self.deadline.astimezone(self.tz):%Y-%m-%d %H:%M:%S} {self.tz.key}"
