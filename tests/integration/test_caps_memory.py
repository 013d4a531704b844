"""Memory does not grow with the ledger: a 10,000-record capped campaign on a SQLite ledger already holding
5 M rows today peaks within 100 MB (the ledger is asked per chunk, never held in memory)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from getui_async.ledger import SqliteLedger, today
from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    read_results,
    write_recipients,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS: Final = 5_000_000
RECORDS: Final = 10_000
PEAK_MB: Final = 100
#: Every 10th recipient of the campaign is among the rows already delivered today.
OVERLAP_EVERY: Final = 10

#: ``python -m getui_async ARGV`` that prints its own peak RSS (VmHWM: ru_maxrss carries the parent's).
_SEND: Final = """
import runpy, sys
sys.argv = ["getui-push", *sys.argv[1:]]
try:
    runpy.run_module("getui_async", run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print("rss_kib", kib, file=sys.stderr)
"""


async def create(path: Path) -> int:
    """A new ledger at ``path``; its day today."""
    ledger = await SqliteLedger.open(path)
    await ledger.close()
    return today(ledger.zone)


def fill(path: Path, rows: int) -> None:
    """``rows`` deliveries today by an earlier lineage, in one statement."""
    day = asyncio.run(create(path))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
            " INSERT INTO marks SELECT ?, 0, printf('%032x', i), 'earlier', 1, 0 FROM n",
            (rows, day),
        )


def test_five_million_rows_today_cost_no_memory(tmp_path: Path) -> None:
    """A ledger of 5 M rows today: the campaign's peak RSS stays within 100 MB; overlapping recipients
    are capped, the rest delivered once."""
    ledger = tmp_path / "ledger.sqlite"
    fill(ledger, ROWS)
    # Recipients ROWS - RECORDS/OVERLAP_EVERY ... : a tenth of them are in the ledger already.
    start = ROWS - RECORDS // OVERLAP_EVERY
    recipients = write_recipients(tmp_path / "r.csv", RECORDS, start=start)
    out = tmp_path / "out.jsonl"
    flags = ["--title", "Hi {name}", "--body", "B", "--no-progress", "--mode", "batch"]
    flags += ["--ledger", str(ledger), "--max-per-day", "1"]
    argv = [sys.executable, "-c", _SEND, "send", str(recipients), "--out", str(out), *flags]
    with ThreadedMock() as served:
        done = subprocess.run(
            argv,
            env=clean_environ(served.env),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S * 2,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stderr.rsplit("rss_kib", 1)[1]) // 1024
    assert peak_mb <= PEAK_MB
    statuses = [line["status"] for line in read_results(out)]
    assert statuses.count("capped") == RECORDS // OVERLAP_EVERY
