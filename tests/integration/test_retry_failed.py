"""Issue #12's check: a campaign with dead cids and forced 5xx failures, its report, then --retry-failed.

Two witnesses are compared, as everywhere in the integration tests: the results file and the mock's
delivery log. The mock's faults are seeded, so every run is the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.safe_open import stale_temps
from tests.cli_harness import ThreadedMock, run_cli
from tests.results_file import read_meta, read_results

GOOD = 120
DEAD = 8
MESSAGE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
#: Per mode: flags that make many small requests, so the faults hit some of them.
MODES = {
    "single": ("--mode", "single", *MESSAGE),
    "list": ("--mode", "list", "--list-chunk", "8", "--title", "Hello", *MESSAGE[2:]),
}


def dead_cid(i: int) -> str:
    return f"invalid{i:025d}"


def good_cid(i: int) -> str:
    return f"{i:032x}"


@pytest.fixture
def served() -> Iterator[ThreadedMock]:
    """The mock answering 5xx to a third of requests (seeded)."""
    with ThreadedMock(http_5xx_rate=0.33, seed=11) as mock:
        yield mock


def campaign_input(path: Path) -> Path:
    """GOOD cids with DEAD invalid ones spread among them."""
    rows = ["cid,name"]
    for i in range(GOOD):
        rows.append(f"{good_cid(i)},User {i}")
        if i % (GOOD // DEAD) == 0:
            rows.append(f"{dead_cid(i // (GOOD // DEAD))},Dead {i}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def last_wins(lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    final: dict[int, dict[str, Any]] = {}
    for line in lines:
        final[line["record"]] = line
    return final


def report_json(out: Path, *extra: str | Path) -> dict[str, Any]:
    result = run_cli("report", out, "--json", *extra, env={})
    result.assert_clean()
    assert result.code == 0, result.err
    data: dict[str, Any] = _json.loads(result.out)
    return data


@pytest.mark.parametrize(
    "mode",
    [
        "single",
        "list",
    ],
)
def test_report_then_retry_failed_delivers_every_good_cid_once_and_no_dead_cid_again(
    served: ThreadedMock, tmp_path: Path, mode: str
) -> None:
    """5xx failures are retryable; --resume --retry-failed sends exactly those again, then compacts.

    List mode gets Getui's own "busy" refusal instead: a 5xx that is not Getui's reply may come after
    Getui took a list chunk, which is never re-sent (test_list_resend.py)."""
    if mode == "list":
        served.call(served.mock.configure, http_5xx_rate=0.0, busy_rate=0.15)
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    summary1 = tmp_path / "s1.json"
    first = run_cli(
        "send", source, "--out", out, "--max-attempts", "1", "--summary-json", summary1, *MODES[mode],
        env=served.env,
    )  # fmt: skip
    first.assert_clean()
    assert first.code == 1, first.err
    lines1 = read_results(out)
    final1 = last_wins(lines1)
    assert len(lines1) == len(final1) == GOOD + DEAD
    retryable1 = {r for r, x in final1.items() if x["status"] == "failed" and x.get("retryable")}
    dead1 = {r for r, x in final1.items() if x["status"] == "failed" and x["code"] == 20001}
    assert retryable1, "the faults should have left retryable failures"
    if mode == "list":
        assert all(final1[r]["code"] == 30019 for r in retryable1)
    else:
        assert all(final1[r]["http_status"] and final1[r]["http_status"] >= 500 for r in retryable1)

    # The report agrees with the file and with the mock.
    dead_file = tmp_path / "dead.txt"
    data = report_json(out, "--dead-cids", dead_file)
    assert data["records"] == GOOD + DEAD
    assert data["by_status"] == dict(Counter(x["status"] for x in final1.values()))
    assert data["retryable"] == len(retryable1)
    assert data["dead"] == len(dead1)
    assert set(dead_file.read_text().split()) == {final1[r]["cid"] for r in dead1}
    delivered1 = served.deliveries()
    assert data["reached"] + data["inactive"] + data["accepted"] == len(delivered1)

    # Send again what may pass now.
    served.call(served.mock.configure, http_5xx_rate=0.0, busy_rate=0.0)
    summary2 = tmp_path / "s2.json"
    second = run_cli(
        "send", source, "--out", out, "--max-attempts", "1", "--resume", "--retry-failed",
        "--summary-json", summary2, *MODES[mode], env=served.env,
    )  # fmt: skip
    second.assert_clean()
    assert second.code == 1, second.err  # the dead cids are still failed
    lines2 = read_results(out)
    final2 = last_wins(lines2)
    assert len(lines2) == len(final2) == GOOD + DEAD, "one line per record after compaction"
    assert stale_temps(out) == []
    # Dead (final) lines are untouched: never sent again.
    for record in dead1:
        assert final2[record] == final1[record]
    # Every re-sent record names the outcome it replaced; nothing else changed.
    for record, line in final2.items():
        if record in retryable1:
            assert line["supersedes"] == "failed"
            assert line["request_id"] == final1[record]["request_id"]
        else:
            assert line == final1[record]
    # Every good cid delivered exactly once, per the mock.
    deliveries = served.deliveries()
    assert {cid: n for cid, n in deliveries.items() if n != 1} == {}
    assert set(deliveries) == {good_cid(i) for i in range(GOOD)}
    dead_now = {x["cid"] for x in final2.values() if x["status"] == "failed"}
    assert dead_now == {dead_cid(i) for i in range(DEAD)}

    # The summary covers the whole campaign; the sidecar records both runs.
    s2 = _json.loads(summary2.read_bytes())
    assert s2["lines_written"] == len(retryable1)
    assert s2["superseded_counts"] == {"failed": len(retryable1)}
    assert s2["campaign_by_status"] == dict(sorted(Counter(x["status"] for x in final2.values()).items()))
    assert [run["retry_failed"] for run in s2["runs"]] == [False, True]
    assert "campaign total" in second.err
    meta = read_meta(out)
    assert len(meta["runs"]) == 2
    assert meta["requests"] == sum(run["requests"] for run in meta["runs"])
    again = report_json(out)
    assert again["runs"] == 2
    assert again["requests"] == meta["requests"]
    assert again["retries"] == meta["retries"] == sum(run["retries"] for run in meta["runs"])
    assert again["retryable"] == 0
    assert again["superseded_lines"] == 0


def test_retry_failed_without_resume_is_a_usage_error(tmp_path: Path) -> None:
    """--retry-failed alone is exit 2 naming the flag, and nothing is written."""
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    result = run_cli("send", source, "--out", out, "--retry-failed", "--dry-run", *MESSAGE, env={})
    result.assert_clean()
    assert result.code == 2
    assert "--retry-failed needs --resume" in result.err
    assert not out.exists()


def test_retry_failed_with_dry_run_is_a_usage_error(tmp_path: Path) -> None:
    """A dry run must not supersede real outcomes: --retry-failed --dry-run is exit 2, nothing written."""
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    result = run_cli(
        "send", source, "--out", out, "--resume", "--retry-failed", "--dry-run", *MESSAGE, env={}
    )
    result.assert_clean()
    assert result.code == 2
    assert "--retry-failed cannot be combined with --dry-run" in result.err
    assert not out.exists()


def test_a_second_retry_failed_after_everything_passed_sends_nothing(
    served: ThreadedMock, tmp_path: Path
) -> None:
    """Once the retryable failures passed, another --retry-failed finds nothing to send again."""
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    args = ("send", source, "--out", out, "--mode", "single", "--max-attempts", "1", *MESSAGE)
    assert run_cli(*args, env=served.env).code == 1
    served.call(served.mock.configure, http_5xx_rate=0.0)
    assert run_cli(*args, "--resume", "--retry-failed", env=served.env).code == 1
    before = out.read_bytes()
    deliveries = served.deliveries()
    summary = tmp_path / "s3.json"
    third = run_cli(*args, "--resume", "--retry-failed", "--summary-json", summary, env=served.env)
    assert third.code == 1, third.err
    assert out.read_bytes() == before
    assert served.deliveries() == deliveries
    s3 = _json.loads(summary.read_bytes())
    assert s3["lines_written"] == 0
    assert len(s3["runs"]) == 3


def test_a_plain_resume_after_a_killed_retry_compacts_and_keeps_the_last_lines(
    served: ThreadedMock, tmp_path: Path
) -> None:
    """A file a killed --retry-failed left with superseding lines resumes, then holds one line per record."""
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    args = ("send", source, "--out", out, "--max-attempts", "1", *MODES["single"])
    assert run_cli(*args, env=served.env).code == 1
    lines = read_results(out)
    retryable = [x for x in lines if x["status"] == "failed" and x.get("retryable")]
    assert len(retryable) >= 2
    # What a --retry-failed run killed after its first re-sent line would have left.
    passed = dict(retryable[0], status="successed_online", code=0, msg="", supersedes="failed")
    del passed["http_status"], passed["retryable"]
    with out.open("ab") as handle:
        handle.write(_json.dumps_line(passed))
    served.call(served.mock.configure, http_5xx_rate=0.0)
    resumed = run_cli(*args, "--resume", env=served.env)
    resumed.assert_clean()
    assert resumed.code == 1, resumed.err
    final = read_results(out)
    assert len(final) == len({x["record"] for x in final}) == GOOD + DEAD
    by_record = {x["record"]: x for x in final}
    assert by_record[passed["record"]] == passed
    assert by_record[retryable[1]["record"]]["status"] == "failed"  # a plain resume sends no failure again


def test_a_quota_stop_says_when_the_quota_resets_instead_of_resuming_now(tmp_path: Path) -> None:
    """Getui's daily quota stops the run (exit 3) with the time left until 00:00 Asia/Shanghai."""
    source = campaign_input(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    with ThreadedMock(daily_quota=20) as mock:
        result = run_cli("send", source, "--out", out, *MODES["single"], env=mock.env)
    result.assert_clean()
    assert result.code == 3, result.err
    assert "daily quota reached; it resets at 00:00 Asia/Shanghai, in " in result.err
    assert "run the same command with --resume then" in result.err
    assert "sends the rest" not in result.err
