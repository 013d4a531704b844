"""The window gate: one shared wait for the send window and the daily quota, on a fake wall clock."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from getui_async.errors import DeadlinePassed, OutsideWindow, PaceStop, WaitInterrupted
from getui_async.events import WaitEnded, WaitStarted
from getui_async.schedule import Schedule
from getui_async.throttle import Throttle
from getui_async.window import MAX_SLEEP_S, QUOTA_GRACE_S, PaceEvent, WindowGate

SH = ZoneInfo("Asia/Shanghai")


def sh_ts(text: str) -> float:
    """Epoch seconds of a Shanghai wall time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).timestamp()


class FakeClock:
    """A wall clock that only moves when the gate sleeps."""

    def __init__(self, start: str) -> None:
        self.now = sh_ts(start)
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def _forever(seconds: float) -> None:
    """A sleep that only a stop can end."""
    await asyncio.Event().wait()


def gate_for(clock: FakeClock, events: list[PaceEvent] | None = None, **flags: Any) -> WindowGate:
    options = {k: flags.pop(k) for k in ("no_wait",) if k in flags}
    sink = events.append if events is not None else None
    return WindowGate(Schedule.from_flags(**flags), on_event=sink, clock=clock, sleep=clock.sleep, **options)


async def test_inside_the_window_there_is_no_wait() -> None:
    """Inside the window wait_window returns at once, without an event or a sleep."""
    clock, events = FakeClock("2026-12-01T10:00"), list[PaceEvent]()
    gate = gate_for(clock, events, window="09:00-21:00")
    await gate.wait_window()
    assert gate.is_open()
    assert events == []
    assert clock.sleeps == []


async def test_outside_the_window_everyone_waits_once_until_it_opens() -> None:
    """Outside, all workers share one wait that ends exactly when the window opens."""
    clock, events = FakeClock("2026-12-01T07:00"), list[PaceEvent]()
    gate = gate_for(clock, events, window="09:00-21:00")
    await asyncio.wait_for(asyncio.gather(*(gate.wait_window() for _ in range(5))), timeout=5)
    assert clock.now == sh_ts("2026-12-01T09:00")
    assert max(clock.sleeps) <= MAX_SLEEP_S
    started, ended = events
    assert isinstance(started, WaitStarted)
    assert started.text == "waiting for the send window (opens 09:00 Asia/Shanghai)"
    assert started.wait_s == 7200
    assert isinstance(ended, WaitEnded)
    assert (ended.reason, ended.outcome, ended.waited_s) == ("window", "resumed", 7200)
    assert gate.waits == (ended,)
    assert ended.to_dict()["until"] == "2026-12-01T01:00:00Z"


async def test_no_wait_outside_the_window_is_a_stop() -> None:
    """With no_wait, a request due outside the window raises OutsideWindow (exit 3), nothing waits."""
    clock = FakeClock("2026-12-01T22:00")
    gate = gate_for(clock, window="09:00-21:00", no_wait=True)
    with pytest.raises(OutsideWindow) as info:
        await gate.wait_window()
    assert isinstance(info.value, PaceStop)
    assert info.value.opens_at.timestamp() == sh_ts("2026-12-02T09:00")
    assert clock.sleeps == []


async def test_a_stop_ends_the_wait_at_once() -> None:
    """stop() during a wait wakes every waiter with WaitInterrupted; the wait is recorded as stopped."""
    events: list[PaceEvent] = []
    clock = FakeClock("2026-12-01T07:00")
    gate = WindowGate(
        Schedule.from_flags(window="09:00-21:00"), on_event=events.append, clock=clock, sleep=_forever
    )
    waiters = [asyncio.create_task(gate.wait_window()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert gate.current is not None
    gate.stop()
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), timeout=2)
    assert all(isinstance(r, WaitInterrupted) for r in results)
    assert gate.waits[-1].outcome == "stopped"
    assert gate.current is None
    with pytest.raises(WaitInterrupted):
        await gate.wait_window()


async def test_a_window_opening_after_the_deadline_is_a_stop() -> None:
    """A wait that would end past --deadline stops at once instead of waiting."""
    clock = FakeClock("2026-12-01T22:00")
    gate = gate_for(clock, window="09:00-21:00", deadline="2026-12-02T08:00")
    with pytest.raises(DeadlinePassed, match="after the deadline 2026-12-02 08:00:00 Asia/Shanghai"):
        await gate.wait_window()
    assert clock.sleeps == []


