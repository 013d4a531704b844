"""``getui-push report``: final outcomes of a results file, grouped, as text and JSON; dead and retryable."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from getui_async import _json
from getui_async.config import Credentials, RetrySettings, Settings
from getui_async.errors import CODE_TABLE, Action, ResultsFileError
from getui_async.report import Group, classify, read_outcomes
from getui_async.report import outcomes as outcomes_module
from getui_async.report.fetch import fetch_funnel
from getui_async.results import meta_path
from getui_async.results import reader as reader_module
from tests.cli_harness import ThreadedMock, run_cli, write_recipients
from tests.results_file import read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
#: One message for everyone, sent as a Getui list task (which has task statistics).
LIST = ("--mode", "list", "--title", "Hi", *SIMPLE[2:])


def line(record: int, status: str, **fields: Any) -> dict[str, Any]:
    """One result line as the engine writes it."""
    base: dict[str, Any] = {
        "line": record + 1,
        "record": record,
        "cid": f"cid{record:04d}",
        "request_id": f"req{record:010d}",
        "status": status,
        "code": 0,
        "msg": "",
        "taskid": None,
        "attempts": 1,
        "ts": f"2026-12-01T10:00:{record % 60:02d}.000Z",
    }
    base.update(fields)
    return base


def write_lines(path: Path, lines: list[dict[str, Any]], *, tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(_json.dumps_line(x) for x in lines) + tail)
    return path


def last_wins(lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The oracle: the last line per record, computed the obvious way (a dict of every record)."""
    final: dict[int, dict[str, Any]] = {}
    for x in lines:
        final[x["record"]] = x
    return final


# -- classification ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fields", "group"),
    [
        ("successed_online", {}, Group.REACHED),
        ("successed_offline", {}, Group.REACHED),
        ("successed_ignore", {}, Group.INACTIVE),
        ("accepted", {}, Group.ACCEPTED),
        ("rejected", {"code": None, "field": "cid"}, Group.REJECTED),
        ("duplicate", {"code": None}, Group.DUPLICATE),
        ("excluded", {"code": None}, Group.EXCLUDED),
        ("capped", {"code": None}, Group.CAPPED),
        ("validated", {"code": None}, Group.VALIDATED),
        ("teleported", {}, Group.OTHER),
        ("failed", {"code": 20001, "msg": "target user is invalid"}, Group.DEAD),
        ("failed", {"code": 20001, "msg": "target user is invalid", "retryable": False}, Group.DEAD),
        ("failed", {"code": 20001, "msg": "param push_message is missing"}, Group.FAILED),
        ("failed", {"code": None, "msg": "<html>502 Bad Gateway</html>"}, Group.RETRYABLE),
        ("failed", {"code": None, "msg": "HTTP 502", "http_status": 502}, Group.RETRYABLE),
        ("failed", {"code": None, "msg": "HTTP 400", "http_status": 400}, Group.FAILED),
        ("failed", {"code": 30019, "msg": "busy (gave up after 6 attempts)"}, Group.RETRYABLE),
        ("failed", {"code": 2, "msg": "starting"}, Group.RETRYABLE),
        ("failed", {"code": 10005, "msg": "too often"}, Group.RETRYABLE),
        ("failed", {"code": 0, "msg": "unknown delivery status 'x'"}, Group.FAILED),
        ("failed", {"code": 20001, "msg": "whatever", "retryable": True}, Group.RETRYABLE),
        ("failed", {"code": None, "msg": "reset", "retryable": False}, Group.FAILED),
    ],
)
def test_each_status_and_failure_lands_in_its_group(status, fields, group):
    """Statuses map to groups; a failure is dead, retryable or failed by its code, HTTP status or flag."""
    assert classify(line(1, status, **fields)) is group


@pytest.mark.parametrize("code", sorted(c for c in CODE_TABLE if c not in (20001,)))
def test_failure_groups_follow_the_error_table_for_files_without_the_retryable_field(code):
    """For older files, a failed code is retryable exactly when getui_async.errors says it may pass later."""
    later = CODE_TABLE[code].action in (
        Action.RETRY,
        Action.REFRESH_TOKEN,
        Action.SWITCH_HOST,
        Action.WAIT_WINDOW,
        Action.STOP_QUOTA,
    )
    got = classify(line(1, "failed", code=code, msg=CODE_TABLE[code].meaning))
    assert got is (Group.RETRYABLE if later else Group.FAILED)


