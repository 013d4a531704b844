"""The stop switch: which reason wins, who is woken, and waits a stop cuts short."""

from __future__ import annotations

import asyncio

from getui_async.events import CampaignStopping, Event, Observers
from getui_async.outcome import StopReason
from getui_async.stopping import StopSwitch


def switch_with_events() -> tuple[StopSwitch, list[Event]]:
    seen: list[Event] = []
    return StopSwitch(Observers([seen.append])), seen


async def test_the_first_ordinary_reason_stands() -> None:
    """A second ordinary stop does not replace the first (the summary names what stopped the run)."""
    switch, seen = switch_with_events()
    assert switch.request(StopReason.QUOTA, "spent")
    assert not switch.request(StopReason.SIGNAL, "SIGINT received")
    assert (switch.reason, switch.detail) == (StopReason.QUOTA, "spent")
    assert seen == [CampaignStopping(StopReason.QUOTA, "spent")]


async def test_a_higher_priority_reason_wins_over_an_earlier_stop() -> None:
    """A write error outranks a signal, a changed input outranks both; a plain string is accepted."""
    switch, _ = switch_with_events()
    switch.request("signal")
    assert switch.request(StopReason.WRITE_ERROR, "disk full")
    assert switch.request(StopReason.INPUT_CHANGED, "not the same input")
    assert not switch.request(StopReason.WRITE_ERROR, "disk full again")
    assert switch.reason is StopReason.INPUT_CHANGED
    assert switch.reason.exit_code == 2


async def test_hooks_run_on_a_stop_and_at_once_when_registered_late() -> None:
    """A part registered after the stop is told at once, so it never waits for a stop that came."""
    switch, _ = switch_with_events()
    calls: list[str] = []
    switch.on_stop(lambda: calls.append("early"))
    switch.request(StopReason.FATAL, "boom")
    switch.on_stop(lambda: calls.append("late"))
    assert calls == ["early", "late"]


async def test_unless_stopped_cancels_work_a_stop_overtakes() -> None:
    """Work still running when the run stops is cancelled and gives None."""
    switch, _ = switch_with_events()
    cancelled = asyncio.Event()

    async def slow() -> int:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    asyncio.get_running_loop().call_later(0.01, switch.request, StopReason.SIGNAL)
    assert await switch.unless_stopped(slow()) is None
    assert cancelled.is_set()
