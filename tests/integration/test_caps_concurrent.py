"""Never over the cap across runs: campaigns at once, as separate processes, on one ledger (SQLite and a
real PostgreSQL), against one bundled mock whose per-cid delivery counts are the truth."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Final

import pytest

from getui_async.outcome import DELIVERED_STATUSES
from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    command,
    read_results,
    run_cli,
    write_recipients,
)
from tests.ledger.conftest import ledger_spec

pytestmark = [pytest.mark.integration]

SIMPLE: Final = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
PROCESSES: Final = 6
LATENCY_MS: Final = 40.0


def start_send(
    served: ThreadedMock, recipients: Path, out: Path, ledger: str, *extra: str
) -> subprocess.Popen[bytes]:
    argv = command("send", recipients, "--out", out, *SIMPLE, "--mode", "batch")
    argv += ["--ledger", ledger, "--max-per-day", "1", "--concurrency", "4", *extra]
    return subprocess.Popen(
        argv, env=clean_environ(served.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_campaigns_at_once_deliver_each_overlapping_cid_once(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """Three processes, overlapping audiences, ``--max-per-day 1``, one with another ``--tz``: every cid
    delivered exactly once in all, ``capped`` in the other campaigns' files."""
    spec = asyncio.run(ledger_spec(request, tmp_path, backend))
    inputs = [
        write_recipients(tmp_path / "a.csv", 600, start=0),
        write_recipients(tmp_path / "b.csv", 600, start=300),
        write_recipients(tmp_path / "c.csv", 600, start=150),
    ]
    outs = [tmp_path / f"{name}.jsonl" for name in "abc"]
    with ThreadedMock(latency_ms=LATENCY_MS) as served:  # slow enough that the runs overlap
        procs = [
            start_send(served, inputs[0], outs[0], spec, "--campaign", "spring"),
            start_send(served, inputs[1], outs[1], spec, "--campaign", "summer", "--tz", "America/New_York"),
            start_send(served, inputs[2], outs[2], spec, "--campaign", "autumn"),
        ]
        errors = [proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)[1].decode() for proc in procs]
        deliveries = served.deliveries()
    for proc, err in zip(procs, errors, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    statuses: Counter[str] = Counter()
    delivered_to: Counter[str] = Counter()
    for out in outs:
        for line in read_results(out):
            statuses[line["status"]] += 1
            if line["status"] in DELIVERED_STATUSES:
                delivered_to[line["cid"]] += 1
    everyone = {f"{i:032x}" for i in range(0, 900)}
    assert set(deliveries) == everyone
    assert set(deliveries.values()) == {1}, "a cid was delivered twice"
    assert set(delivered_to) == everyone
    assert set(delivered_to.values()) == {1}
    assert statuses["capped"] == 3 * 600 - 900
    assert "ledger's zone Asia/Shanghai" in errors[1]
    assert "--tz America/New_York" in errors[1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_creating_one_ledger_at_once_all_succeed(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """Several processes open a ledger that does not exist yet, at the same moment: all succeed."""
    spec = asyncio.run(ledger_spec(request, tmp_path, backend))
    code = (
        "import asyncio, sys\nfrom getui_async.ledger import open_ledger\n"
        "async def main():\n    ledger = await open_ledger(sys.argv[1])\n    await ledger.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, spec], stderr=subprocess.PIPE) for _ in range(PROCESSES)
    ]
    errors = [proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * PROCESSES, errors
    shown = run_cli("ledger", spec)
    assert shown.code == 0
    assert "zone: Asia/Shanghai" in shown.out