# -- reading -------------------------------------------------------------------------------------------------


def test_the_last_line_for_a_record_wins_and_superseded_lines_are_counted(tmp_path):
    """A later line for a record (a --retry-failed re-send) replaces the earlier outcome."""
    lines = [
        line(1, "failed", code=None, msg="HTTP 502", http_status=502),
        line(2, "successed_online"),
        line(3, "failed", code=20001, msg="target user is invalid"),
        line(1, "successed_offline", supersedes="failed"),
    ]
    out = read_outcomes(write_lines(tmp_path / "r.jsonl", lines))
    assert (out.records, out.lines, out.superseded, out.supersedes_lines) == (3, 4, 1, 1)
    assert out.by_status == Counter({"successed_offline": 1, "successed_online": 1, "failed": 1})
    assert out.by_group == Counter({"reached": 2, "dead": 1})
    assert 1 not in out.retryable_records


def test_a_torn_last_line_is_ignored_and_reported(tmp_path):
    """A kill mid-write leaves half a line: it is skipped, and the report says so."""
    path = write_lines(tmp_path / "r.jsonl", [line(1, "successed_online")], tail=b'{"record": 2, "sta')
    out = read_outcomes(path)
    assert out.records == 1
    assert out.torn_tail


def test_a_line_that_is_not_a_result_is_refused_naming_its_line(tmp_path):
    """Garbage in the middle of the file is an error naming file and line, not a guess."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        _json.dumps_line(line(1, "accepted")) + b"not json\n" + _json.dumps_line(line(2, "accepted"))
    )
    with pytest.raises(ResultsFileError, match=r"r\.jsonl:2: not a getui-push result line"):
        read_outcomes(path)


def test_dead_cids_are_written_one_per_line(tmp_path):
    """The dead cids are the targets of final 20001 target-invalid failures, nothing else."""
    lines = [
        line(1, "failed", code=20001, msg="target user is invalid"),
        line(2, "failed", code=None, msg="timeout"),
        line(3, "failed", code=20001, msg="target user is invalid"),
        line(3, "successed_online", supersedes="failed"),
        line(4, "failed", code=20001, msg="target user is invalid", attempts=2),
    ]
    sink = io.BytesIO()
    read_outcomes(write_lines(tmp_path / "r.jsonl", lines), dead_cids=sink)
    assert sorted(sink.getvalue().decode().splitlines()) == ["cid0001", "cid0004"]


def test_reasons_group_by_code_and_message_without_the_attempt_count(tmp_path):
    """'gave up after N attempts' does not split one cause into many rows."""
    lines = [
        line(1, "failed", code=30019, msg="busy (gave up after 2 attempts)"),
        line(2, "failed", code=30019, msg="busy (gave up after 6 attempts)"),
        line(3, "rejected", code=None, field="cid", msg="field 'cid': missing"),
    ]
    out = read_outcomes(write_lines(tmp_path / "r.jsonl", lines))
    assert out.retryable_by_reason == Counter({(30019, "busy"): 2})
    assert out.rejected_by_field == Counter({("cid", "missing"): 1})


def test_tables_by_reason_stay_bounded(tmp_path, monkeypatch):
    """Distinct messages past the cap are lumped into one row: memory stays bounded."""
    monkeypatch.setattr(outcomes_module, "MAX_REASONS", 3)
    lines = [line(i, "failed", code=1, msg=f"bad body {i}") for i in range(1, 11)]
    out = read_outcomes(write_lines(tmp_path / "r.jsonl", lines))
    assert len(out.failed_by_reason) == 4
    assert out.failed_by_reason[(1, outcomes_module.OTHER_REASONS)] == 7


statuses = st.sampled_from(["successed_online", "successed_ignore", "failed", "rejected", "accepted"])


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(1, 40), statuses, st.integers(0, 3), st.integers(0, 59)),
        min_size=1,
        max_size=120,
    ),
    block=st.integers(16, 400),
)
def test_backward_reading_matches_a_dict_of_every_record_at_any_block_size(tmp_path_factory, events, block):
    """Whatever the block size, the bitmap reader gives the same final outcomes as the obvious dict."""
    lines = [
        line(
            r, s, msg="x" * pad * 30, code=None if s == "failed" else 0, ts=f"2026-12-01T10:{sec:02d}:00.000Z"
        )
        for r, s, pad, sec in events
    ]
    path = write_lines(tmp_path_factory.mktemp("r") / "r.jsonl", lines)
    expected = last_wins(lines)
    original = reader_module.READ_CHUNK
    reader_module.READ_CHUNK = block
    try:
        out = read_outcomes(path)
    finally:
        reader_module.READ_CHUNK = original
    assert out.records == len(expected)
    assert out.lines == len(lines)
    assert out.by_status == Counter(x["status"] for x in expected.values())
    retryable = {r for r, x in expected.items() if classify(x) is Group.RETRYABLE}
    assert {r for r in range(1, 41) if r in out.retryable_records} == retryable
    assert (out.first_ts, out.last_ts) == (min(x["ts"] for x in lines), max(x["ts"] for x in lines))


def test_the_timeline_coarsens_instead_of_growing(tmp_path, monkeypatch):
    """Past MAX_BUCKETS distinct buckets the timeline widens its buckets; the totals are kept."""
    monkeypatch.setattr(outcomes_module, "MAX_BUCKETS", 5)
    lines = [line(i, "successed_online", ts=f"2026-12-01T10:{i:02d}:00.000Z") for i in range(1, 30)]
    out = read_outcomes(write_lines(tmp_path / "r.jsonl", lines))
    assert out.timeline.bucket_s == 3600
    assert sum(sum(row.values()) for _, row in out.timeline.series()) == 29


def test_the_html_funnel_says_n_a_where_getui_gave_no_figure(tmp_path):
    """A figure Getui did not return is shown as n/a in the page, never as a zero."""
    from getui_async.report.html import to_html
    from getui_async.report.render import summary

    out = read_outcomes(write_lines(tmp_path / "r.jsonl", [line(1, "successed_online", taskid="RASL-1")]))
    funnel = {
        "notes": [],
        "tasks": {
            "taskids": ["RASL-1"],
            "channels": {"all": {"target": 5, "received": 4, "displayed": None}},
        },
    }
    page = to_html(summary(out, funnel))
    funnel_row = page[page.index('<table class="funnel">') :]
    assert re.findall(r'<td class="n">([^<]*)', funnel_row) == ["5 ", "4 ", "n/a", "n/a"]


# -- the command ---------------------------------------------------------------------------------------------


@pytest.fixture
def faulty() -> Any:
    """A mock with 5xx faults on a quarter of requests."""
    with ThreadedMock(http_5xx_rate=0.25, seed=7) as served:
        yield served


def campaign_input(tmp_path: Path) -> Path:
    """80 good cids, 6 invalid ones, one bad row and one duplicate."""
    path = write_recipients(tmp_path / "in.csv", 80)
    with path.open("a", encoding="utf-8") as handle:
        for i in range(6):
            handle.write(f"invalid{i:025d},Dead {i}\n")
        handle.write(",No cid\n")
        handle.write(f"{0:032x},User 0 again\n")
    return path


def test_report_json_counts_match_the_file_and_dead_cids_are_exact(faulty, tmp_path, out):
    """After a send with dead cids and 5xx faults, --json and --dead-cids agree with the results file."""
    source = campaign_input(tmp_path)
    sent = run_cli(
        "send", source, "--out", out, "--mode", "single", "--max-attempts", "1", *SIMPLE, env=faulty.env
    )
    assert sent.code == 1, sent.err
    dead = tmp_path / "dead.txt"
    result = run_cli("report", out, "--json", "--dead-cids", dead, env={})
    result.assert_clean()
    assert result.code == 0, result.err
    data = _json.loads(result.out)
    final = last_wins(read_results(out))
    assert data["records"] == len(final) == 88
    assert data["by_status"] == dict(Counter(x["status"] for x in final.values()))
    assert data["reached"] == sum(
        x["status"] in ("successed_online", "successed_offline") for x in final.values()
    )
    assert data["inactive"] == sum(x["status"] == "successed_ignore" for x in final.values())
    assert data["retryable"] == sum(x["status"] == "failed" and x["code"] is None for x in final.values()) > 0
    assert data["rejected_by_field"] == {"cid": 1}
    assert data["duplicate"] == 1
    assert data["campaign_id"]
    dead_cids = set(dead.read_text().split())
    assert dead_cids == {f"invalid{i:025d}" for i in range(6)} - _retryable_cids(final)
    assert data["dead"] == len(dead_cids)


def _retryable_cids(final: dict[int, dict[str, Any]]) -> set[str]:
    return {x["cid"] for x in final.values() if x["status"] == "failed" and x["code"] is None}


def test_retryable_writes_the_original_input_rows_of_retryable_records(faulty, tmp_path, out):
    """--retryable copies the CSV header and exactly the input rows whose final outcome is retryable."""
    source = campaign_input(tmp_path)
    run_cli("send", source, "--out", out, "--mode", "single", "--max-attempts", "1", *SIMPLE, env=faulty.env)
    again = tmp_path / "again.csv"
    result = run_cli("report", out, "--retryable", again, env={})
    assert result.code == 0, result.err
    rows = again.read_text(encoding="utf-8").splitlines()
    final = last_wins(read_results(out))
    wanted = sorted(x["line"] for x in final.values() if classify(x) is Group.RETRYABLE)
    assert wanted
    original = source.read_text(encoding="utf-8").splitlines()
    assert rows == [original[0]] + [original[n - 1] for n in wanted]


def test_retryable_copies_jsonl_records_numbered_as_the_send_numbered_them(tmp_path):
    """Blank lines do not count as records: the copied JSONL lines are the retryable records' own lines."""
    source = tmp_path / "in.jsonl"
    rows = [b'{"cid": "a", "name": "A"}', b"", b'{"cid": "b", "name": "B"}', b"  ", b'{"cid": "c", "x": 1}']
    source.write_bytes(b"\n".join(rows) + b"\n")
    results = write_lines(
        tmp_path / "r.jsonl",
        [
            line(1, "successed_online", cid="a", line=1),
            line(2, "failed", cid="b", line=3, code=None, msg="timeout"),
            line(3, "failed", cid="c", line=5, code=30019, msg="busy"),
            line(2, "failed", cid="b", line=3, code=None, msg="timeout again", supersedes="failed"),
        ],
    )
    meta = {
        "campaign_id": "c1",
        "input": {"name": "in.jsonl", "format": "jsonl", "size": source.stat().st_size},
    }
    meta_path(results).write_bytes(_json.dumps(meta))
    again = tmp_path / "again.jsonl"
    result = run_cli("report", results, "--retryable", again, env={})
    assert result.code == 0, result.err
    assert again.read_bytes().splitlines() == [rows[2], rows[4]]


