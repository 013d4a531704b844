"""The delivery ledger: batched, idempotent per campaign, a campaign never counts against itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from getui_async import _json
from getui_async.ledger import (
    FrequencyCap,
    Key,
    LedgerError,
    SqliteLedger,
    repair_from_results,
)
from getui_async.results import meta_path

DAY = date(2026, 12, 1)
SH = ZoneInfo("Asia/Shanghai")


def cids(*names: str) -> list[Key]:
    return [("cid", name) for name in names]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    with SqliteLedger(tmp_path / "ledger.sqlite") as opened:
        yield opened


def test_counts_come_from_other_campaigns_only(ledger: SqliteLedger) -> None:
    """A delivery counts for every other campaign that day, never for its own campaign."""
    ledger.record("spring", DAY, cids("a", "b"))
    assert ledger.counts(DAY, cids("a", "b", "c"), "autumn") == {("cid", "a"): 1, ("cid", "b"): 1}
    assert ledger.counts(DAY, cids("a", "b"), "spring") == {}


def test_recording_again_is_idempotent(ledger: SqliteLedger) -> None:
    """Re-recording a campaign's delivery (a resume repairing) leaves one row and a count of one."""
    for _ in range(3):
        ledger.record("spring", DAY, cids("a"))
    assert ledger.rows() == 1
    assert ledger.counts(DAY, cids("a"), "autumn") == {("cid", "a"): 1}


def test_days_and_kinds_are_separate(ledger: SqliteLedger) -> None:
    """Yesterday's deliveries and an alias with a cid's spelling do not count."""
    ledger.record("spring", DAY, cids("a"))
    assert ledger.counts(date(2026, 12, 2), cids("a"), "autumn") == {}
    assert ledger.counts(DAY, [("alias", "a")], "autumn") == {}


def test_frequency_cap_skips_recipients_at_the_limit(ledger: SqliteLedger) -> None:
    """With --max-per-day 2, one reached by two other campaigns today is capped, one reached once is not."""
    ledger.record("one", DAY, cids("a", "b"))
    ledger.record("two", DAY, cids("a"))
    cap = FrequencyCap(ledger, "three", max_per_day=2)
    assert cap.over(DAY, cids("a", "b", "c")) == {("cid", "a"): 2}
    assert cap.message(2, DAY) == "over --max-per-day 2: 2 pushes on 2026-12-01 from other campaigns"
    assert FrequencyCap(ledger, "two", max_per_day=1).over(DAY, cids("a", "b")) == {
        ("cid", "a"): 1,
        ("cid", "b"): 1,
    }


def test_max_per_day_must_be_positive(ledger: SqliteLedger) -> None:
    """--max-per-day 0 is refused with the flag's name."""
    with pytest.raises(ValueError, match="--max-per-day"):
        FrequencyCap(ledger, "x", max_per_day=0)


def test_one_transaction_per_call(ledger: SqliteLedger) -> None:
    """A 500-recipient record is one write transaction and a 500-key check at most one read."""
    statements: list[str] = []
    conn = ledger._conn
    assert conn is not None
    conn.set_trace_callback(statements.append)
    ledger.record("spring", DAY, cids(*(f"c{i}" for i in range(500))))
    ledger.counts(DAY, cids(*(f"c{i}" for i in range(500))), "autumn")
    ledger.counts(DAY, cids(*(f"c{i}" for i in range(500))), "autumn")
    conn.set_trace_callback(None)
    begins = [s for s in statements if s.startswith("BEGIN")]
    commits = [s for s in statements if s == "COMMIT"]
    # record: 1; the first check: a merge of pending + one read; the second check: none (snapshot)
    assert len(begins) == len(commits) == 3


def test_persisted_in_wal_mode(tmp_path: Path) -> None:
    """The file is in WAL mode and keeps every delivery after close and reopen."""
    path = tmp_path / "ledger.sqlite"
    with SqliteLedger(path) as ledger:
        ledger.record("spring", DAY, cids("a", "b"))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with SqliteLedger(path) as again:
        assert again.rows() == 2
        assert again.counts(DAY, cids("a"), "autumn") == {("cid", "a"): 1}


def test_another_runs_pending_rows_are_seen(tmp_path: Path) -> None:
    """A check sees deliveries another process recorded and has not merged yet."""
    path = tmp_path / "ledger.sqlite"
    with SqliteLedger(path, merge_rows=10**9) as first, SqliteLedger(path) as second:
        first.record("spring", DAY, cids("a"))
        assert second.counts(DAY, cids("a"), "autumn") == {("cid", "a"): 1}


def test_snapshot_reloads_after_its_ttl(tmp_path: Path) -> None:
    """Another process's later deliveries are seen once the snapshot is older than its ttl."""
    path = tmp_path / "ledger.sqlite"
    now = [0.0]
    with (
        SqliteLedger(path, snapshot_ttl_s=60, clock=lambda: now[0]) as checker,
        SqliteLedger(path) as writer,
    ):
        assert checker.counts(DAY, cids("a"), "autumn") == {}
        writer.record("spring", DAY, cids("a"))
        now[0] = 59.0
        assert checker.counts(DAY, cids("a"), "autumn") == {}
        now[0] = 61.0
        assert checker.counts(DAY, cids("a"), "autumn") == {("cid", "a"): 1}


