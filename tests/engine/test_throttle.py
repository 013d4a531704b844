"""The throttle: in-flight bound, shared pause on rate limits, AIMD rate in one leaky bucket."""

from __future__ import annotations

import asyncio

import pytest

from getui_async.events import Observers, Throttled
from getui_async.leaky_bucket import LeakyBucket
from getui_async.throttle import DECREASE_FACTOR, INCREASE_FRACTION, Throttle


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