def test_retryable_refuses_an_input_that_is_not_the_one_sent(tmp_path):
    """An input whose size differs from the sidecar's is refused with exit 2, naming it."""
    source = tmp_path / "in.jsonl"
    source.write_text('{"cid": "a"}\n')
    results = write_lines(tmp_path / "r.jsonl", [line(1, "failed", cid="a", code=None, msg="timeout")])
    meta = {"campaign_id": "c1", "input": {"name": "in.jsonl", "format": "jsonl", "size": 999}}
    meta_path(results).write_bytes(_json.dumps(meta))
    result = run_cli("report", results, "--retryable", tmp_path / "again.jsonl", env={})
    assert result.code == 2
    assert "size differs" in result.err
    assert not (tmp_path / "again.jsonl").exists()


def test_the_text_report_explains_the_groups(served, tmp_path, out):
    """The text names the campaign and explains successed_ignore in words."""
    run_cli("send", write_recipients(tmp_path / "in.csv", 40), "--out", out, *SIMPLE, env=served.env)
    result = run_cli("report", out, env={})
    assert result.code == 0, result.err
    assert "inactive for 90 days" in result.out
    assert _json.loads(meta_path(out).read_bytes())["campaign_id"] in result.out


def test_fetch_shows_getui_funnel_for_list_tasks_and_says_single_pushes_have_none(served, tmp_path, out):
    """--fetch asks Getui for the list tasks in the results and shows a funnel per channel."""
    source = write_recipients(tmp_path / "in.csv", 30)
    sent = run_cli(
        "send", source, "--out", out, "--mode", "list", *SIMPLE[2:], "--title", "Hi", env=served.env
    )
    assert sent.code == 0, sent.err
    result = run_cli("report", out, "--json", "--fetch", env=served.env)
    assert result.code == 0, result.err
    getui = _json.loads(result.out)["getui"]
    taskids = {x["taskid"] for x in read_results(out)}
    assert set(getui["tasks"]["taskids"]) == taskids
    funnel = getui["tasks"]["channels"]["all"]
    assert funnel["target"] == 30
    assert funnel["received"] is not None
    assert "group" in getui
    text = run_cli("report", out, "--fetch", env=served.env).out
    assert "target" in text
    assert "received" in text


