"""Intake with variants: each record rendered by its variant, held-out records never reach the screen."""

from __future__ import annotations

import asyncio
from typing import cast

from getui_async.config import Mode
from getui_async.dedupe import DuplicateFilter
from getui_async.feed import Feed
from getui_async.intake import Intake, IntakeParts, IntakeSettings, Job
from getui_async.messages import MessageTemplate
from getui_async.outcome import Status
from getui_async.planner import Plan, Planner
from getui_async.results import ResultsLog, ResumeState
from getui_async.sources import open_source
from getui_async.variants import HOLDOUT, Experiment, Variant
from tests.engine.stubs import Control, Lines

CAMPAIGN = "camp-v"
EXPERIMENT = Experiment(
    (
        Variant("A", MessageTemplate.simple(title="Title A", body="x")),
        Variant("B", MessageTemplate.simple(title="Title B {name}", body="y")),
    ),
    holdout_pct=30,
)


class Seen:
    """A screen (exclusions, caps) that lets everything through and remembers whom it saw."""

    def __init__(self) -> None:
        self.targets: list[str] = []

    async def screen(self, plans: list[Plan[Job]], results: ResultsLog) -> list[Plan[Job]]:
        self.targets += [job.target for plan in plans for job in plan.items]
        return plans


async def test_held_out_records_get_their_line_and_never_reach_the_screen() -> None:
    """Held-out: a ``held_out`` line naming the holdout; others are planned per variant, each its message."""
    rows = [{"cid": f"c{i}", "name": f"n{i}"} for i in range(300)]
    source = open_source(rows)
    feed = Feed(source, asyncio.get_running_loop()).start()
    lines, seen = Lines(), Seen()
    dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=1000)
    planner: Planner[Job] = Planner(Mode.AUTO, list_chunk=50)
    intake = Intake(
        feed,
        IntakeParts(EXPERIMENT.variants[0].template, dedupe, planner, seen, EXPERIMENT),
        cast(ResultsLog, lines),
        ResumeState(),
        settings=IntakeSettings(CAMPAIGN),
        control=Control(),
    )
    queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue()
    try:
        await intake.run(queue, 1)
    finally:
        feed.close()
        dedupe.close()
        source.close()
    plans = [p for p in (queue.get_nowait() for _ in range(queue.qsize())) if p is not None]
    assign = EXPERIMENT.assigner(CAMPAIGN)
    held = {f"c{i}" for i in range(300) if assign("cid", f"c{i}") == HOLDOUT}
    assert 60 < len(held) < 120
    assert {line["target"] for line in lines.lines} == held
    assert {(line["status"], line["variant"]) for line in lines.lines} == {(Status.HELD_OUT, HOLDOUT)}
    assert held.isdisjoint(seen.targets)
    assert len(seen.targets) == 300 - len(held)
    for plan in plans:
        assert {job.variant for job in plan.items} == {plan.variant}
        for job in plan.items:
            assert job.variant == assign("cid", job.target)
            title = job.message.push_message["notification"]["title"]
            assert title.startswith(f"Title {plan.variant}")
