"""The throttle: in-flight bound, shared pause on rate limits, AIMD rate."""

from __future__ import annotations

import asyncio

import pytest

from getui_async.events import Observers, Throttled
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