def test_fetch_retries_transient_failures_of_the_report_endpoints(served, tmp_path, out):
    """A 5xx from the report endpoint is retried by the shared retry policy, not shown as unavailable."""
    source = write_recipients(tmp_path / "in.csv", 12)
    sent = run_cli(
        "send", source, "--out", out, "--mode", "list", "--title", "Hi", *SIMPLE[2:], env=served.env
    )
    assert sent.code == 0, sent.err
    served.call(served.mock.configure, http_5xx_rate=0.6)
    m = served.mock
    settings = Settings(
        credentials=Credentials(app_id=m.app_id, app_key=m.app_key, master_secret=m.master_secret),
        base_url=m.base_url,
        retry=RetrySettings(max_attempts=30, zero_waits=True),
    )
    getui = asyncio.run(fetch_funnel(settings, read_outcomes(out)))
    assert getui["tasks"]["channels"]["all"]["target"] == 12


def test_fetch_on_single_pushes_says_there_are_no_task_statistics(served, tmp_path, out):
    """Single pushes have no Getui task report: the report says so rather than showing zeros."""
    source = write_recipients(tmp_path / "in.csv", 5)
    run_cli("send", source, "--out", out, "--mode", "single", *SIMPLE, env=served.env)
    data = _json.loads(run_cli("report", out, "--json", "--fetch", env=served.env).out)
    assert any("no task statistics" in note for note in data["getui"]["notes"])
    assert data["getui"]["tasks"]["unavailable"]


