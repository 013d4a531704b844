"""--retry-failed's results-file side: last line wins, superseding lines, compaction, runs in the sidecar."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from getui_async import _json
from getui_async.campaign import Summary
from getui_async.errors import ResultsFileError
from getui_async.events import Observers
from getui_async.results import (
    FailedKind,
    ResultsLog,
    ResultsWriteError,
    ResultsWriter,
    Status,
    compact_results,
    compaction,
    failed_kind,
    load_resume_state,
    meta_path,
    read_meta,
    reader,
    record_run,
    write_meta,
)
from getui_async.runner import count_kept_records
from getui_async.safe_open import stale_temps, temp_beside
from getui_async.schedule import Schedule
from getui_async.summary_text import format_summary, quota_stop_text
from tests.results_file import META, read_results


def ok(record: int, status: str = "successed_online", **extra: Any) -> dict[str, Any]:
    return {"line": record + 1, "record": record, "cid": f"c{record}", "status": status, "code": 0, **extra}


def transient(record: int, **extra: Any) -> dict[str, Any]:
    return ok(
        record, "failed", code=None, msg="HTTP 502 from Getui", http_status=502, retryable=True, **extra
    )


def dead(record: int) -> dict[str, Any]:
    return ok(record, "failed", code=20001, msg="target user is invalid", retryable=False)


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(_json.dumps_line(line) for line in lines))
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return read_results(path)


# -- the resume state: the last line per record wins ------------------------------------------------------


def test_resume_state_counts_the_last_line_of_each_record(tmp_path: Path) -> None:
    """A superseding line replaces the earlier failed outcome in the counts."""
    path = write_lines(
        tmp_path / "r.jsonl",
        [ok(1), transient(2), dead(3), transient(4), ok(2, supersedes="failed")],
    )
    state = load_resume_state(path)
    assert state.counts == Counter({"successed_online": 2, "failed": 2})
    assert state.lines == 5
    assert state.superseded == 1
    assert state.retryable == 1  # record 4; record 2 passed since


def test_only_retry_failed_lets_retryable_records_through(tmp_path: Path) -> None:
    """skip() is done() unless --retry-failed, which sends again exactly the retryable ones."""
    path = write_lines(tmp_path / "r.jsonl", [ok(1), transient(2), dead(3)])
    plain = load_resume_state(path)
    assert [plain.skip(r) for r in (1, 2, 3, 4)] == [True, True, True, False]
    assert plain.supersedes(2) is None
    retry = load_resume_state(path, retry_failed=True)
    assert [retry.skip(r) for r in (1, 2, 3, 4)] == [True, False, True, False]
    assert [retry.supersedes(r) for r in (1, 2, 3, 4)] == [None, "failed", None, None]


def test_a_record_still_failing_after_a_retry_is_retryable_again(tmp_path: Path) -> None:
    """The last line decides: a retry that failed again is sent again by the next --retry-failed."""
    path = write_lines(tmp_path / "r.jsonl", [transient(1), transient(1, supersedes="failed")])
    state = load_resume_state(path, retry_failed=True)
    assert not state.skip(1)
    assert state.counts == Counter({"failed": 1})


def test_a_line_superseding_a_final_outcome_is_refused(tmp_path: Path) -> None:
    """Only a retryable failure may be superseded: a second line for a dead cid is an edited file."""
    path = write_lines(tmp_path / "r.jsonl", [dead(1), ok(1, supersedes="failed")])
    with pytest.raises(ResultsFileError, match=r"r\.jsonl:2: .*supersedes an outcome that was final"):
        load_resume_state(path)


def test_a_duplicated_line_without_supersedes_is_still_refused(tmp_path: Path) -> None:
    """A second line for a record that does not say it supersedes is a duplicated line."""
    path = write_lines(tmp_path / "r.jsonl", [transient(1), ok(1)])
    with pytest.raises(ResultsFileError, match="a second line for record 1"):
        load_resume_state(path)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ({"status": "failed", "code": None, "http_status": 502}, FailedKind.RETRYABLE),
        ({"status": "failed", "code": None, "http_status": None}, FailedKind.RETRYABLE),
        ({"status": "failed", "code": 20001, "msg": "target user is invalid"}, FailedKind.DEAD),
        (
            {"status": "failed", "code": 20001, "msg": "target user is invalid", "retryable": True},
            FailedKind.DEAD,
        ),
        ({"status": "failed", "code": None, "http_status": 400}, FailedKind.FINAL),
        ({"status": "failed", "code": 0}, FailedKind.FINAL),
        ({"status": "failed", "code": None, "retryable": False}, FailedKind.FINAL),
    ],
)
def test_older_failed_lines_are_classified_by_the_error_table(line: dict[str, Any], kind: FailedKind) -> None:
    """Lines without ``retryable`` follow the code table and HTTP bands; 20001 is dead whatever the flag."""
    assert failed_kind(line) is kind


# -- the log writes superseding lines ---------------------------------------------------------------------


def test_the_log_marks_a_re_sent_record_as_superseding(tmp_path: Path) -> None:
    """A line for a record sent again carries ``supersedes`` naming the earlier status; others do not."""
    out = write_lines(tmp_path / "r.jsonl", [ok(1), transient(2)])
    write_meta(out, META)
    state = load_resume_state(out, retry_failed=True)
    log = ResultsLog(None, Observers(()), lambda: "2026-01-01T00:00:00.000Z")
    log.attach(ResultsWriter.open(out, META, resume=True), prior=state.lines, supersedes=state.supersedes)
    log.add(
        line=3,
        record=2,
        kind="cid",
        target="c2",
        request_id="rid2",
        status=Status.SUCCESSED_ONLINE,
        code=0,
        msg="",
        taskid=None,
        attempts=1,
    )
    log.add(
        line=4,
        record=3,
        kind="cid",
        target="c3",
        request_id="rid3",
        status=Status.SUCCESSED_OFFLINE,
        code=0,
        msg="",
        taskid=None,
        attempts=1,
    )
    assert log.close() is None
    lines = read_lines(out)
    assert lines[2]["supersedes"] == "failed"
    assert "supersedes" not in lines[3]
    assert log.superseded == Counter({"failed": 1})


# -- compaction ---------------------------------------------------------------------------------------------


def test_compaction_keeps_the_last_line_of_each_record_in_file_order(tmp_path: Path) -> None:
    """Superseded lines go; the rest keep their order; the file stays 0600; no tmp is left."""
    first = [ok(1), transient(2), dead(3), transient(4), ok(5)]
    later = [transient(4, supersedes="failed"), ok(2, supersedes="failed"), ok(4, supersedes="failed")]
    out = write_lines(tmp_path / "r.jsonl", first + later)
    os.chmod(out, 0o600)
    assert compact_results(out) == 3
    assert [(x["record"], x["status"]) for x in read_lines(out)] == [
        (1, "successed_online"),
        (3, "failed"),
        (5, "successed_online"),
        (2, "successed_online"),
        (4, "successed_online"),
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stale_temps(out) == []
    state = load_resume_state(out, retry_failed=True)  # a compacted file resumes like any other
    assert (state.lines, state.superseded, state.retryable) == (5, 0, 0)


def test_compaction_of_a_file_with_nothing_superseded_leaves_it_alone(tmp_path: Path) -> None:
    """No superseded line: the file is not rewritten."""
    out = write_lines(tmp_path / "r.jsonl", [ok(1), ok(2)])
    before = out.stat().st_mtime_ns, out.stat().st_ino
    assert compact_results(out) == 0
    assert (out.stat().st_mtime_ns, out.stat().st_ino) == before


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=120),
    chunk=st.sampled_from([16, 64, 257, 1 << 20]),
)
def test_compaction_matches_a_dict_of_every_record_at_any_block_size(
    tmp_path_factory: pytest.TempPathFactory, events: list[tuple[int, bool]], chunk: int
) -> None:
    """Whatever the lines and the read block, the result is the last line per record, in file order."""
    lines = []
    for i, (record, passed) in enumerate(events):
        line = ok(record, seq=i) if passed else transient(record, seq=i)
        lines.append(line)
    out = write_lines(tmp_path_factory.mktemp("c") / "r.jsonl", lines)
    last: dict[int, int] = {}
    for i, line in enumerate(lines):
        last[line["record"]] = i
    want = [line["seq"] for i, line in enumerate(lines) if last[line["record"]] == i]
    patch = pytest.MonkeyPatch()
    patch.setattr(reader, "READ_CHUNK", chunk)
    try:
        removed = compact_results(out)
    finally:
        patch.undo()
    assert removed == len(lines) - len(want)
    assert [x["seq"] for x in read_lines(out)] == want


def test_a_failed_compaction_leaves_the_file_untouched_and_no_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write error while compacting (a full disk) is a ResultsWriteError; the old file is whole."""
    out = write_lines(tmp_path / "r.jsonl", [transient(1), ok(1, supersedes="failed")])
    before = out.read_bytes()

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compaction.os, "fsync", full)
    with pytest.raises(ResultsWriteError, match="No space left on device"):
        compact_results(out)
    assert out.read_bytes() == before
    assert stale_temps(out) == []


