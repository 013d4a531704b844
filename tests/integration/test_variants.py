"""Variants end to end against the bundled mock: the issue's check, a kill and --resume, funnels per variant.

Two witnesses: the results file (every line names its variant) and the mock's delivery log (each cid's
deliveries and the title each carried). 10,000 recipients, two variants 50/50 and a 10% holdout.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Final

import pytest

from getui_async.messages import MessageTemplate
from getui_async.variants import HOLDOUT, Experiment, Variant
from tests.cli_harness import ThreadedMock, clean_environ, command, run_cli
from tests.results_file import read_results

pytestmark = [pytest.mark.integration]

RECORDS: Final = 10_000
CAMPAIGN: Final = "variants-0001"
TITLES: Final = {"A": "Title A", "B": "Title B"}
WAIT_LIMIT_S: Final = 60.0
SENT: Final = frozenset({"successed_online", "successed_offline", "successed_ignore", "accepted"})


def _inputs(tmp_path: Path, records: int = RECORDS) -> tuple[Path, Path]:
    """A JSONL input (every 50th record repeats the one before it) and variant B's message file."""
    rows = []
    for i in range(1, records + 1):
        cid = f"{(i - 1 if i % 50 == 0 else i):032x}"
        rows.append(json.dumps({"cid": cid, "name": f"user{i}"}))
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    message = tmp_path / "b.json"
    note = {"title": TITLES["B"], "body": "Body B", "click_type": "startapp"}
    message.write_text(json.dumps({"push_message": {"notification": note}}), encoding="utf-8")
    return path, message


def _flags(message: Path, *extra: str) -> list[str]:
    return [
        "--variant",
        f"A={TITLES['A']}|Body A",
        "--variant",
        f"B={message}",
        "--holdout",
        "10",
        "--campaign",
        CAMPAIGN,
        "--no-progress",
        *extra,
    ]


def _assign() -> dict[str, str]:
    """What every cid's variant must be: only the names, weights, holdout and salt matter."""
    template = MessageTemplate.simple(title="t", body="b")
    exp = Experiment((Variant("A", template), Variant("B", template)), holdout_pct=10)
    assign = exp.assigner(CAMPAIGN)
    return {f"{i:032x}": assign("cid", f"{i:032x}") for i in range(1, RECORDS + 1)}


def _check_lines(lines: list[dict[str, object]], mock: ThreadedMock) -> Counter[str]:
    """Every line names its variant; holdout never delivered; each other cid once, with its title."""
    expected = _assign()
    deliveries = mock.deliveries()
    by_variant: Counter[str] = Counter()
    for line in lines:
        cid = str(line["cid"])
        assert line["variant"] == expected[cid], line
        by_variant[str(line["variant"])] += 1
        if line["status"] == "duplicate":
            continue
        if line["variant"] == HOLDOUT:
            assert line["status"] == "held_out"
            assert cid not in deliveries
        else:
            assert line["status"] in SENT, line
            log = mock.call(lambda cid=cid: mock.mock.delivery_log(cid))
            if line["status"] == "successed_ignore" and not log:
                continue  # an inactive device: Getui took it and did not send
            assert deliveries.get(cid) == 1, (cid, deliveries.get(cid))
            assert [d.title for d in log] == [TITLES[str(line["variant"])]]
    return by_variant


def test_two_variants_and_a_holdout_against_the_mock(tmp_path: Path) -> None:
    """The issue's check: 10,000 recipients, 50/50 and 10% held out; report --json's counts agree."""
    path, message = _inputs(tmp_path)
    out = tmp_path / "r.jsonl"
    with ThreadedMock(display_ratio=0.8, click_ratio=0.2) as mock:
        env = clean_environ(mock.env)
        result = run_cli("send", path, "--out", out, *_flags(message), env=env)
        assert result.code == 0, result.err
        lines = read_results(out)
        assert len(lines) == RECORDS
        counts = _check_lines(lines, mock)
        assert not {c for c, n in mock.deliveries().items() if n > 1}
        sent = Counter(str(line["variant"]) for line in lines if line["status"] != "duplicate")
        total = sum(sent.values())
        for name, share in (("A", 45), ("B", 45), (HOLDOUT, 10)):
            assert abs(100 * sent[name] / total - share) <= 2, sent
        # one list task per variant, each under its own group_name
        groups = {
            b.get("group_name") for b in mock.call(lambda: mock.mock.accepted_bodies("push/list/message"))
        }
        assert groups == {f"{CAMPAIGN}-A", f"{CAMPAIGN}-B"}

        report = run_cli("report", out, "--json", "--fetch", env=env)
        assert report.code == 0, report.err
        variants = json.loads(report.out)["variants"]
        assert {name: row["records"] for name, row in variants.items()} == dict(counts)
        for name, row in variants.items():
            mine = [line for line in lines if line["variant"] == name]
            reached = sum(line["status"] in {"successed_online", "successed_offline"} for line in mine)
            assert row["reached"] == reached
        for name in ("A", "B"):
            assert 0.7 < variants[name]["display_rate"] < 0.9, variants[name]
            assert variants[name]["received"] > 0
        assert "display_rate" in variants["B"]["vs_first"]
        assert "display_rate" not in variants[HOLDOUT]


def test_a_kill_and_resume_keep_every_recipients_variant(tmp_path: Path) -> None:
    """SIGKILL mid-run, then --resume: every record's variant is the one its key hashes to, once each."""
    path, message = _inputs(tmp_path)
    out = tmp_path / "r.jsonl"
    with ThreadedMock(latency_ms=20) as mock:
        env = clean_environ(mock.env)
        argv = command("send", path, "--out", out, "--mode", "batch", "--concurrency", "2", *_flags(message))
        with (tmp_path / "stderr.txt").open("wb") as err:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
            deadline = time.monotonic() + WAIT_LIMIT_S
            try:
                while proc.poll() is None and (not out.exists() or out.stat().st_size < 200_000):
                    assert time.monotonic() < deadline, "the send neither progressed nor ended"
                    time.sleep(0.01)
            finally:
                proc.kill()
                proc.wait(timeout=WAIT_LIMIT_S)
        assert len(read_results(out)) < RECORDS, "the run finished before the kill"
        mock.call(lambda: mock.mock.configure(latency_ms=0))
        resumed = run_cli(
            "send", path, "--out", out, "--mode", "batch", *_flags(message, "--resume"), env=env
        )
        assert resumed.code == 0, resumed.err
        lines = read_results(out)
        assert sorted(int(str(line["record"])) for line in lines) == list(range(1, RECORDS + 1))
        _check_lines(lines, mock)
