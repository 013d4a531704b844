"""What people see of pacing: the progress line during a wait, and the summary's statuses and waits."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone

import pytest

from getui_async.engine import Summary
from getui_async.events import WaitEnded, WaitStarted
from getui_async.progress import ProgressBar
from getui_async.schedule import Schedule
from getui_async.summary_text import format_summary
from getui_async.window import WindowGate

UNTIL = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)


def texts(bar: ProgressBar) -> list[str]:
    return [field.text for field in bar.fields()]


def test_the_progress_line_says_what_the_run_waits_for_until_the_wait_ends() -> None:
    """A WaitStarted puts its text on the line as is; the WaitEnded clears it."""
    schedule = Schedule.from_flags(window="09:00-21:00")
    text = schedule.window_wait_text()
    bar = ProgressBar(total=10, enabled=False)
    bar(WaitStarted("window", UNTIL, 60.0, text))
    assert "waiting for the send window (opens 09:00 Asia/Shanghai)" in texts(bar)
    bar(WaitEnded("window", UNTIL, 60.0, "resumed"))
    assert not any(t.startswith("waiting") for t in texts(bar))


def test_the_quota_wait_text_counts_down_in_hours_and_minutes() -> None:
    """The quota wait says how long until the reset, in words."""
    schedule = Schedule.from_flags(quota_reset="00:00", tz="Asia/Shanghai")
    now = datetime(2026, 12, 1, 12, 48, tzinfo=timezone.utc)  # 20:48 in Shanghai: 3 h 12 min to midnight
    assert schedule.quota_wait_text(now) == "waiting for the daily quota (resets in 3 h 12 min)"


def test_the_summary_counts_excluded_and_capped_and_lists_the_waits() -> None:
    """The text summary shows the two new statuses and each wait; the JSON keeps the waits."""
    summary = Summary("c1", "out.jsonl", counts=Counter(excluded=3, capped=2, successed_online=5))
    summary.waits = [WaitEnded("quota", UNTIL, 12.5, "resumed").to_dict()]
    text = format_summary(summary)
    assert "excluded" in text
    assert "capped" in text
    assert (
        "waited for the daily quota until 2026-12-02 09:00:00 +08:00 (Asia/Shanghai): 12.5 s (resumed)"
        in text
    )
    assert summary.to_dict()["waits"] == [
        {"reason": "quota", "until": "2026-12-02T01:00:00Z", "waited_s": 12.5, "outcome": "resumed"}
    ]
    assert summary.exit_code == 0  # excluded and capped do not change the exit status


async def test_a_wait_is_logged_with_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    """The log says until when the run waits (a warning: shown without a progress line too)."""
    schedule = Schedule.from_flags(window="09:00-10:00", tz="UTC")
    now = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc).timestamp()
    clock = [now]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    gate = WindowGate(schedule, clock=lambda: clock[0], sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="getui_async.window"):
        await gate.wait_window()
    assert "waiting for the send window: it opens at 2026-12-01 09:00:00 UTC" in caplog.text
    await gate.aclose()