def test_a_tmp_left_by_a_killed_compaction_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A kill mid-compaction leaves RESULTS whole and a partial temporary, which the next open removes."""
    out = write_lines(tmp_path / "r.jsonl", [transient(1), ok(1, supersedes="failed")])
    write_meta(out, META)
    fd, tmp = temp_beside(out)
    os.write(fd, b'{"line": 2, "rec')
    os.close(fd)
    state = load_resume_state(out)
    assert state.lines == 2
    ResultsWriter.open(out, META, resume=True).close()
    assert not tmp.exists()


# -- runs in the sidecar ------------------------------------------------------------------------------------


def test_each_run_is_appended_to_the_sidecar_with_totals(tmp_path: Path) -> None:
    """record_run keeps every run; rewriting the run's identity keeps them; a new campaign drops them."""
    out = tmp_path / "r.jsonl"
    write_meta(out, META, keep_runs=False)
    record_run(out, {"requests": 10, "retries": 2, "exit": 1}, group_name="camp-1")
    runs = record_run(out, {"requests": 3, "retries": 0, "exit": 0}, group_name="camp-1")
    assert [r["exit"] for r in runs] == [1, 0]
    write_meta(out, META)  # e.g. a streamed input's proof, rewritten at the end of a run
    meta = read_meta(out)
    assert meta is not None
    assert (len(meta["runs"]), meta["requests"], meta["retries"], meta["group_name"]) == (2, 13, 2, "camp-1")
    assert meta["campaign_id"] == "camp-1"
    write_meta(out, META, keep_runs=False)
    assert "runs" not in _json.loads(meta_path(out).read_bytes())


