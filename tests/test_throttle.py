"""The throttle: in-flight bound, shared pause on rate limits, AIMD rate; the window and quota gate."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from getui_async.errors import DeadlinePassed, OutsideWindow, PaceStop, WaitInterrupted
from getui_async.events import Observers, Throttled, WaitEnded, WaitStarted
from getui_async.leaky_bucket import LeakyBucket
from getui_async.schedule import Schedule
from getui_async.throttle import DECREASE_FACTOR, INCREASE_FRACTION, Throttle
from getui_async.window import MAX_SLEEP_S, QUOTA_GRACE_S, PaceEvent, WindowGate


async def test_in_flight_is_bounded() -> None:
    """No more than `concurrency` holders at once."""
    throttle = Throttle(concurrency=3)
    inside = peak = 0

    async def hold() -> None:
        nonlocal inside, peak
        async with throttle:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(20)))
    assert peak == 3


async def test_rate_limit_pauses_everyone_until_the_window_edge() -> None:
    """After one report, nobody enters until the next window; then everyone does."""
    events: list[object] = []
    throttle = Throttle(concurrency=10, window_s=0.2, observers=Observers([events.append]), rate_per_s=100)
    throttle.rate_limited(10005)
    assert throttle.paused
    entered: list[int] = []

    async def enter(i: int) -> None:
        async with throttle:
            entered.append(i)

    tasks = [asyncio.create_task(enter(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert entered == []
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
    assert sorted(entered) == [0, 1, 2, 3, 4]
    assert not throttle.paused
    (event,) = events
    assert isinstance(event, Throttled)
    assert event.code == 10005
    assert 0 < event.pause_s <= 0.2 + 0.25 + 1e-6


async def test_reports_during_a_pause_are_one_event() -> None:
    """N workers reporting the same limit cause one pause and one rate cut."""
    events: list[object] = []
    throttle = Throttle(concurrency=4, window_s=60, rate_per_s=100, observers=Observers([events.append]))
    for _ in range(10):
        throttle.rate_limited(10005)
    assert len(events) == 1
    assert throttle.pauses == 1
    assert throttle.rate_per_s == pytest.approx(100 * DECREASE_FACTOR)


async def test_rate_climbs_back_to_the_ceiling() -> None:
    """After a cut, the rate rises by additive steps and stops at the user's --rate."""
    throttle = Throttle(concurrency=4, window_s=0.04, rate_per_s=1000)
    throttle.rate_limited(10005)
    assert throttle.rate_per_s == pytest.approx(700)
    seen = []
    for _ in range(400):
        async with throttle:
            pass
        seen.append(throttle.rate_per_s)
        if throttle.rate_per_s == 1000:
            break
        await asyncio.sleep(0.005)
    assert seen[-1] == 1000
    steps = sorted({r for r in seen if r is not None})
    assert steps[1] - steps[0] == pytest.approx(1000 * INCREASE_FRACTION)


async def test_unlimited_rate_gets_a_limit_from_measurement_on_throttle() -> None:
    """Without --rate, a throttle reply sets a limit below the measured request rate."""
    throttle = Throttle(concurrency=4, window_s=60)
    assert throttle.rate_per_s is None
    for _ in range(50):
        async with throttle:
            pass
    throttle.rate_limited(10005)
    assert throttle.rate_per_s is not None
    assert throttle.rate_per_s >= 1.0


async def test_a_rate_cut_reaches_requests_already_waiting() -> None:
    """A request queued for the rate when it is cut waits by the new rate, with the newcomers."""
    throttle = Throttle(concurrency=10, rate_per_s=2, window_s=1.0, wall_clock=lambda: 0.9)
    loop = asyncio.get_running_loop()
    entered: list[float] = []

    async def enter() -> None:
        async with throttle:
            entered.append(loop.time())

    # A burst of 2 passes at once; the third waits for the bucket (0.5 s at 2/s).
    tasks = [asyncio.create_task(enter()) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert len(entered) == 2
    throttle.rate_limited(10005)  # 1.4/s from now; newcomers pause 0.35 s (wall clock 0.9 of a 1 s window)
    tasks += [asyncio.create_task(enter()) for _ in range(2)]
    await asyncio.sleep(0.8)
    # One bucket: the waiter needs ~1.07 s more at 1.4/s, nobody passes before it. Two limiters side by
    # side let the old waiter through at 0.5 s and both newcomers on the fresh one: 5 by now.
    assert len(entered) <= 3
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert entered[2] - entered[0] >= 0.9  # the waiter went by the cut rate, first among five


async def test_bucket_rate_change_wakes_the_waiter() -> None:
    """Raising the rate lets the waiter at the head through by the new rate, not the old one."""
    bucket = LeakyBucket(0.1)  # one a 10 s
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    bucket.set_rate(100.0)
    await asyncio.wait_for(waiter, timeout=1)
    assert bucket.rate_per_s == 100.0


# -- the window gate ---------------------------------------------------------------------------------

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
