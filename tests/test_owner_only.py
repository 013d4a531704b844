"""Every file that holds recipients is created 0600, even under a permissive umask (022)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from getui_async.results import lock_path, meta_path
from tests.cli_harness import ThreadedMock, run_cli, write_recipients

MESSAGE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask: files asked for with 0666 come out world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_send_report_and_check_files_are_owner_only(umask_022: None, tmp_path: Path) -> None:
    """Results, sidecar, lock, ledger, --summary-json, report --html/--dead-cids/--retryable and
    check --dead-cids: all 0600."""
    data = write_recipients(tmp_path / "in.csv", 40)
    out = tmp_path / "r.jsonl"
    ledger = tmp_path / "ledger.db"
    summary = tmp_path / "summary.json"
    with ThreadedMock(http_5xx_rate=0.33, seed=11) as flaky:
        sent = run_cli(
            "send", data, "--out", out, "--mode", "single", "--max-attempts", "1", "--ledger", ledger,
            "--summary-json", summary, *MESSAGE, env=flaky.env,
        )  # fmt: skip
        assert sent.code == 1, sent.err  # some retryable failures, so --retryable has rows to write
        checked = run_cli("check", data, "--dead-cids", tmp_path / "check-dead.txt", env=flaky.env)
        assert checked.code in (0, 1), checked.err
    exports = {name: tmp_path / name for name in ("page.html", "dead.txt", "retry.csv")}
    done = run_cli(
        "report", out, "--html", exports["page.html"], "--dead-cids", exports["dead.txt"],
        "--retryable", exports["retry.csv"],
    )  # fmt: skip
    assert done.code == 0, done.err
    files = [out, meta_path(out), lock_path(out), ledger, summary, tmp_path / "check-dead.txt"]
    files += list(exports.values())
    modes = {p.name: oct(_mode(p)) for p in files}
    assert modes == {p.name: oct(0o600) for p in files}
    for extra in tmp_path.glob("ledger.db-*"):  # SQLite's WAL files take the database's mode
        assert _mode(extra) == 0o600, extra


async def test_a_receipt_store_is_owner_only(umask_022: None, tmp_path: Path) -> None:
    """The receipt store names recipients (cids, taskids): its SQLite file is created 0600 too."""
    from getui_async.receipts.opening import open_store, parse_store

    path = tmp_path / "receipts.db"
    store = await open_store(parse_store(str(path)))
    await store.close()
    assert _mode(path) == 0o600
