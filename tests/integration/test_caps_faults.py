"""A ledger fault is a stop, said plainly: a full disk or a deleted ledger mid-run exits 3 naming the
ledger and the OS error (resumable, nobody twice); an unreadable ledger at start exits 2 before sending."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from getui_async.ledger import SqliteLedger
from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    command,
    read_results,
    run_process,
    write_recipients,
)
from tests.ledger.conftest import ledger_spec

from .test_local_faults import small_tmpfs

pytestmark = [pytest.mark.integration]

SIMPLE: Final = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress", "--mode", "batch")
RESUME_HINT: Final = "free space, then run the same command with --resume"
POLL_S: Final = 0.02
ROOM: Final = 40 << 10
SECRET: Final = "Sup3rSecretPw"
#: More than intake claims ahead of the workers (its queue), so claims go on after the first lines.
MID_RUN_RECORDS: Final = 20_000


def send_args(recipients: Path, out: Path, ledger: Path | str, summary: Path) -> list[str | Path]:
    return ["send", recipients, "--out", out, *SIMPLE, "--ledger", ledger, "--max-per-day", "1",
            "--summary-json", summary]  # fmt: skip


def test_a_full_disk_under_the_ledger_stops_with_exit_3_and_resume_is_once(tmp_path: Path) -> None:
    """The ledger's disk is full: exit 3, the message names it and the OS error, ``ledger_error`` in the
    summary, no traceback; after space is freed, ``--resume`` delivers everyone exactly once."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    recipients = write_recipients(tmp_path / "r.csv", 1000)
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    with small_tmpfs(tmp_path / "disk", "1m") as disk, ThreadedMock() as served:
        ledger = disk / "ledger.sqlite"
        asyncio.run(_create(ledger))
        filler = disk / "filler"
        stats = os.statvfs(disk)
        # Room to open the ledger (its shared-memory index), not for the claims of 1000 recipients.
        filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - ROOM))
        first = run_process(*send_args(recipients, out, ledger, summary), env=served.env)
        assert first.code == 3, first.err
        first.assert_clean()
        assert f"could not write {ledger}: No space left on device; {RESUME_HINT}" in first.err
        assert json.loads(summary.read_text())["stopped"] == "ledger_error"
        filler.unlink()
        again = run_process(*send_args(recipients, out, ledger, summary), "--resume", env=served.env)
        assert again.code == 0, again.err
        deliveries = served.deliveries()
    assert len(read_results(out)) == 1000
    assert len(deliveries) == 1000
    assert set(deliveries.values()) == {1}


async def _create(path: Path) -> None:
    ledger = await SqliteLedger.open(path)
    await ledger.close()


def test_an_unreadable_ledger_at_start_is_exit_2_before_anything_is_sent(tmp_path: Path) -> None:
    """A damaged ledger file: exit 2 naming it, no results file, nothing sent, no traceback."""
    recipients = write_recipients(tmp_path / "r.csv", 50)
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes(b"this is not a database" * 200)
    out = tmp_path / "out.jsonl"
    with ThreadedMock() as served:
        result = run_process(*send_args(recipients, out, ledger, tmp_path / "s.json"), env=served.env)
        deliveries = served.deliveries()
    assert result.code == 2, result.err
    result.assert_clean()
    assert str(ledger) in result.err
    assert deliveries == {}
    assert not out.exists()


def test_a_ledger_deleted_mid_run_is_noticed_at_the_next_claim(tmp_path: Path) -> None:
    """The ledger file is deleted while a run uses it: exit 3 ``ledger_error``; the lines written are
    whole, and a resume on a new ledger finishes with nobody delivered twice."""
    recipients = write_recipients(tmp_path / "r.csv", MID_RUN_RECORDS)
    ledger, out, summary = tmp_path / "ledger.sqlite", tmp_path / "out.jsonl", tmp_path / "s.json"
    with ThreadedMock(latency_ms=50.0) as served:
        argv = command(*send_args(recipients, out, ledger, summary), "--concurrency", "1")
        proc = subprocess.Popen(argv, env=clean_environ(served.env), stderr=subprocess.PIPE)
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
        while not (out.exists() and out.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        for path in (ledger, ledger.with_name(ledger.name + "-wal"), ledger.with_name(ledger.name + "-shm")):
            path.unlink(missing_ok=True)
        err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)[1].decode()
        assert proc.returncode == 3, err
        assert "Traceback" not in err
        assert f"could not write {ledger}: No such file or directory" in err
        assert json.loads(summary.read_text())["stopped"] == "ledger_error"
        assert 0 < len(read_results(out)) < MID_RUN_RECORDS
        again = run_process(*send_args(recipients, out, ledger, summary), "--resume", env=served.env)
        assert again.code == 0, again.err
        deliveries = served.deliveries()
    assert len(read_results(out)) == MID_RUN_RECORDS
    assert len(deliveries) == MID_RUN_RECORDS
    assert set(deliveries.values()) == {1}


def test_a_lost_postgresql_connection_mid_run_stops_with_exit_3(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The server drops the run's connections mid-run: exit 3 ``ledger_error`` naming the ledger without
    any password; ``--resume`` then delivers everyone exactly once."""
    # The test server trusts 127.0.0.1, so any password is accepted: it must never be shown or written.
    spec = asyncio.run(ledger_spec(request, tmp_path, "postgresql")).replace(
        "://getui@", f"://getui:{SECRET}@"
    )
    recipients = write_recipients(tmp_path / "r.csv", MID_RUN_RECORDS)
    out, summary = tmp_path / "out.jsonl", tmp_path / "s.json"
    with ThreadedMock(latency_ms=50.0) as served:
        argv = command(*send_args(recipients, out, spec, summary), "--concurrency", "1")
        proc = subprocess.Popen(argv, env=clean_environ(served.env), stderr=subprocess.PIPE)
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
        while not (out.exists() and out.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        asyncio.run(_drop_connections(spec))
        err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)[1].decode()
        assert proc.returncode == 3, err
        assert "Traceback" not in err
        assert "could not write postgresql://getui:***@" in err
        assert SECRET not in err
        assert json.loads(summary.read_text())["stopped"] == "ledger_error"
        asyncio.run(_drop_connections(spec, allow=True))
        again = run_process(*send_args(recipients, out, spec, summary), "--resume", env=served.env)
        assert again.code == 0, again.err
        deliveries = served.deliveries()
    assert len(read_results(out)) == MID_RUN_RECORDS
    assert set(deliveries.values()) == {1}
    for written in tmp_path.iterdir():
        if written.is_file():
            assert SECRET.encode() not in written.read_bytes(), written


async def _drop_connections(url: str, *, allow: bool = False) -> None:
    """Refuse new sessions to ``url``'s database and end its others (a server going away mid-run: a pool
    cannot reconnect around it); ``allow`` lets sessions in again (the server is back)."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
            )
    finally:
        await admin.close()