def test_same_object_sees_another_campaigns_record_at_once(ledger: SqliteLedger) -> None:
    """Recording for another campaign through the same ledger invalidates the snapshot."""
    assert ledger.counts(DAY, cids("a"), "autumn") == {}
    ledger.record("spring", DAY, cids("a"))
    assert ledger.counts(DAY, cids("a"), "autumn") == {("cid", "a"): 1}


def test_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not a SQLite ledger raises LedgerError naming --ledger and the path."""
    bogus = tmp_path / "notes.txt"
    bogus.write_bytes(b"this is not a database at all, just text " * 100)
    with pytest.raises(LedgerError, match=r"--ledger .*notes\.txt"):
        SqliteLedger(bogus)


def test_closed_ledger_refuses(tmp_path: Path) -> None:
    """Calls after close raise LedgerError; close is idempotent."""
    ledger = SqliteLedger(tmp_path / "l.sqlite")
    ledger.close()
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.record("x", DAY, cids("a"))


def write_results(path: Path, lines: list[dict[str, object]], *, torn: bytes = b"") -> None:
    meta_path(path).write_bytes(_json.dumps({"campaign_id": "spring"}))
    path.write_bytes(b"".join(_json.dumps_line(line) for line in lines) + torn)


def line(record: int, status: str, ts: str = "2026-12-01T08:00:00.000Z", **ids: str) -> dict[str, object]:
    return {"record": record, **(ids or {"cid": f"c{record}"}), "status": status, "code": 0, "ts": ts}


def test_repair_replays_only_this_campaigns_deliveries(tmp_path: Path) -> None:
    """Resume repair records successed_* and accepted lines under the sidecar's campaign, by day in tz."""
    results = tmp_path / "out.jsonl"
    write_results(
        results,
        [
            line(1, "successed_online"),
            line(2, "successed_offline", ts="2026-12-01T17:00:00.000Z"),  # 01:00 on 2 Dec in Shanghai
            line(3, "accepted", alias="u3"),
            line(4, "failed"),
            line(5, "rejected"),
            line(6, "capped"),
            line(7, "excluded"),
        ],
        torn=b'{"record": 8, "cid": "c8", "status": "successed_on',
    )
    with SqliteLedger(tmp_path / "l.sqlite") as ledger:
        assert repair_from_results(ledger, results, tz=SH) == 3
        assert repair_from_results(ledger, results, tz=SH) == 3
        assert ledger.rows() == 3
        assert ledger.counts(DAY, [*cids("c1", "c2", "c4", "c8"), ("alias", "u3")], "autumn") == {
            ("cid", "c1"): 1,
            ("alias", "u3"): 1,
        }
        assert ledger.counts(date(2026, 12, 2), cids("c2"), "autumn") == {("cid", "c2"): 1}
        assert ledger.counts(DAY, cids("c1"), "spring") == {}


def test_repair_without_results_or_sidecar(tmp_path: Path) -> None:
    """No results file: nothing to repair; a results file without its sidecar: a clear error."""
    with SqliteLedger(tmp_path / "l.sqlite") as ledger:
        assert repair_from_results(ledger, tmp_path / "none.jsonl", tz=SH, campaign_id="x") == 0
        orphan = tmp_path / "orphan.jsonl"
        orphan.write_bytes(_json.dumps_line(line(1, "successed_online")))
        with pytest.raises(LedgerError, match=r"orphan\.jsonl\.meta\.json"):
            repair_from_results(ledger, orphan, tz=SH)


def test_counts_agree_with_a_plain_tally(ledger: SqliteLedger) -> None:
    """Over thousands of cids and aliases in several campaigns, counts equal a Counter of the rows."""
    import random
    from collections import Counter

    rng = random.Random(14)
    tally: Counter[Key] = Counter()
    for campaign in ("one", "two", "three", "mine"):
        keys: list[Key] = [(rng.choice(("cid", "alias")), f"r{rng.randrange(3000)}") for _ in range(2000)]
        ledger.record(campaign, DAY, keys)
        if campaign != "mine":
            tally.update(set(keys))
    probe: list[Key] = [(kind, f"r{i}") for i in range(3500) for kind in ("cid", "alias")]
    assert ledger.counts(DAY, probe, "mine") == dict(tally)


def test_repair_days_in_a_half_hour_zone(tmp_path: Path) -> None:
    """In Asia/Kolkata (+05:30) 18:29 and 18:31 UTC fall on different days, though in the same UTC hour."""
    results = tmp_path / "out.jsonl"
    write_results(
        results,
        [
            line(1, "successed_online", ts="2026-12-01T18:29:00.000Z"),
            line(2, "successed_online", ts="2026-12-01T18:31:00.000Z"),
        ],
    )
    with SqliteLedger(tmp_path / "l.sqlite") as ledger:
        repair_from_results(ledger, results, tz=ZoneInfo("Asia/Kolkata"))
        assert ledger.counts(DAY, cids("c1", "c2"), "autumn") == {("cid", "c1"): 1}
        assert ledger.counts(date(2026, 12, 2), cids("c1", "c2"), "autumn") == {("cid", "c2"): 1}
