"""``getui-push recall`` against the bundled mock: every delivered recipient revoked once under its own
taskid, every list task stopped once, undelivered records untouched, ``force`` never true, resumable."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from getui_async.results import recall_path
from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    command,
    run_cli,
    wait_until,
    write_recipients,
)
from tests.results_file import read_meta, read_results

pytestmark = pytest.mark.integration

SIMPLE = ("--title", "Hello", "--body", "Your offer", "--no-progress")
DELIVERED = {"successed_online", "successed_offline", "successed_ignore", "accepted"}


def recipients_with_dead(path: Path, count: int, dead: int) -> Path:
    """``count`` live cids and ``dead`` the mock calls invalid (they are never delivered)."""
    write_recipients(path, count)
    with path.open("a", encoding="utf-8") as handle:
        for n in range(dead):
            handle.write(f"invalid{n:025x},Dead {n}\n")
    return path


def send(served: ThreadedMock, tmp_path: Path, mode: str, *, count: int = 250, dead: int = 5) -> Path:
    """Send a campaign in ``mode`` and return its results file."""
    source = recipients_with_dead(tmp_path / "in.csv", count, dead)
    out = tmp_path / f"{mode}.jsonl"
    result = run_cli("send", source, "--out", out, "--mode", mode, *SIMPLE, env=served.env)
    assert result.code in (0, 1), result.err
    return out


def delivered(out: Path) -> dict[str, str]:
    """``cid -> taskid`` of the delivered lines of a send."""
    return {line["cid"]: line["taskid"] for line in read_results(out) if line["status"] in DELIVERED}


def revocations(served: ThreadedMock) -> dict[tuple[str, str], int]:
    return served.call(lambda: dict(served.mock.revocations))  # type: ignore[no-any-return]


def stops(served: ThreadedMock) -> int:
    return sum(n for route, n in served.stats().requests.items() if route.startswith("DELETE /task"))


def assert_recalled_once(served: ThreadedMock, out: Path) -> None:
    """Each delivered cid revoked exactly once under its own taskid; nobody else; never forced."""
    expected = {(taskid, cid): 1 for cid, taskid in delivered(out).items()}
    assert expected
    assert revocations(served) == expected
    stats = served.stats()
    assert (stats.force_revokes, stats.force_revokes_all, stats.revokes_unmatched) == (0, 0, 0)
    assert stats.revokes_repeated == 0


@pytest.mark.parametrize("mode", ["single", "batch", "list"])
def test_recall_revokes_every_delivered_recipient_once(tmp_path: Path, mode: str) -> None:
    """Single, batch and list campaigns: one revoke per delivered cid, none for the dead, exit 0."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, mode, count=30 if mode == "single" else 250)
        before = served.deliveries()
        result = run_cli("recall", out, "--json", env=served.env)
        assert result.code == 0, result.err
        assert_recalled_once(served, out)
        assert served.deliveries() == before  # a revoke delivers nothing
        lines = read_results(recall_path(out))
        recipients = [line for line in lines if "record" in line]
        assert Counter(line["status"] for line in recipients) == {"revoked": len(delivered(out))}
        assert not {line["cid"] for line in recipients} & {c for c in before if c.startswith("invalid")}
        list_tasks = {taskid for taskid in delivered(out).values() if taskid.startswith("RASL")}
        assert stops(served) == len(list_tasks) == (1 if mode == "list" else 0)
        summary = json.loads(result.out)
        assert summary["left_alone_not_delivered"] == 5
        assert summary["exit"] == 0


def test_a_second_recall_with_resume_sends_nothing(tmp_path: Path) -> None:
    """Everything was done: --resume makes no push and no DELETE."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "list")
        assert run_cli("recall", out, env=served.env).code == 0
        pushes, deletes = served.pushes(), stops(served)
        again = run_cli("recall", out, "--resume", env=served.env)
        assert again.code == 0, again.err
        assert (served.pushes(), stops(served)) == (pushes, deletes)
        assert_recalled_once(served, out)
        runs = read_meta(recall_path(out))["runs"]
        assert [run["already_done"] for run in runs] == [0, len(delivered(out))]


def test_a_recall_without_resume_refuses_an_existing_recall_file(tmp_path: Path) -> None:
    """The recall file already holds lines: exit 2, nothing sent."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=20)
        assert run_cli("recall", out, env=served.env).code == 0
        pushes = served.pushes()
        again = run_cli("recall", out, env=served.env)
        assert again.code == 2
        assert "--resume" in again.err
        assert served.pushes() == pushes


