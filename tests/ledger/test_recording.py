"""A run's side of the ledger: screening writes excluded/capped lines, claims are settled, faults stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from getui_async.errors import ConnectError, TransportError, error_for_reply
from getui_async.exclusions import ExclusionSet
from getui_async.intake import Job
from getui_async.ledger import Ledger, LedgerError, Settlement, SqliteLedger, today
from getui_async.ledger_recording import LedgerRecorder
from getui_async.outcome import Status
from getui_async.planner import Endpoint, Plan
from getui_async.results import ResultsLog
from getui_async.screening import Screening
from tests.engine.stubs import Lines

CID_A, CID_B, CID_C = "a" * 32, "b" * 32, "c" * 32


def plan_of(*targets: str) -> Plan[Job]:
    jobs = [Job(t, f"rid-{n}", cast(Any, None), "cid", n, n) for n, t in enumerate(targets, 1)]
    return Plan(Endpoint.BATCH, "cid", tuple(jobs))


def recorder_of(
    ledger: Ledger, lineage: str, faults: list[LedgerError], cap: int | None = 1
) -> LedgerRecorder:
    return LedgerRecorder(ledger, lineage, cap=cap, suppress=True, on_fault=faults.append)


async def test_excluded_recipients_get_a_line_and_the_rest_go_on(tmp_path: Path) -> None:
    """A recipient on an exclusion list is ``excluded`` (naming the file); the plan keeps the others."""
    listed = tmp_path / "unsubscribed.txt"
    listed.write_text(f"{CID_B}\n")
    lines = Lines()
    with ExclusionSet.load([listed]) as excluded:
        kept = await Screening(excluded, None).screen([plan_of(CID_A, CID_B, CID_C)], cast(ResultsLog, lines))
    assert [[job.target for job in plan.items] for plan in kept] == [[CID_A, CID_C]]
    assert [(line["target"], line["status"]) for line in lines.lines] == [(CID_B, Status.EXCLUDED)]
    assert "unsubscribed.txt" in lines.lines[0]["msg"]


async def test_capped_and_dead_recipients_get_lines_and_an_empty_plan_is_dropped(tmp_path: Path) -> None:
    """Claimed by another run: ``capped`` (naming the cap and the ledger's day); dead: ``excluded``."""
    ledger = await SqliteLedger.open(tmp_path / "l.sqlite")
    faults: list[LedgerError] = []
    try:
        await ledger.settle("other", Settlement(dead=[("cid", CID_C, "2026-12-01")]))
        assert await recorder_of(ledger, "other", faults).screen("cid", [CID_A]) is not None
        lines = Lines()
        screening = Screening(None, recorder_of(ledger, "mine", faults))
        assert await screening.screen([plan_of(CID_A)], cast(ResultsLog, lines)) == []
        kept = await screening.screen([plan_of(CID_B, CID_C)], cast(ResultsLog, lines))
    finally:
        await ledger.close()
    assert [[job.target for job in plan.items] for plan in kept] == [[CID_B]]
    assert [(line["target"], line["status"]) for line in lines.lines] == [
        (CID_A, Status.CAPPED),
        (CID_C, Status.EXCLUDED),
    ]
    assert "over --max-per-day 1" in lines.lines[0]["msg"]
    assert "Asia/Shanghai" in lines.lines[0]["msg"]
    assert lines.lines[1]["msg"].startswith("dead since 2026-12-01")
    assert faults == []


async def test_fates_settle_claims_at_the_flush(tmp_path: Path) -> None:
    """Delivered and unknown fates hold the claim; a Getui refusal or no connection releases it."""
    ledger = await SqliteLedger.open(tmp_path / "l.sqlite")
    faults: list[LedgerError] = []
    targets = [f"{n:032x}" for n in range(5)]
    try:
        mine = recorder_of(ledger, "mine", faults)
        await mine.screen("cid", targets)
        refused = error_for_reply(20001, "target user is invalid")
        mine.settled("cid", targets[0], Status.SUCCESSED_ONLINE.value, 0, "", None, None)
        mine.settled("cid", targets[1], Status.FAILED.value, None, "no reply", None, TransportError("reset"))
        mine.settled("cid", targets[2], Status.FAILED.value, None, "refused", None, ConnectError("refused"))
        mine.settled("cid", targets[3], Status.FAILED.value, 20001, refused.msg, None, refused)
        mine.settled("cid", targets[4], Status.FAILED.value, None, "lost", {"unconfirmed": True}, None)
        await mine.flush()
        found = await ledger.screen("other", today(ledger.zone), "cid", targets, cap=1, suppress=True)
    finally:
        await ledger.close()
    assert sorted(found.capped) == [targets[0], targets[1], targets[4]]
    assert list(found.dead) == [targets[3]]
    assert faults == []


async def test_a_ledger_fault_stops_once_and_drops_the_plan(tmp_path: Path) -> None:
    """A deleted ledger file: the plan is dropped unsent (no lines), ``on_fault`` is called once."""
    path = tmp_path / "l.sqlite"
    ledger = await SqliteLedger.open(path)
    faults: list[LedgerError] = []
    try:
        screening = Screening(None, recorder_of(ledger, "mine", faults))
        path.unlink()
        lines = Lines()
        assert await screening.screen([plan_of(CID_A)], cast(ResultsLog, lines)) == []
        assert await screening.screen([plan_of(CID_B)], cast(ResultsLog, lines)) == []
    finally:
        await ledger.close()
    assert lines.lines == []
    assert len(faults) == 1
    assert "No such file" in faults[0].reason