# -- the summary --------------------------------------------------------------------------------------------


def test_the_summary_after_a_retry_shows_the_whole_campaign_labelled() -> None:
    """This run, the earlier runs and the campaign total, each labelled; totals net of superseded lines."""
    summary = Summary("camp-1", "r.jsonl", retry_failed=True)
    summary.previous = Counter({"successed_online": 90, "failed": 10, "successed_ignore": 2})
    summary.counts = Counter({"successed_online": 7, "failed": 1})
    summary.superseded = Counter({"failed": 8})
    summary.resume_prior = 102
    summary.runs = [{"exit": 1}, {"exit": 1}]
    assert summary.campaign_counts == Counter({"successed_online": 97, "failed": 3, "successed_ignore": 2})
    assert summary.exit_code == 1
    text = format_summary(summary)
    assert "this run:       successed_online 7 · failed 1 (8 earlier failures sent again)" in text
    assert "earlier runs:   successed_online 90 · successed_ignore 2 · failed 10 (1 run)" in text
    assert "campaign total: 102 records: successed_online 97 · successed_ignore 2 · failed 3" in text
    assert "successed_ignore (2): Getui did not push: device inactive for 90 days" in text
    data = summary.to_dict()
    assert data["campaign_by_status"] == {"failed": 3, "successed_ignore": 2, "successed_online": 97}
    assert data["runs"] == summary.runs