def test_a_killed_recall_resumed_revokes_nobody_twice(tmp_path: Path) -> None:
    """Revokes sent but their lines lost (a kill): the resume re-sends the same request_ids, Getui drops
    the repeats, and every delivered cid stays revoked exactly once."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=450)
        assert run_cli("recall", out, env=served.env).code == 0
        recall = recall_path(out)
        raw = recall.read_bytes().splitlines(keepends=True)
        recall.write_bytes(b"".join(raw[:150]) + raw[150][:20])  # lines lost, the last one torn
        result = run_cli("recall", out, "--resume", "--json", env=served.env)
        assert result.code == 0, result.err
        assert_recalled_once(served, out)
        lines = [line for line in read_results(recall) if "record" in line]
        assert len(lines) == len({line["record"] for line in lines}) == len(delivered(out))


def test_dry_run_counts_and_sends_nothing(tmp_path: Path) -> None:
    """--dry-run prints what it would do, with counts, and sends nothing (no recall file either)."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "list", count=40)
        pushes = served.pushes()
        result = run_cli("recall", out, "--dry-run", "--json", env=served.env)
        assert result.code == 0, result.err
        summary: dict[str, Any] = json.loads(result.out)
        planned = sum(c.get("revoked", 0) for c in summary["by_channel"].values())
        assert planned == len(delivered(out)) == 40
        assert summary["list_tasks"]["named"] == 1
        assert summary["list_tasks"]["stopped"] == 1  # to be stopped: a dry run
        assert served.pushes() == pushes
        assert stops(served) == 0
        assert not recall_path(out).exists()
        text = run_cli("recall", out, "--dry-run", env=served.env)
        assert "to be revoked" in text.out
        assert "left alone: 5" in text.out


def test_override_replaces_by_the_sends_own_ids(tmp_path: Path) -> None:
    """--replace-title/--replace-body: every delivered cid gets a notification with the send's notify_id."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=30)
        ids = read_meta(out)["replace_ids"]
        result = run_cli(
            "recall", out, "--replace-title", "Sorry", "--replace-body", "Wrong coupon", env=served.env
        )
        assert result.code == 0, result.err
        assert_recalled_once(served, out)
        for cid in delivered(out):
            log = served.call(served.mock.delivery_log, cid)
            assert log[-1].title == "Sorry"
            assert log[-1].notify_id == ids["getui"]
        statuses = Counter(line["status"] for line in read_results(recall_path(out)))
        assert statuses == {"overridden": len(delivered(out))}


def test_override_text_with_placeholders_is_refused(tmp_path: Path) -> None:
    """A results line has no record data: {name} in the replacement is a usage error, nothing sent."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=10)
        pushes = served.pushes()
        result = run_cli("recall", out, "--replace-title", "Hi {name}", "--replace-body", "x", env=served.env)
        assert result.code == 2
        assert "{name}" in result.err
        assert served.pushes() == pushes


def test_a_spent_quota_stops_the_recall_and_resume_finishes_it(tmp_path: Path) -> None:
    """Getui's daily quota runs out mid-recall: exit 3, what was done has its lines; --resume finishes
    the rest, and nobody is revoked twice."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=450)
        used = sum(served.deliveries().values())
        served.call(served.mock.configure, daily_quota=used + 250)
        stopped = run_cli("recall", out, "--json", env=served.env)
        assert stopped.code == 3, stopped.err
        assert json.loads(stopped.out)["stopped"] == "quota"
        done = [line for line in read_results(recall_path(out)) if "record" in line]
        assert 0 < len(done) < len(delivered(out))
        served.call(served.mock.configure, daily_quota=None)
        resumed = run_cli("recall", out, "--resume", env=served.env)
        assert resumed.code == 0, resumed.err
        assert_recalled_once(served, out)


def test_an_alias_campaign_is_revoked_through_the_alias_endpoints(tmp_path: Path) -> None:
    """Alias recipients get their revoke by alias, naming their own taskid: each bound cid revoked once."""
    source = write_recipients(tmp_path / "in.csv", 20, kind="alias")
    aliases = {f"{i:032x}": [f"cid-of-{i}"] for i in range(20)}
    with ThreadedMock(aliases=aliases) as served:
        out = tmp_path / "out.jsonl"
        sent = run_cli("send", source, "--out", out, "--mode", "single", *SIMPLE, env=served.env)
        assert sent.code == 0, sent.err
        taken = [line for line in read_results(out) if line["status"] in DELIVERED]
        assert len(taken) == 20
        result = run_cli("recall", out, env=served.env)
        assert result.code == 0, result.err
        expected = {(line["taskid"], aliases[line["alias"]][0]): 1 for line in taken}
        assert revocations(served) == expected
        assert served.pushes()["POST /push/single/batch/alias"] == 1


def test_lines_without_a_taskid_are_skipped_or_overridden(tmp_path: Path) -> None:
    """A batch alias reply names no taskid per alias: nothing to revoke (skipped, said why), but an
    override still replaces the notification by the send's notify_id."""
    source = write_recipients(tmp_path / "in.csv", 5, kind="alias")
    with ThreadedMock(aliases={f"{i:032x}": [f"cid-of-{i}"] for i in range(5)}) as served:
        out = tmp_path / "out.jsonl"
        assert run_cli("send", source, "--out", out, "--mode", "batch", *SIMPLE, env=served.env).code == 0
        assert run_cli("recall", out, env=served.env).code == 0
        lines = read_results(recall_path(out))
        assert {line["status"] for line in lines} == {"skipped"}
        assert all("no taskid" in line["msg"] for line in lines)
        assert revocations(served) == {}
        again = run_cli(
            "recall", out, "--out", tmp_path / "o.jsonl", "--replace-title", "T", "--replace-body", "B",
            env=served.env,
        )  # fmt: skip
        assert again.code == 0, again.err
        assert {line["status"] for line in read_results(tmp_path / "o.jsonl")} == {"overridden"}
        assert served.stats().overrides == 5


