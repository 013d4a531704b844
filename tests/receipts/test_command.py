"""The ``receipts`` subcommands: import (the same checks as the server) and exit 2 before anything is done."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from getui_async import _json
from getui_async.cli import main as cli_main
from getui_async.receipts.__main__ import main
from getui_async.receipts.command import parse_listen
from tests.receipts.conftest import (
    APP_ID,
    APP_KEY,
    MASTER_SECRET,
    START_TIMEOUT_S,
    body,
    receipt,
    receipt_env,
    stop,
)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GETUI_APP_ID", APP_ID)
    monkeypatch.setenv("GETUI_APP_KEY", APP_KEY)
    monkeypatch.setenv("GETUI_MASTER_SECRET", MASTER_SECRET)


def write_log(path: Path) -> Path:
    """A web server's log: access lines around the POST bodies, one receipt object per line."""
    lines = [b"2026-12-07 10:00:00 POST / 200", body(receipt("c1"), receipt("c2", action_id=10000))]
    lines += [b"- - -", body(receipt("c3", signed="bad"), receipt("c1")), b'{"broken": ']
    path.write_bytes(b"\n".join(lines))
    return path


def test_import_checks_and_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Non-JSON lines are skipped, bad ones refused by reason, repeats counted once; exit 1 on refusals."""
    log = write_log(tmp_path / "access.log")
    store = str(tmp_path / "r.db")
    assert main(["import", str(log), "--store", store, "--json"]) == 1
    counts = _json.loads(capsys.readouterr().out)
    assert counts["received"] == 5
    assert (counts["stored"], counts["duplicate"], counts["skipped"]) == (2, 1, 2)
    assert counts["refused_by_reason"] == {"bad_json": 1, "bad_sign": 1}
    assert main(["import", str(log), "--store", store, "--json"]) == 1
    again = _json.loads(capsys.readouterr().out)
    assert (again["stored"], again["duplicate"]) == (0, 3)
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM receipts").fetchone() == (2,)


def test_import_as_a_process(tmp_path: Path) -> None:
    """``python -m getui_async.receipts import`` prints the count line and exits 0 when all is good."""
    good = tmp_path / "good.jsonl"
    good.write_bytes(body(*(receipt(f"c{i}") for i in range(10))))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "getui_async.receipts",
            "import",
            str(good),
            "--store",
            str(tmp_path / "r.db"),
        ],
        env=receipt_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "received=10 stored=10 duplicate=0 refused=0" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "/no/such/file", "--store", "{tmp}/r.db"], "no such file"),
        (["import", "{log}", "--store", "mysql://u:hunter2@h/db"], "only a SQLite file"),
        (["import", "{log}", "--store", "/no/such/dir/r.db"], "does not exist"),
        (["serve", "--listen", "nonsense", "--store", "{tmp}/r.db"], "--listen"),
        (["serve", "--listen", "127.0.0.1:99999", "--store", "{tmp}/r.db"], "--listen"),
        (["serve", "--listen", "127.0.0.1:0", "--store", "{tmp}"], "is a directory"),
    ],
)
def test_bad_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad files, stores and addresses: exit 2 with a message, nothing created, no password shown."""
    log = write_log(tmp_path / "a.log")
    args = [a.format(tmp=tmp_path, log=log) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hunter2" not in err
    assert not (tmp_path / "r.db").exists()


def test_missing_credentials_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the master secret nothing can be verified: exit 2 naming the variable."""
    monkeypatch.delenv("GETUI_MASTER_SECRET")
    log = write_log(tmp_path / "a.log")
    assert main(["import", str(log), "--store", str(tmp_path / "r.db")]) == 2
    assert "GETUI_MASTER_SECRET" in capsys.readouterr().err


def test_parse_listen() -> None:
    """HOST:PORT, IPv6 in brackets."""
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)


def _good_log(tmp_path: Path) -> Path:
    good = tmp_path / "good.jsonl"
    good.write_bytes(body(*(receipt(f"c{i}") for i in range(3))))
    return good


def test_no_app_key_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking signs needs the app id and master secret only: both entry points run without an app key."""
    monkeypatch.delenv("GETUI_APP_KEY")
    env = {"GETUI_APP_ID": APP_ID, "GETUI_MASTER_SECRET": MASTER_SECRET}
    good = _good_log(tmp_path)
    argv = ["receipts", "import", str(good), "--store", str(tmp_path / "r.db")]
    assert cli_main(argv, environ=env) == 0
    assert main(["import", str(good), "--store", str(tmp_path / "r2.db")]) == 0


def test_serve_without_app_key(tmp_path: Path) -> None:
    """``getui-push receipts serve`` starts with only GETUI_APP_ID and GETUI_MASTER_SECRET set."""
    env = {k: v for k, v in receipt_env().items() if k != "GETUI_APP_KEY"}
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "getui_async", "receipts", "serve", "--listen", "127.0.0.1:0"]
    with log.open("wb") as sink:
        proc = subprocess.Popen([*command, "--store", str(tmp_path / "r.db")], stderr=sink, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "listening on" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "listening on" in log.read_text(), log.read_text()
    finally:
        assert stop(proc) == 0