def test_fetch_without_credentials_is_exit_2_before_anything_is_written(tmp_path, out):
    """--fetch needs credentials; missing ones are exit 2 and no output file appears."""
    write_lines(out, [line(1, "successed_online")])
    html = tmp_path / "page.html"
    result = run_cli("report", out, "--fetch", "--html", html, env={})
    assert result.code == 2
    assert "GETUI_" in result.err
    assert not html.exists()


@pytest.mark.parametrize("flag", ["--html", "--dead-cids", "--retryable"])
def test_an_output_in_a_missing_directory_is_exit_2_naming_the_flag(tmp_path, out, flag):
    """A bad output path is refused by flag before the results file is read."""
    write_lines(out, [line(1, "successed_online")])
    result = run_cli("report", out, flag, tmp_path / "nope" / "x", env={})
    assert result.code == 2
    assert flag in result.err


def test_a_missing_results_file_is_exit_2(tmp_path):
    """Reporting on a file that does not exist is a usage error naming it."""
    result = run_cli("report", tmp_path / "missing.jsonl", env={})
    assert result.code == 2
    assert "missing.jsonl" in result.err


def test_a_bad_results_file_leaves_no_half_written_dead_cids(tmp_path, out):
    """A refused results file writes no --dead-cids file (it is written aside, then renamed)."""
    out.write_bytes(_json.dumps_line(line(1, "failed", code=20001, msg="target user is invalid")) + b"junk\n")
    dead = tmp_path / "dead.txt"
    result = run_cli("report", out, "--dead-cids", dead, env={})
    assert result.code == 2
    assert f"{out}:2" in result.err
    assert not dead.exists()
    assert list(tmp_path.glob(".dead.txt*")) == []