def test_sigint_stops_between_batches_and_resume_finishes(tmp_path: Path) -> None:
    """Ctrl-C: the batch in flight finishes and has its lines, exit 3; --resume revokes the rest once."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=1200, dead=0)
        served.call(served.mock.configure, latency_ms=150.0)
        recall = recall_path(out)
        proc = subprocess.Popen(
            command("recall", out, "--json"),
            env=clean_environ(served.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(lambda: recall.exists() and recall.stat().st_size > 0)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 3, stderr.decode()
        assert json.loads(stdout)["stopped"] == "signal"
        done = [line for line in read_results(recall) if "record" in line]
        assert 0 < len(done) < len(delivered(out))
        assert len(done) % 200 == 0  # whole batches only
        served.call(served.mock.configure, latency_ms=0.0)
        assert run_cli("recall", out, "--resume", env=served.env).code == 0
        assert_recalled_once(served, out)


@pytest.mark.parametrize("mode", ["batch", "list"])
def test_recall_of_one_variant_revokes_only_its_recipients(tmp_path: Path, mode: str) -> None:
    """--variant B: B's delivered recipients revoked once each (B's list task stopped), A's untouched;
    a variant no line names is exit 2 before anything is sent."""
    with ThreadedMock() as served:
        source = write_recipients(tmp_path / "in.csv", 300)
        out = tmp_path / "v.jsonl"
        variants = ("--variant", "A=Hi A|Offer A", "--variant", "B=Hi B|Offer B", "--no-progress")
        result = run_cli("send", source, "--out", out, "--mode", mode, *variants, env=served.env)
        assert result.code in (0, 1), result.err
        lines = read_results(out)
        of_b = {
            (line["taskid"], line["cid"]): 1
            for line in lines
            if line.get("variant") == "B" and line["status"] in DELIVERED
        }
        assert of_b
        assert len(of_b) < sum(line["status"] in DELIVERED for line in lines)  # A was delivered too
        missing = run_cli("recall", out, "--variant", "C", env=served.env)
        assert missing.code == 2, missing.err
        assert "--variant C" in missing.err
        assert revocations(served) == {}
        done = run_cli("recall", out, "--variant", "B", env=served.env)
        assert done.code == 0, done.err
        assert revocations(served) == of_b
        b_tasks = {taskid for taskid, _ in of_b if taskid.startswith("RASL")}
        assert stops(served) == len(b_tasks) == (1 if mode == "list" else 0)


@pytest.mark.parametrize("target", ["results", "sidecar"])
def test_recall_out_naming_a_file_of_the_send_is_refused(tmp_path: Path, target: str) -> None:
    """--out onto the send's results file or its sidecar: exit 2, nothing sent, the file untouched."""
    with ThreadedMock() as served:
        out = send(served, tmp_path, "batch", count=20, dead=0)
        named = out if target == "results" else out.with_name(out.name + ".meta.json")
        before = named.read_bytes()
        result = run_cli("recall", out, "--out", named, env=served.env)
        assert result.code == 2, result.err
        assert "which this command reads" in result.err
        assert named.read_bytes() == before
        assert revocations(served) == {}
