"""A stop caused by an error inside intake (a ledger or any other) ends at once when nothing is in flight."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest

from getui_async.config import Mode
from getui_async.dedupe import DuplicateFilter
from getui_async.events import Observers
from getui_async.feed import Feed
from getui_async.intake import Intake, IntakeParts, IntakeSettings, Job
from getui_async.messages import MessageTemplate
from getui_async.outcome import StopReason
from getui_async.planner import Plan, Planner
from getui_async.results import ResultsLog, ResumeState
from getui_async.sources import open_source
from getui_async.stopping import StopSwitch, supervise
from tests.engine.stubs import Lines

DRAIN_TIMEOUT_S = 30.0
BOUND_S = 5.0
WORKERS = 4


class Broken:
    """A screen that fails on the first request, as a ledger read used to."""

    async def screen(self, plans: list[Plan[Job]], results: ResultsLog) -> list[Plan[Job]]:
        raise RuntimeError("database disk image is malformed")


class Run:
    """The run as intake sees it, over a real stop switch."""

    def __init__(self, switch: StopSwitch) -> None:
        self.switch = switch

    @property
    def stopping(self) -> bool:
        return self.switch.stopped

    def request_stop(self, reason: StopReason, detail: str = "") -> None:
        self.switch.request(reason, detail)


async def worker(queue: asyncio.Queue[Plan[Job] | None]) -> None:
    """Like the dispatcher's: take plans until the end marker."""
    while await queue.get() is not None:
        pass


async def test_an_intake_error_does_not_wait_out_the_drain_timeout(caplog: pytest.LogCaptureFixture) -> None:
    """Intake raises with every worker idle on the queue: the run ends at once, raising the error, and
    never says requests were in flight."""
    source = open_source([{"cid": f"{n:032x}"} for n in range(10)])
    feed = Feed(source, asyncio.get_running_loop()).start()
    switch = StopSwitch(Observers([]))
    dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=100)
    intake = Intake(
        feed,
        IntakeParts(
            MessageTemplate.simple(title="Hi", body="B"), dedupe, Planner(Mode.BATCH, batch_size=2), Broken()
        ),
        cast(ResultsLog, Lines()),
        ResumeState(),
        settings=IntakeSettings("camp-1"),
        control=Run(switch),
    )
    queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue(maxsize=2)
    tasks = [asyncio.ensure_future(intake.run(queue, WORKERS))]
    tasks += [asyncio.ensure_future(worker(queue)) for _ in range(WORKERS)]
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="malformed"):
            await asyncio.wait_for(
                supervise(tasks, switch, drain_timeout_s=DRAIN_TIMEOUT_S, resume_word="--resume"), BOUND_S
            )
    finally:
        feed.close()
        dedupe.close()
        source.close()
    assert switch.reason is StopReason.FATAL
    assert "in flight" not in caplog.text
