"""Intake: records in, decided lines and queued requests out; stops go to the run's control."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

from getui_async.config import Mode
from getui_async.dedupe import DuplicateFilter
from getui_async.errors import InputError
from getui_async.feed import Feed
from getui_async.intake import (
    Intake,
    IntakeParts,
    IntakeSettings,
    Job,
    Screen,
    StreamCheck,
    record_decided,
)
from getui_async.messages import MessageTemplate
from getui_async.outcome import Status, StopReason
from getui_async.planner import Plan, Planner
from getui_async.results import ResultsLog, ResumeState
from getui_async.sources import open_source

from .stubs import Control, Lines

SHARED = MessageTemplate.simple(title="Hi", body="Body")
PERSONAL = MessageTemplate.simple(title="Hi {name}", body="Body")


async def run_intake(
    rows: Any,
    *,
    template: MessageTemplate = SHARED,
    dry_run: bool = False,
    resume: ResumeState | None = None,
    screen: Screen | None = None,
    stream: StreamCheck | None = None,
) -> tuple[Intake, Lines, Control, list[Plan[Job] | None]]:
    """Run an intake over ``rows`` (one sender) and return it with its lines, stops and queue."""
    source = open_source(rows)
    feed = Feed(source, asyncio.get_running_loop()).start()
    lines, control = Lines(), Control()
    dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=100)
    planner: Planner[Job] = Planner(Mode.BATCH, batch_size=2)
    intake = Intake(
        feed,
        IntakeParts(template, dedupe, planner, screen),
        cast(ResultsLog, lines),
        resume or ResumeState(),
        settings=IntakeSettings("camp-1", dry_run=dry_run, stream=stream),
        control=control,
    )
    queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue()
    try:
        await intake.run(queue, 1)
    finally:
        feed.close()
        dedupe.close()
        source.close()
    queued = [queue.get_nowait() for _ in range(queue.qsize())]
    return intake, lines, control, queued


def targets(queued: list[Plan[Job] | None]) -> list[list[str]]:
    return [[job.target for job in plan.items] for plan in queued if plan is not None]


async def test_records_are_planned_and_decided_ones_get_their_line() -> None:
    """Good records go to the queue in requests; a bad record is rejected, a repeat is a duplicate."""
    rows = [{"cid": "a"}, {"cid": ""}, {"cid": "b"}, {"cid": "a"}, {"cid": "c"}]
    intake, lines, control, queued = await run_intake(rows)
    assert targets(queued) == [["a", "b"], ["c"]]
    assert queued[-1] is None  # the end marker for the one sender
    assert lines.statuses() == [(2, Status.REJECTED), (4, Status.DUPLICATE)]
    assert (intake.records, intake.skipped, intake.complete) == (5, 0, True)
    assert control.stops == []


async def test_a_dry_run_validates_and_queues_nothing() -> None:
    """With dry_run every good record gets a ``validated`` line and no request is queued."""
    _, lines, _, queued = await run_intake([{"cid": "a"}, {"cid": "b"}], dry_run=True)
    assert targets(queued) == []
    assert lines.statuses() == [(1, Status.VALIDATED), (2, Status.VALIDATED)]


async def test_records_an_earlier_run_finished_are_skipped() -> None:
    """A resumed run skips the records with a final line but still counts them as duplicates' firsts."""
    resume = ResumeState()
    resume.add(1)
    intake, lines, _, queued = await run_intake([{"cid": "a"}, {"cid": "a"}, {"cid": "b"}], resume=resume)
    assert targets(queued) == [["b"]]
    assert lines.statuses() == [(2, Status.DUPLICATE)]
    assert intake.skipped == 1


async def test_the_screen_decides_recipients_before_they_are_queued() -> None:
    """A screen's decided recipients get their line through the shared helper; the rest are queued."""

    class DropB:
        async def screen(self, plans: list[Plan[Job]], results: ResultsLog) -> list[Plan[Job]]:
            left = []
            for plan in plans:
                kept = []
                for job in plan.items:
                    if job.target == "b":
                        record_decided(results, job, Status.EXCLUDED, "on a list")
                    else:
                        kept.append(job)
                if kept:
                    left.append(Plan(plan.endpoint, plan.kind, tuple(kept)))
            return left

    _, lines, _, queued = await run_intake([{"cid": "a"}, {"cid": "b"}, {"cid": "c"}], screen=DropB())
    assert targets(queued) == [["a"], ["c"]]
    assert [(line["target"], line["status"], line["msg"]) for line in lines.lines] == [
        ("b", Status.EXCLUDED, "on a list")
    ]
    assert lines.lines[0]["request_id"]  # the same request_id a send would have used


async def test_an_unreadable_input_stops_the_run_with_reason_input() -> None:
    """An input error past the first records stops the run (``input``) instead of raising."""

    def rows() -> Iterator[dict[str, str]]:
        yield {"cid": "a"}
        raise InputError("<rows>", "the connection dropped")

    intake, _, control, _ = await run_intake(rows())
    assert [reason for reason, _ in control.stops] == [StopReason.INPUT]
    assert "the connection dropped" in control.stops[0][1]
    assert not intake.complete


async def test_a_changed_stream_stops_the_run_with_its_refusal() -> None:
    """A resumed stream that differs from the earlier run's stops the run with ``input_changed``."""

    class Differs:
        matches = False

    stream = StreamCheck(cast(Any, Differs()), refusal="not the same input")
    intake, lines, control, queued = await run_intake([{"cid": "a"}], stream=stream)
    assert control.stops == [(StopReason.INPUT_CHANGED, "not the same input")]
    assert (lines.lines, targets(queued)) == ([], [])
    assert not intake.complete


async def test_personalized_content_in_list_mode_is_rejected() -> None:
    """A message rendered per recipient cannot go in a list push: the record is rejected, not sent."""
    source = open_source([{"cid": "a", "name": "x"}])
    feed = Feed(source, asyncio.get_running_loop()).start()
    lines, control = Lines(), Control()
    dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=10)
    intake = Intake(
        feed,
        IntakeParts(PERSONAL, dedupe, Planner(Mode.LIST)),
        cast(ResultsLog, lines),
        ResumeState(),
        settings=IntakeSettings("camp-1"),
        control=control,
    )
    try:
        await intake.run(None, 0)
    finally:
        feed.close()
        dedupe.close()
        source.close()
    assert lines.statuses() == [(1, Status.REJECTED)]
    assert "--mode list" in lines.lines[0]["msg"]
