"""The probe gate's decisions, without a network: when it waits, halts, ends a canary or lets go."""

from __future__ import annotations

import asyncio
from typing import Any

from getui_async.config import ProbeSettings
from getui_async.errors import FatalApiError, RejectedError
from getui_async.events import Observers
from getui_async.outcome import Status, StopReason
from getui_async.probe import Gate, open_gate
from getui_async.results import CLI_WORDS
from getui_async.stopping import StopSwitch


def _gate(stop: StopSwitch, **settings: Any) -> Gate:
    gate = open_gate(ProbeSettings(**settings), stop, CLI_WORDS)
    assert gate is not None
    return gate


def _send(gate: Gate, dead: int, alive: int) -> None:
    """Queue and settle ``dead + alive`` recipients, as intake and the settler would."""
    assert gate.admit(dead + alive)
    gate.queued += dead + alive
    for _ in range(dead):
        gate.settle(Status.FAILED, 20001, "target user is invalid")
    for _ in range(alive):
        gate.settle(Status.SUCCESSED_ONLINE, 0, "")


async def test_no_checkpoint_means_no_gate() -> None:
    """The breaker off and no canary: no gate at all, so the run pays nothing."""
    assert open_gate(ProbeSettings(halt_dead_ratio=0), StopSwitch(Observers()), CLI_WORDS) is None


async def test_mostly_dead_probe_halts_naming_the_ratio() -> None:
    """6 dead of 10 with ratio 0.5: halted, the message names 60% and how to go on."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, halt_after=10)
    _send(gate, dead=6, alive=4)
    assert not await gate.checkpoint()
    assert stop.reason is StopReason.HALTED
    assert "60%" in stop.detail
    assert "--resume --halt-dead-ratio 0" in stop.detail


async def test_a_healthy_probe_lets_go_and_detaches() -> None:
    """4 dead of 10: the run goes on, and the gate tells its watchers it is done."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, halt_after=10)
    done: list[bool] = []
    gate.on_done(lambda: done.append(True))
    _send(gate, dead=4, alive=6)
    assert await gate.checkpoint()
    assert gate.done
    assert done == [True]
    assert stop.reason is None


async def test_the_checkpoint_waits_for_every_queued_outcome() -> None:
    """The decision waits until each queued recipient has its line (other failures are not dead)."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, halt_after=4)
    assert gate.admit(4)
    gate.queued = 4
    waiting = asyncio.ensure_future(gate.checkpoint())
    for _ in range(3):
        gate.settle(Status.FAILED, 20001, "target user is invalid")
        await asyncio.sleep(0)
        assert not waiting.done()
    gate.settle(Status.FAILED, 30019, "system busy")
    assert not await asyncio.wait_for(waiting, 5)
    assert stop.reason is StopReason.HALTED  # 3 of 4 dead


async def test_a_stop_ends_the_wait() -> None:
    """A Ctrl-C while the gate waits: the wait ends, the gate decides nothing."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, halt_after=4)
    assert gate.admit(4)
    gate.queued = 4
    waiting = asyncio.ensure_future(gate.checkpoint())
    await asyncio.sleep(0)
    stop.request(StopReason.SIGNAL)
    assert not await asyncio.wait_for(waiting, 5)
    assert stop.reason is StopReason.SIGNAL


async def test_the_canary_ends_after_the_breaker_judged_it() -> None:
    """--canary 5 under the breaker's 1,000: the canary's recipients are judged, then the run stops."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, canary=5)
    assert gate.room == 5
    _send(gate, dead=1, alive=4)
    assert not await gate.checkpoint()
    assert stop.reason is StopReason.CANARY
    assert "seed devices" in stop.detail


async def test_an_app_refusal_halts_only_during_the_probe() -> None:
    """10002 in the probe halts; a recipient's refusal never does; after the probe it is not the gate's."""
    stop = StopSwitch(Observers())
    gate = _gate(stop, halt_after=2)
    assert not gate.refused(RejectedError("bad", code=20001))
    _send(gate, dead=0, alive=2)
    assert await gate.checkpoint()
    assert not gate.refused(FatalApiError("appId or IP blacklisted", code=10002))
    assert stop.reason is None
    gate = _gate(stop, halt_after=2)
    assert gate.refused(FatalApiError("appId or IP blacklisted", code=10002))
    assert stop.reason is StopReason.HALTED
