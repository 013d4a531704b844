"""Send windows, quota resets, deadlines and wait texts: pure time rules in the run's zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from getui_async.errors import ConfigError
from getui_async.schedule import (
    Schedule,
    ScheduleError,
    Window,
    format_duration,
    parse_clock,
    parse_deadline,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def sh(text: str) -> datetime:
    """A Shanghai wall time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def test_defaults_are_shanghai_midnight_and_no_window() -> None:
    """Without flags: Asia/Shanghai, quota resets at 00:00, no window, no deadline."""
    schedule = Schedule.from_flags()
    assert schedule.tz.key == "Asia/Shanghai"
    assert schedule.quota_reset == time(0, 0)
    assert schedule.window is None
    assert schedule.deadline is None
    assert schedule.in_window(sh("2026-12-01T03:00"))


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        ({"window": "09:00"}, "--window"),
        ({"window": "09:00-09:00"}, "--window"),
        ({"window": "9:00-21:00"}, "--window"),
        ({"window": "09:00-24:00"}, "--window"),
        ({"window": "09:60-21:00"}, "--window"),
        ({"tz": "Mars/Olympus"}, "--tz"),
        ({"tz": "../etc/passwd"}, "--tz"),
        ({"quota_reset": "25:00"}, "--quota-reset"),
        ({"quota_reset": "midnight"}, "--quota-reset"),
        ({"deadline": "tomorrow"}, "--deadline"),
    ],
)
def test_bad_values_name_the_flag_and_value(flags: dict[str, str], flag: str) -> None:
    """Every unusable value raises a ConfigError (exit 2) naming its flag and the value given."""
    with pytest.raises(ScheduleError) as info:
        Schedule.from_flags(**flags)
    assert isinstance(info.value, ConfigError)
    assert info.value.flag == flag
    value = next(iter(flags.values()))
    assert str(info.value).startswith(f"{flag} {value!r}: ")


def test_clock_accepts_seconds() -> None:
    """HH:MM:SS is read to the second."""
    assert parse_clock("07:05:09", "--quota-reset") == time(7, 5, 9)


def test_daytime_window_contains_start_not_end() -> None:
    """09:00-21:00 holds 09:00 and 20:59:59, not 21:00 nor 08:59."""
    window = Window.parse("09:00-21:00", SH)
    assert window.contains(sh("2026-12-01T09:00"))
    assert window.contains(sh("2026-12-01T20:59:59"))
    assert not window.contains(sh("2026-12-01T21:00"))
    assert not window.contains(sh("2026-12-01T08:59"))


def test_window_across_midnight() -> None:
    """21:00-09:00 holds late evening and early morning, not noon."""
    window = Window.parse("21:00-09:00", SH)
    assert window.contains(sh("2026-12-01T23:30"))
    assert window.contains(sh("2026-12-02T03:00"))
    assert not window.contains(sh("2026-12-01T12:00"))
    assert window.close(sh("2026-12-01T23:30")) == sh("2026-12-02T09:00")


def test_next_open_is_later_today_or_tomorrow() -> None:
    """Before the start it opens today; after the end, tomorrow; inside, now."""
    schedule = Schedule.from_flags(window="09:00-21:00")
    assert schedule.next_open(sh("2026-12-01T07:00")) == sh("2026-12-01T09:00")
    assert schedule.next_open(sh("2026-12-01T22:00")) == sh("2026-12-02T09:00")
    inside = sh("2026-12-01T10:00")
    assert schedule.next_open(inside) == inside
    assert schedule.window_close(inside) == sh("2026-12-01T21:00")
    assert schedule.window_close(sh("2026-12-01T22:00")) is None


