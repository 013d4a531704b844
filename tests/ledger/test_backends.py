"""Claims, settlements and dead cids: the same semantics on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from getui_async.ledger import (
    CLAIM_TTL_S,
    DEFAULT_ZONE,
    Ledger,
    LedgerError,
    Settlement,
    open_ledger,
    settle_from_results,
    today,
)
from getui_async.ledger import postgres as ledger_postgres
from getui_async.ledger import sqlite as ledger_sqlite

A, B, C = "a" * 32, "b" * 32, "c" * 32


async def test_a_claim_counts_against_other_lineages_only(ledger: Ledger) -> None:
    """Run 1 claims A; run 2 is capped on A at cap 1; run 1 (a resume) may claim A again."""
    day = today(ledger.zone)
    first = await ledger.screen("run-1", day, "cid", [A, B], cap=1, suppress=True)
    assert (first.capped, first.dead) == ({}, {})
    second = await ledger.screen("run-2", day, "cid", [A, C], cap=1, suppress=True)
    assert second.capped == {A: 1}
    again = await ledger.screen("run-1", day, "cid", [A], cap=1, suppress=True)
    assert again.capped == {}


async def test_a_cap_of_two_admits_two_lineages(ledger: Ledger) -> None:
    """``--max-per-day 2``: two runs get A, the third is capped with 2 held by others."""
    day = today(ledger.zone)
    for run in ("r1", "r2"):
        assert (await ledger.screen(run, day, "cid", [A], cap=2, suppress=False)).capped == {}
    assert (await ledger.screen("r3", day, "cid", [A], cap=2, suppress=False)).capped == {A: 2}


async def test_a_released_claim_frees_the_recipient_and_a_delivery_holds_it(ledger: Ledger) -> None:
    """Released on a refusal: another run may claim; settled as delivered: it may not."""
    day = today(ledger.zone)
    await ledger.screen("r1", day, "cid", [A, B], cap=1, suppress=False)
    await ledger.settle("r1", Settlement(delivered=[(day, "cid", A)], released=[(day, "cid", B)]))
    other = await ledger.screen("r2", day, "cid", [A, B], cap=1, suppress=False)
    assert other.capped == {A: 1}


async def test_kinds_and_days_are_separate(ledger: Ledger) -> None:
    """A cid and an alias with the same text, or another day, do not count against each other."""
    day = today(ledger.zone)
    await ledger.settle("r1", Settlement(delivered=[(day, "cid", A)]))
    assert (await ledger.screen("r2", day, "alias", [A], cap=1, suppress=False)).capped == {}
    assert (await ledger.screen("r2", day + 1, "cid", [A], cap=1, suppress=False)).capped == {}


async def test_dead_recipients_are_suppressed_unless_asked_not_to(ledger: Ledger) -> None:
    """A cid remembered dead is answered with its date, and never claimed; ``suppress=False`` ignores it."""
    day = today(ledger.zone)
    await ledger.settle("r1", Settlement(dead=[("cid", A, "2026-12-01")]))
    found = await ledger.screen("r2", day, "cid", [A, B], cap=1, suppress=True)
    assert found.dead == {A: "2026-12-01"}
    assert [d async for d in ledger.dead_recipients()] == [("cid", A, "2026-12-01")]
    assert (await ledger.screen("r3", day, "cid", [A], cap=None, suppress=False)).dead == {}


async def test_info_and_the_zone_kept_from_creation(spec: str) -> None:
    """The zone given at creation is kept; a later open's zone is ignored; info counts rows and claims."""
    first = await open_ledger(spec, zone="America/New_York")
    day = today(first.zone)
    await first.screen("r1", day, "cid", [A, B], cap=1, suppress=False)
    await first.settle("r1", Settlement(delivered=[(day, "cid", A)], dead=[("cid", C, "2026-12-01")]))
    await first.close()
    second = await open_ledger(spec, zone="UTC")
    try:
        info = await second.info()
    finally:
        await second.close()
    assert (info.zone, info.rows_today, info.claims_held, info.dead) == ("America/New_York", 2, 1, 1)