async def test_quota_wait_holds_everyone_until_the_reset() -> None:
    """A quota reply makes one shared wait until --quota-reset; other requests can't start meanwhile."""
    clock, events = FakeClock("2026-12-01T20:48"), list[PaceEvent]()
    gate = gate_for(clock, events)
    sent_at = clock()
    waiting = [asyncio.create_task(gate.wait_quota_reset(started_at=sent_at)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not gate.is_open()
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    assert clock.now == sh_ts("2026-12-02T00:00")
    assert gate.is_open()
    started = events[0]
    assert isinstance(started, WaitStarted)
    assert started.text == "waiting for the daily quota (resets in 3 h 12 min)"
    assert [w.reason for w in gate.waits] == ["quota"]


async def test_a_quota_reply_to_a_request_sent_before_the_reset_is_stale() -> None:
    """A refusal of a request sent before the reset the gate already waited for does not wait again."""
    clock = FakeClock("2026-12-01T23:59")
    gate = gate_for(clock)
    sent_at = clock()
    await gate.wait_quota_reset(started_at=sent_at)
    await gate.wait_quota_reset(started_at=sent_at)  # a second worker's late answer
    assert len(gate.waits) == 1
    clock.now += QUOTA_GRACE_S  # a fresh refusal well after the reset: wait for the next day
    await gate.wait_quota_reset()
    assert len(gate.waits) == 2
    assert clock.now == sh_ts("2026-12-03T00:00")


async def test_a_refusal_just_after_the_reset_retries_soon_instead_of_waiting_a_day() -> None:
    """Getui's reset may come a little after ours: refusals right after it retry in 1, 2, 4 ... s."""
    clock, events = FakeClock("2026-12-01T23:59"), list[PaceEvent]()
    gate = gate_for(clock, events)
    await gate.wait_quota_reset()
    reset = sh_ts("2026-12-02T00:00")
    assert clock.now == reset
    await gate.wait_quota_reset()
    assert clock.now == reset + 1
    await gate.wait_quota_reset()
    assert clock.now == reset + 3
    texts = [e.text for e in events if isinstance(e, WaitStarted)]
    assert texts[1:] == [
        "waiting for the daily quota (not reset yet; again in 1 s)",
        "waiting for the daily quota (not reset yet; again in 2 s)",
    ]
    assert [w.outcome for w in gate.waits] == ["resumed"] * 3


async def test_after_the_quota_reset_the_window_still_applies() -> None:
    """A quota reset at 00:00 outside a 09:00-21:00 window goes on waiting for the window."""
    clock = FakeClock("2026-12-01T20:30")
    gate = gate_for(clock, window="09:00-21:00", quota_reset="00:00")
    await asyncio.wait_for(gate.wait_quota_reset(), timeout=5)
    assert clock.now == sh_ts("2026-12-02T09:00")
    assert [w.reason for w in gate.waits] == ["quota", "window"]


async def test_quota_reset_after_the_deadline_is_a_stop() -> None:
    """--deadline bounds the quota wait too."""
    clock = FakeClock("2026-12-01T20:30")
    gate = gate_for(clock, deadline="2026-12-01T23:00")
    with pytest.raises(DeadlinePassed, match="the daily quota resets"):
        await gate.wait_quota_reset()


async def test_a_cancelled_waiter_leaves_the_shared_wait_running() -> None:
    """Cancelling one worker does not cancel the wait the others are in."""
    clock = FakeClock("2026-12-01T07:00")
    gate = gate_for(clock, window="09:00-21:00")
    first = asyncio.create_task(gate.wait_window())
    second = asyncio.create_task(gate.wait_window())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.wait_for(second, timeout=5)
    assert first.cancelled()
    assert gate.waits[-1].outcome == "resumed"


async def test_throttle_with_a_gate_starts_requests_only_inside_the_window() -> None:
    """A request queued for a slot as the window closes waits for the next opening; in-flight ones finish."""
    clock = FakeClock("2026-12-01T20:59:59")
    gate = gate_for(clock, window="09:00-21:00")
    throttle = Throttle(concurrency=1, gate=gate)
    started_at: list[float] = []
    release = asyncio.Event()

    async def request(hold: bool) -> None:
        async with throttle:
            started_at.append(clock())
            if hold:
                await release.wait()

    first = asyncio.create_task(request(True))
    await asyncio.sleep(0)
    second = asyncio.create_task(request(False))
    await asyncio.sleep(0)
    clock.now = sh_ts("2026-12-01T21:00:30")  # the window closed while the first was in flight
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=5)
    assert started_at == [sh_ts("2026-12-01T20:59:59"), sh_ts("2026-12-02T09:00")]


def utc_ts(text: str) -> float:
    """Epoch seconds of a UTC time."""
    return datetime.fromisoformat(text + "+00:00").timestamp()


async def test_gate_closes_on_the_fall_back_night_and_waits_for_the_next_evening() -> None:
    """21:00-01:30 New York: closed from 01:30 EDT on 2026-11-01, through the repeated hour, until 21:00."""
    clock, events = FakeClock("2026-11-01T11:00"), list[PaceEvent]()
    clock.now = utc_ts("2026-11-01T03:00")  # 23:00 EDT on the 31st: inside
    gate = gate_for(clock, events, window="21:00-01:30", tz="America/New_York")
    assert gate.is_open()
    clock.now = utc_ts("2026-11-01T06:00")  # 01:00 EST: the wall clock shows 01:00 a second time
    assert not gate.is_open()
    await gate.wait_window()
    assert clock.now == utc_ts("2026-11-02T02:00")  # 21:00 EST
    started = events[0]
    assert isinstance(started, WaitStarted)
    assert started.until == datetime.fromisoformat("2026-11-02T02:00+00:00")


async def test_gate_closes_at_the_spring_forward_jump() -> None:
    """21:00-02:30 New York on 2026-03-08: 02:30 never shows, so the gate closes at the 03:00 EDT jump."""
    clock = FakeClock("2026-03-08T11:00")
    clock.now = utc_ts("2026-03-08T06:59")  # 01:59 EST
    gate = gate_for(clock, window="21:00-02:30", tz="America/New_York")
    assert gate.is_open()
    clock.now = utc_ts("2026-03-08T07:10")  # 03:10 EDT: still before a 02:30 EST reading of the end
    assert not gate.is_open()