def test_window_in_another_zone_compares_instants() -> None:
    """A UTC clock reading is judged by the window's own zone (09:00 Shanghai is 01:00 UTC)."""
    schedule = Schedule.from_flags(window="09:00-21:00")
    assert not schedule.in_window(datetime(2026, 12, 1, 0, 59, tzinfo=UTC))
    assert schedule.in_window(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert schedule.next_open(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == datetime(
        2026, 12, 1, 1, 0, tzinfo=UTC
    )


def test_window_over_a_dst_change_opens_at_local_time() -> None:
    """In a DST zone the window opens at the wall time of each day, whatever the offset."""
    berlin = ZoneInfo("Europe/Berlin")
    window = Window.parse("09:00-17:00", berlin)
    # 2026-03-29 02:00 Berlin springs forward; the evening before is UTC+1, the morning after UTC+2.
    before = datetime(2026, 3, 28, 20, 0, tzinfo=berlin)
    opens = window.next_open(before)
    assert opens.astimezone(berlin).replace(tzinfo=None) == datetime(2026, 3, 29, 9, 0)
    assert opens == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_quota_reset_is_strictly_next() -> None:
    """The next reset after 00:00 exactly is the following midnight; a custom reset time is honoured."""
    schedule = Schedule.from_flags()
    assert schedule.next_quota_reset(sh("2026-12-01T00:00")) == sh("2026-12-02T00:00")
    assert schedule.next_quota_reset(sh("2026-12-01T20:48")) == sh("2026-12-02T00:00")
    custom = Schedule.from_flags(quota_reset="06:30:15")
    assert custom.next_quota_reset(sh("2026-12-01T06:30")) == sh("2026-12-01T06:30:15")


def test_deadline_naive_is_in_tz_and_offsets_are_kept() -> None:
    """A naive deadline is read in --tz; an explicit offset or Z is taken as given."""
    assert parse_deadline("2026-12-02T18:00", SH) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert parse_deadline("2026-12-02T18:00Z", SH) == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    assert parse_deadline("2026-12-02T18:00+01:00", SH) == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    schedule = Schedule.from_flags(deadline="2026-12-02T18:00")
    assert not schedule.past_deadline(sh("2026-12-02T18:00"))
    assert schedule.past_deadline(sh("2026-12-02T18:00:01"))
    assert schedule.deadline_text() == "2026-12-02 18:00:00 Asia/Shanghai"


def test_day_is_the_calendar_day_in_tz() -> None:
    """17:00 UTC on 1 December is already 2 December in Shanghai."""
    assert Schedule.from_flags().day(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)) == date(2026, 12, 2)


def test_wait_texts() -> None:
    """The progress line's texts say when the window opens and how long the quota wait is."""
    schedule = Schedule.from_flags(window="09:00-21:00")
    assert schedule.window_wait_text() == "waiting for the send window (opens 09:00 Asia/Shanghai)"
    now = sh("2026-12-01T20:48")
    assert schedule.quota_wait_text(now) == "waiting for the daily quota (resets in 3 h 12 min)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "1 s"), (44.2, "45 s"), (60, "1 min"), (3600, "1 h"), (11520, "3 h 12 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations read as h/min/s, rounded up."""
    assert format_duration(seconds) == text


clock_times = st.times().map(lambda t: t.replace(microsecond=0))


@given(
    start=clock_times,
    end=clock_times,
    offset_s=st.integers(min_value=0, max_value=3 * 86400),
)
def test_next_open_is_inside_and_nothing_earlier_is(start: time, end: time, offset_s: int) -> None:
    """next_open is inside the window, and one second before it (when later than now) is outside."""
    if start == end:
        return
    window = Window(start, end, SH)
    now = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=offset_s)
    opens = window.next_open(now)
    assert opens >= now
    assert window.contains(opens)
    assert opens - now < timedelta(days=1)
    if opens > now:
        assert not window.contains(opens - timedelta(seconds=1))
        closes = window.close(opens)
        assert closes is not None
        assert closes > opens


# -- DST days: the window as a wall clock shows it -------------------------------------------------------

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    """A UTC instant (DST days are easiest to read in UTC: the wall clock repeats or skips)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_fall_back_closes_at_the_first_end_and_stays_closed_in_the_repeated_hour() -> None:
    """New York, 2026-11-01: 01:30 occurs twice; 21:00-01:30 closes at the first (01:30 EDT) for the night."""
    window = Window.parse("21:00-01:30", NY)
    assert window.contains(utc("2026-11-01T05:29"))  # 01:29 EDT
    assert window.close(utc("2026-11-01T01:00")) == utc("2026-11-01T05:30")  # from 21:00 EDT
    assert not window.contains(utc("2026-11-01T05:30"))  # 01:30 EDT
    assert not window.contains(utc("2026-11-01T06:00"))  # 01:00 EST, the wall clock's second 01:00
    assert not window.contains(utc("2026-11-01T06:29"))  # 01:29 EST
    assert window.close(utc("2026-11-01T06:15")) is None
    assert window.next_open(utc("2026-11-01T06:15")) == utc("2026-11-02T02:00")  # 21:00 EST


def test_spring_forward_closes_a_skipped_end_at_the_transition() -> None:
    """New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 21:00-02:30 closes at the jump, not 03:30 EDT."""
    window = Window.parse("21:00-02:30", NY)
    assert window.contains(utc("2026-03-08T06:59"))  # 01:59 EST
    assert window.close(utc("2026-03-08T02:00")) == utc("2026-03-08T07:00")  # the transition
    assert not window.contains(utc("2026-03-08T07:00"))  # 03:00 EDT
    assert window.next_open(utc("2026-03-08T07:10")) == utc("2026-03-09T01:00")  # 21:00 EDT


def test_spring_forward_opens_a_skipped_start_at_the_transition() -> None:
    """02:30-04:00 on the spring-forward day opens when the clock jumps to 03:00, not at 03:30."""
    window = Window.parse("02:30-04:00", NY)
    assert window.next_open(utc("2026-03-08T06:00")) == utc("2026-03-08T07:00")
    assert window.contains(utc("2026-03-08T07:00"))
    assert window.close(utc("2026-03-08T07:00")) == utc("2026-03-08T08:00")  # 04:00 EDT


def test_a_window_wholly_in_the_skipped_hour_is_empty_that_day_and_opens_the_next() -> None:
    """02:00-03:00 shows on no wall clock on 2026-03-08 in New York: next_open is 02:00 EDT on the 9th."""
    window = Window.parse("02:00-03:00", NY)
    opens = window.next_open(utc("2026-03-08T06:00"))  # 01:00 EST
    assert opens == utc("2026-03-09T06:00")
    assert window.contains(opens)
    assert window.close(opens) == utc("2026-03-09T07:00")


def test_london_fall_back_and_spring_forward() -> None:
    """London: 22:00-01:30 closes at 01:30 BST on 2026-10-25, and at the 01:00 GMT jump on 2026-03-29."""
    window = Window.parse("22:00-01:30", LONDON)
    assert window.close(utc("2026-10-24T22:00")) == utc("2026-10-25T00:30")  # 01:30 BST
    assert not window.contains(utc("2026-10-25T01:00"))  # 01:00 GMT, the second 01:00
    assert window.next_open(utc("2026-10-25T01:00")) == utc("2026-10-25T22:00")
    assert window.close(utc("2026-03-28T22:30")) == utc("2026-03-29T01:00")  # 01:30 never shows
    assert not window.contains(utc("2026-03-29T01:00"))  # 02:00 BST
    assert window.next_open(utc("2026-03-29T01:00")) == utc("2026-03-29T21:00")  # 22:00 BST


def test_shanghai_windows_are_unchanged() -> None:
    """No DST in Asia/Shanghai: 21:00-09:00 opens at 13:00 UTC and closes at 01:00 UTC, every day."""
    window = Window.parse("21:00-09:00", SH)
    for day in (date(2026, 3, 8), date(2026, 11, 1), date(2026, 10, 25)):
        now = datetime.combine(day, time(12, 0), tzinfo=UTC)
        assert window.next_open(now) == now.replace(hour=13)
        assert window.close(now.replace(hour=13)) == now.replace(hour=1) + timedelta(days=1)


dst_days = st.sampled_from(
    [utc("2026-03-07T12:00"), utc("2026-10-31T12:00"), utc("2026-03-28T12:00"), utc("2026-10-24T12:00")]
)


@given(
    start=clock_times,
    end=clock_times,
    zone=st.sampled_from([NY, LONDON]),
    day=dst_days,
    offset_s=st.integers(min_value=0, max_value=2 * 86400),
)
def test_open_only_while_the_wall_clock_is_between_start_and_end(
    start: time, end: time, zone: ZoneInfo, day: datetime, offset_s: int
) -> None:
    """Across DST changes: inside means the wall clock reads between start and end; next_open is inside."""
    if start == end:
        return
    window = Window(start, end, zone)
    now = day + timedelta(seconds=offset_s)
    wall = now.astimezone(zone).time()
    within = start <= wall < end if start < end else (wall >= start or wall < end)
    if window.contains(now):
        assert within
    opens = window.next_open(now)
    assert opens >= now
    assert window.contains(opens)
    assert opens - now < timedelta(days=2)
    closes = window.close(opens)
    assert closes is not None
    assert closes > opens
    if opens > now:
        assert not window.contains(opens - timedelta(seconds=1))