async def test_a_chunk_larger_than_one_statement_takes_is_claimed_whole(ledger: Ledger) -> None:
    """40,000 recipients in one call (more parameters than SQLite takes at once): all claimed."""
    day = today(ledger.zone)
    many = [f"{n:032x}" for n in range(40_000)]
    assert (await ledger.screen("r1", day, "cid", many, cap=1, suppress=True)).capped == {}
    assert len((await ledger.screen("r2", day, "cid", many, cap=1, suppress=True)).capped) == 40_000


async def test_a_claim_nobody_settles_stops_counting_after_its_time_to_live(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed and never resumed: its claim blocks others for ``CLAIM_TTL_S``, then no longer."""
    day = today(ledger.zone)
    await ledger.screen("crashed", day, "cid", [A], cap=1, suppress=False)
    assert (await ledger.screen("r2", day, "cid", [A], cap=1, suppress=False)).capped == {A: 1}
    later = int(time.time()) + CLAIM_TTL_S + 1
    for module in (ledger_sqlite, ledger_postgres):
        monkeypatch.setattr(module, "_now", lambda: later)
    assert (await ledger.screen("r2", day, "cid", [A], cap=1, suppress=False)).capped == {}


async def test_a_resume_settles_its_claims_from_the_results_file(ledger: Ledger, tmp_path: Path) -> None:
    """Delivered lines become deliveries, refused lines release the claim (20001 also marks it dead),
    a record without a line keeps its claim."""
    day = today(ledger.zone)
    ts = datetime.now(ledger.zone).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    await ledger.screen("killed", day, "cid", [A, B, C], cap=1, suppress=False)
    results = tmp_path / "out.jsonl"
    lines = [
        {"line": 2, "record": 1, "cid": A, "status": "successed_online", "code": 0, "msg": "", "ts": ts},
        {"line": 3, "record": 2, "cid": B, "status": "failed", "code": 20001, "msg": "target user is invalid",
         "ts": ts},
    ]  # fmt: skip
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert await settle_from_results(ledger, "killed", results) == 2
    found = await ledger.screen("other", day, "cid", [A, B, C], cap=1, suppress=True)
    assert found.capped == {A: 1, C: 1}
    assert list(found.dead) == [B]
    info = await ledger.info()
    assert info.claims_held == 1  # C's, kept for the resume


async def test_a_version_1_ledger_is_migrated_with_its_deliveries(tmp_path: Path) -> None:
    """A ledger written by the snapshot design (schema 1): its deliveries count after the upgrade."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema', '1');"
            "CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
            "CREATE TABLE deliveries (day INTEGER NOT NULL, kind INTEGER NOT NULL, target TEXT NOT NULL,"
            " campaign INTEGER NOT NULL, PRIMARY KEY (day, kind, target, campaign)) WITHOUT ROWID;"
            "CREATE TABLE pending (day INTEGER NOT NULL, kind INTEGER NOT NULL, target TEXT NOT NULL,"
            " campaign INTEGER NOT NULL);"
            "INSERT INTO campaigns VALUES (1, 'spring');"
        )
        day = today(ZoneInfo(DEFAULT_ZONE))
        conn.execute("INSERT INTO deliveries VALUES (?, 0, ?, 1)", (day, A))
        conn.execute("INSERT INTO pending VALUES (?, 0, ?, 1)", (day, B))
    ledger = await open_ledger(str(path))
    try:
        found = await ledger.screen("new", day, "cid", [A, B, C], cap=1, suppress=True)
        info = await ledger.info()
    finally:
        await ledger.close()
    assert found.capped == {A: 1, B: 1}
    assert (info.schema, info.zone) == (2, DEFAULT_ZONE)


async def test_another_database_is_not_taken_for_a_ledger(tmp_path: Path) -> None:
    """A SQLite file holding other tables (a receipt store, say) is refused, and left unchanged."""
    path = tmp_path / "receipts.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE receipts (taskid TEXT)")
    with pytest.raises(LedgerError, match="not a ledger"):
        await open_ledger(str(path))
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"receipts"}