def test_a_retry_that_passed_everything_exits_0() -> None:
    """Earlier failures superseded by successes no longer make the campaign exit 1."""
    summary = Summary("camp-1", "r.jsonl", retry_failed=True)
    summary.previous = Counter({"successed_online": 5, "failed": 2})
    summary.counts = Counter({"successed_online": 2})
    summary.superseded = Counter({"failed": 2})
    assert summary.exit_code == 0


def test_a_quota_stop_says_when_the_quota_resets_in_china_time() -> None:
    """Getui's quota day ends at 00:00 Asia/Shanghai; the stop says how long until then."""
    now = datetime(2026, 12, 1, 12, 48, tzinfo=timezone.utc)  # 20:48 in Shanghai
    assert quota_stop_text(now) == (
        "daily quota reached; it resets at 00:00 Asia/Shanghai, in 3 h 12 min: "
        "run the same command with --resume then (or use --wait-quota)"
    )
    summary = Summary("camp-1", "r.jsonl", stopped="quota", stop_detail="push count exceeded (code 30009)")
    text = format_summary(summary)
    assert "daily quota reached; it resets at 00:00 Asia/Shanghai, in " in text
    assert "sends the rest" not in text


def test_a_quota_stop_names_the_runs_own_reset_time_and_zone() -> None:
    """With --tz and --quota-reset, the stop message says that reset, not China's midnight."""
    summary = Summary("camp-1", "r.jsonl", stopped="quota", stop_detail="push count exceeded (code 30009)")
    summary.schedule = Schedule.from_flags(tz="Europe/Berlin", quota_reset="06:30")
    assert "it resets at 06:30 Europe/Berlin, in " in format_summary(summary)


def test_the_progress_line_of_a_retry_starts_from_the_records_left_as_they_are(tmp_path: Path) -> None:
    """count_kept_records: records with a final line that --retry-failed does not send again."""
    out = write_lines(
        tmp_path / "r.jsonl", [ok(1), transient(2), dead(3), transient(4), ok(2, supersedes="failed")]
    )
    assert count_kept_records(out) == 3
    assert count_kept_records(tmp_path / "missing.jsonl") == 0


def test_compaction_reads_lines_in_another_json_layout_too(tmp_path: Path) -> None:
    """Lines with spaces after colons, or a msg that quotes a record field, are matched by their record."""
    text = (
        '{"line": 2, "record": 1, "status": "failed", "code": null, "http_status": 502, "retryable": true}\n'
        '{"line":3,"record":2,"status":"successed_online","msg":"\\"record\\":1"}\n'
        '{"line": 2, "record": 1, "status": "successed_online", "supersedes": "failed"}\n'
    )
    out = tmp_path / "r.jsonl"
    out.write_text(text)
    assert compact_results(out) == 1
    assert [(x["record"], x["status"]) for x in read_lines(out)] == [
        (2, "successed_online"),
        (1, "successed_online"),
    ]


_COMPACT_CHILD = """
import sys
from pathlib import Path
from getui_async.results import compact_results
print("started", flush=True)
compact_results(Path(sys.argv[1]))
print("done", flush=True)
"""


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.2])
def test_a_kill_at_any_moment_of_a_compaction_leaves_one_whole_file(tmp_path: Path, delay_s: float) -> None:
    """SIGKILL while compacting: RESULTS is the old file or the compacted one, whole, and resumable."""
    lines = [transient(r) if r % 3 == 0 else ok(r) for r in range(1, 60_001)]
    lines += [ok(r, supersedes="failed") for r in range(3, 60_001, 3)]
    out = write_lines(tmp_path / "r.jsonl", lines)
    old = out.read_bytes()
    copy = write_lines(tmp_path / "copy.jsonl", lines)
    compact_results(copy)
    new = copy.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", _COMPACT_CHILD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(delay_s)  # varies the moment of the kill; nothing is asserted about time
        child.kill()
    finally:
        child.wait(timeout=60)
        if child.stdout is not None:
            child.stdout.close()
    data = out.read_bytes()
    assert data in (old, new)
    state = load_resume_state(out)
    assert state.lines - state.superseded == 60_000
    write_meta(out, META)
    ResultsWriter.open(out, META, resume=True).close()  # the next run: removes a leftover tmp
    assert stale_temps(out) == []
    compact_results(out)
    assert out.read_bytes() == new
