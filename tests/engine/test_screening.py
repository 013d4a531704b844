"""Screening: excluded and capped recipients get their line before a request is queued."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from getui_async.config import PaceSettings
from getui_async.exclusions import ExclusionSet
from getui_async.intake import Job
from getui_async.ledger import FrequencyCap, SqliteLedger
from getui_async.outcome import Status
from getui_async.pace_flags import schedule_of
from getui_async.planner import Endpoint, Plan
from getui_async.results import ResultsLog
from getui_async.screening import Screening

from .stubs import Lines

CID_A, CID_B, CID_C = "a" * 32, "b" * 32, "c" * 32
SCHEDULE = schedule_of(PaceSettings())


def plan_of(*targets: str) -> Plan[Job]:
    jobs = [Job(t, f"rid-{n}", cast(Any, None), "cid", n, n) for n, t in enumerate(targets, 1)]
    return Plan(Endpoint.BATCH, "cid", tuple(jobs))


async def test_excluded_recipients_get_a_line_and_the_rest_go_on(tmp_path: Path) -> None:
    """A recipient on an exclusion list is ``excluded`` (naming the file); the plan keeps the others."""
    listed = tmp_path / "unsubscribed.txt"
    listed.write_text(f"{CID_B}\n")
    lines = Lines()
    with ExclusionSet.load([listed]) as excluded:
        screening = Screening(SCHEDULE, excluded, None)
        kept = await screening.screen(plan_of(CID_A, CID_B, CID_C), cast(ResultsLog, lines))
    assert kept is not None
    assert [job.target for job in kept.items] == [CID_A, CID_C]
    assert [(line["target"], line["status"]) for line in lines.lines] == [(CID_B, Status.EXCLUDED)]
    assert "unsubscribed.txt" in lines.lines[0]["msg"]
    assert lines.lines[0]["request_id"] == "rid-2"


async def test_a_recipient_at_the_cap_is_capped_and_an_empty_plan_is_dropped(tmp_path: Path) -> None:
    """Other campaigns' deliveries today at ``--max-per-day``: ``capped``; nothing left means no request."""
    today = SCHEDULE.day(datetime.now(timezone.utc))
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        ledger.record("another", today, [("cid", CID_A)])
        screening = Screening(SCHEDULE, None, FrequencyCap(ledger, "camp-1", 1))
        lines = Lines()
        kept = await screening.screen(plan_of(CID_A), cast(ResultsLog, lines))
        untouched = await screening.screen(plan_of(CID_B), cast(ResultsLog, lines))
    assert kept is None
    assert untouched is not None
    assert [job.target for job in untouched.items] == [CID_B]
    assert [(line["target"], line["status"]) for line in lines.lines] == [(CID_A, Status.CAPPED)]
    assert "over --max-per-day 1" in lines.lines[0]["msg"]
