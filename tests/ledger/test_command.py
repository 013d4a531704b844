"""Dead cids remembered across campaigns, and ``getui-push ledger`` (show, export-dead)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.cli_harness import ThreadedMock, read_results, run_cli

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
DEAD = "invalid_cid_1"


def write_input(path: Path) -> Path:
    path.write_text(f"cid,name\ngood1,A\n{DEAD},B\ngood2,C\n", encoding="utf-8")
    return path


def test_a_cid_found_dead_by_send_is_excluded_by_later_campaigns(tmp_path: Path) -> None:
    """Send learns ``invalid_cid_1`` is dead (20001): the next campaign on the ledger skips it as
    ``excluded`` ("dead since DATE"); ``--no-suppress`` sends to it anyway."""
    recipients, ledger = write_input(tmp_path / "r.csv"), tmp_path / "ledger.sqlite"
    with ThreadedMock() as served:
        first = run_cli("send", recipients, "--out", tmp_path / "a.jsonl", "--ledger", ledger, *SIMPLE,
                        env=served.env)  # fmt: skip
        second = run_cli("send", recipients, "--out", tmp_path / "b.jsonl", "--ledger", ledger, *SIMPLE,
                         "--campaign", "second", env=served.env)  # fmt: skip
        third = run_cli("send", recipients, "--out", tmp_path / "c.jsonl", "--ledger", ledger, *SIMPLE,
                        "--campaign", "third", "--no-suppress", env=served.env)  # fmt: skip
    assert first.code == 1, first.err
    assert second.code == 0, second.err
    by_cid = {line["cid"]: line for line in read_results(tmp_path / "b.jsonl")}
    assert by_cid[DEAD]["status"] == "excluded"
    assert by_cid[DEAD]["msg"].startswith("dead since 20")
    assert third.code == 1, third.err
    assert {line["cid"]: line["status"] for line in read_results(tmp_path / "c.jsonl")}[DEAD] == "failed"


def test_check_remembers_dead_cids_and_the_ledger_command_shows_and_exports_them(tmp_path: Path) -> None:
    """``check --ledger`` records the dead cid; ``ledger`` shows it; ``export-dead`` writes it (0600)."""
    recipients, ledger = write_input(tmp_path / "r.csv"), tmp_path / "ledger.sqlite"
    with ThreadedMock() as served:
        checked = run_cli("check", recipients, "--ledger", ledger, env=served.env)
    assert checked.code == 0, checked.err
    shown = run_cli("ledger", ledger)
    assert shown.code == 0, shown.err
    assert "zone: Asia/Shanghai" in shown.out
    assert "dead recipients: 1" in shown.out
    exported = tmp_path / "dead.txt"
    done = run_cli("ledger", "export-dead", ledger, exported)
    assert done.code == 0, done.err
    assert exported.read_text() == f"{DEAD}\n"
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600


def test_the_ledger_command_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    """A missing ledger or missing arguments: exit 2 with one line, no traceback."""
    missing = run_cli("ledger", tmp_path / "nope.sqlite")
    assert missing.code == 2
    assert "no such file" in missing.err
    bare = run_cli("ledger", "export-dead")
    assert bare.code == 2
    assert "expected export-dead LEDGER FILE" in bare.err
    assert "Traceback" not in missing.err + bare.err
