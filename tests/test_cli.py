"""The ``getui-push`` command-line contract: options, exit statuses, summary, config, resume and demo.

Most tests call :func:`getui_async.cli.main` in-process (fast, stderr captured) against the bundled mock
served from its own thread; the few that need a real process (stdin, signals, a terminal, the console
script) start ``python -m getui_async``. Helpers: tests/cli_harness.py; ``served``/``out``: conftest.py.
"""

from __future__ import annotations

import gzip
import os
import pty
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.cli import build_parser, resolve_options
from getui_async.config import ENV_BASE_URL, ENV_MASTER_SECRET, Mode
from getui_async.config.layers import load_config, resolve_settings
from getui_async.results import meta_path
from tests.cli_harness import (
    DATA,
    RESULT_FIELDS,
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    closed_port_url,
    command,
    run_cli,
    run_process,
    wait_until,
    write_recipients,
)
from tests.results_file import read_meta, read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")

# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    return write_recipients(tmp_path / "recipients.csv", 12)


# -- sending and exit statuses -------------------------------------------------------------------------------


def test_send_writes_one_contract_line_per_record_and_exits_0(served, recipients, out):
    """A clean run exits 0 with one line per record carrying every contract field."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env)
    result.assert_clean()
    assert result.code == 0, result.err
    lines = read_results(out)
    assert sorted(line["line"] for line in lines) == list(range(2, 14))
    for line in lines:
        assert set(RESULT_FIELDS) <= line.keys()
        assert line["status"] in ("successed_online", "successed_offline", "successed_ignore")
        assert line["cid"] in served.deliveries()
    assert len({line["request_id"] for line in lines}) == 12
    assert served.stats().redeliveries == 0


def test_exit_1_when_a_record_is_rejected(served, tmp_path, out):
    """A record without an identifier is a rejected line and makes the exit status 1; the rest go."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,A\n,B\nc3,C\n", encoding="utf-8")
    result = run_cli("send", path, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 1
    by_line = {line["line"]: line for line in read_results(out)}
    assert by_line[3]["status"] == "rejected"
    assert {by_line[2]["status"], by_line[4]["status"]} <= {"successed_online", "successed_offline"}


def test_exit_1_when_getui_refuses_a_recipient(tmp_path, out):
    """A recipient Getui calls invalid ends as a failed line (code and msg kept) and exit status 1."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\ngood1,A\ninvalid_cid_1,B\ngood2,C\n", encoding="utf-8")
    with ThreadedMock() as served:
        result = run_cli("send", path, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 1
    failed = [line for line in read_results(out) if line["status"] == "failed"]
    assert [(f["cid"], f["code"]) for f in failed] == [("invalid_cid_1", 20001)]
    assert failed[0]["msg"]


def test_exit_2_when_credentials_are_missing_and_nothing_is_sent(served, recipients, out):
    """Without GETUI_MASTER_SECRET nothing is sent, no results file appears, and the variable is named."""
    env = {k: v for k, v in served.env.items() if k != ENV_MASTER_SECRET}
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=env)
    result.assert_clean()
    assert result.code == 2
    assert ENV_MASTER_SECRET in result.err
    assert not out.exists()
    assert served.stats().auth_calls == 0


def test_exit_2_when_results_exist_without_resume(served, recipients, out):
    """An existing, non-empty results file is never appended to without --resume."""
    out.write_text('{"line": 2}\n', encoding="utf-8")
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 2
    assert "--resume" in result.err
    assert out.read_text(encoding="utf-8") == '{"line": 2}\n'
    assert served.pushes() == Counter()


def test_an_empty_results_file_is_not_a_previous_run(served, recipients, out):
    """An empty RESULTS file (e.g. touched in advance) is simply used."""
    out.touch()
    assert run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env).code == 0
    assert len(read_results(out)) == 12


def test_exit_3_on_daily_quota_then_resume_completes_exactly_once(tmp_path, out):
    """A daily quota stops the run (exit 3); --resume later sends exactly the rest, nobody twice."""
    path = write_recipients(tmp_path / "r.csv", 10)
    argv = ("send", path, "--out", out, *SIMPLE, "--mode", "single", "--concurrency", "1")
    with ThreadedMock(daily_quota=4) as served:
        first = run_cli(*argv, env=served.env)
        assert first.code == 3, first.err
        assert "--resume" in first.err
        assert len(read_results(out)) == 4
        served.call(served.mock.configure, daily_quota=None)
        second = run_cli(*argv, "--resume", env=served.env)
        assert second.code == 0, second.err
        deliveries = served.deliveries()
    lines = read_results(out)
    assert sorted(line["line"] for line in lines) == list(range(2, 12))
    assert sorted(deliveries.values()) == [1] * 10


def test_sigint_stops_with_exit_3_and_resume_finishes(tmp_path, out):
    """SIGINT lets requests in flight finish, exits 3 with whole lines; --resume sends exactly the rest."""
    path = write_recipients(tmp_path / "r.csv", 300)
    argv = ("send", path, "--out", out, *SIMPLE, "--mode", "single", "--concurrency", "2")
    with ThreadedMock(latency_ms=20.0) as served:
        env = clean_environ(served.env)
        with subprocess.Popen(
            command(*argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            wait_until(lambda: served.stats().deliveries >= 10)
            proc.send_signal(signal.SIGINT)
            _, err_bytes = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        err = err_bytes.decode()
        assert proc.returncode == 3, err
        assert "SIGINT" in err
        assert "Traceback" not in err
        assert "--resume" in err
        first = read_results(out)
        assert 10 <= len(first) < 300
        served.call(served.mock.configure, latency_ms=0.0)
        resumed = run_cli(*argv, "--resume", env=served.env)
        assert resumed.code == 0, resumed.err
        deliveries = served.deliveries()
    assert sorted(line["line"] for line in read_results(out)) == list(range(2, 302))
    assert len(deliveries) == 300
    assert set(deliveries.values()) == {1}


def test_summary_goes_to_stderr_with_counts_speed_retries_and_refreshes(served, recipients, out):
    """The end-of-run summary is on stderr; stdout stays empty for scripts."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env)
    assert result.out == ""
    for fragment in ("finished", "recipients/s", "retries", "token refreshes", "successed_", str(out)):
        assert fragment in result.err


def test_summary_json_matches_the_results_file(served, tmp_path, out):
    """--summary-json writes counts by status, timing, retries and token refreshes as JSON."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,A\n,B\nc3,C\n", encoding="utf-8")
    summary_path = tmp_path / "summary.json"
    result = run_cli("send", path, "--out", out, *SIMPLE, "--summary-json", summary_path, env=served.env)
    summary = _json.loads(summary_path.read_bytes())
    statuses = Counter(line["status"] for line in read_results(out))
    assert summary["counts"] == dict(statuses)
    assert summary["exit_code"] == result.code == 1
    assert summary["token_refreshes"] == 1
    assert summary["retries"] == 0
    elapsed, lines = summary["elapsed_s"], summary["lines_written"]
    assert elapsed > 0
    # The rate is lines over the unrounded time: within what rounding elapsed_s to 1 ms (and the rate to
    # 0.1) allows.
    assert (
        lines / (elapsed + 0.0005) - 0.05 <= summary["recipients_per_s"] <= lines / (elapsed - 0.0005) + 0.05
    )


# -- options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "title", "expected"),
    [
        ("single", "Hello {name}", {"POST /push/single/cid": 12}),
        ("batch", "Hello {name}", {"POST /push/single/batch/cid": 1}),
        ("auto", "Hello {name}", {"POST /push/single/batch/cid": 1}),
        ("auto", "Hello", {"POST /push/list/message": 1, "POST /push/list/cid": 1}),
        ("list", "Hello", {"POST /push/list/message": 1, "POST /push/list/cid": 1}),
    ],
)
def test_mode_chooses_the_endpoint(served, recipients, out, mode, title, expected):
    """--mode picks single, batch or list pushes; auto uses a list task only for identical content."""
    argv = ("send", recipients, "--out", out, "--title", title, "--body", "b", "--mode", mode)
    assert run_cli(*argv, "--no-progress", env=served.env).code == 0
    assert served.pushes() == Counter(expected)


def test_mode_list_rejects_personalized_content(served, recipients, out):
    """--mode list cannot carry per-recipient text: each record is rejected with the reason, not sent."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--mode", "list", env=served.env)
    assert result.code == 1
    assert {line["status"] for line in read_results(out)} == {"rejected"}
    assert "--mode list" in read_results(out)[0]["msg"]
    assert served.stats().deliveries == 0


def test_list_chunk_sets_cids_per_list_call(served, recipients, out):
    """--list-chunk 5 sends 12 cids in 3 list calls."""
    argv = ("send", recipients, "--out", out, "--title", "T", "--body", "B", "--list-chunk", "5")
    assert run_cli(*argv, "--no-progress", env=served.env).code == 0
    assert served.pushes()["POST /push/list/cid"] == 3


@pytest.mark.parametrize(
    ("flags", "field", "expected"),
    [
        ((), "list_chunk", 200),
        (("--list-chunk", "1000"), "list_chunk", 1000),
        (("--concurrency", "3"), "concurrency", 3),
        (("--rate", "7.5"), "rate_per_s", 7.5),
        (("--mode", "single"), "mode", Mode.SINGLE),
        (("--campaign", "spring-sale"), "campaign_id", "spring-sale"),
        (("--dry-run",), "dry_run", True),
        (("--async",), "is_async", True),
    ],
)
def test_run_options_reach_the_campaign_settings(flags, field, expected):
    """Each sending flag lands in the campaign settings unchanged (defaults as documented)."""
    args = build_parser().parse_args(["send", "in.csv", "--out", "o.jsonl", *flags])
    assert getattr(resolve_options(args, {}), field) == expected


def test_max_attempts_bounds_retries(tmp_path, out):
    """--max-attempts 2 against a server that always fails: each record fails after exactly 2 attempts."""
    path = write_recipients(tmp_path / "r.csv", 2)
    argv = ("send", path, "--out", out, *SIMPLE, "--mode", "single", "--max-attempts", "2")
    with ThreadedMock(http_5xx_rate=1.0) as served:
        result = run_cli(*argv, env=served.env)
        requests = served.pushes()
    assert result.code == 1
    lines = read_results(out)
    assert [(line["status"], line["attempts"]) for line in lines] == [("failed", 2)] * 2
    assert requests == Counter({"POST /push/single/cid": 4})


def test_timeout_s_bounds_one_exchange(tmp_path, out):
    """--timeout-s gives up on a server that never answers; the line says so."""
    path = write_recipients(tmp_path / "r.csv", 1)
    argv = ("send", path, "--out", out, *SIMPLE, "--timeout-s", "0.2", "--max-attempts", "1")
    with ThreadedMock(hang_rate=1.0, hang_phase="before", hang_s=10.0) as served:
        result = run_cli(*argv, env=served.env)
    assert result.code == 1
    (line,) = read_results(out)
    assert line["status"] == "failed"
    assert "0.2 s" in line["msg"]


def test_campaign_id_names_the_run_and_changes_request_ids(served, recipients, tmp_path):
    """--campaign ID is recorded in the sidecar and seeds request_ids (another id, other request_ids)."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    named = run_cli("send", recipients, "--out", first, *SIMPLE, "--campaign", "spring", env=served.env)
    assert named.code == 0
    assert run_cli("send", recipients, "--out", second, *SIMPLE, "--dry-run").code == 0
    assert read_meta(first)["campaign_id"] == "spring"
    ids = {line["cid"]: line["request_id"] for line in read_results(first)}
    others = {line["cid"]: line["request_id"] for line in read_results(second)}
    assert ids.keys() == others.keys()
    assert all(ids[cid] != others[cid] for cid in ids)


def test_title_template_is_rendered_per_recipient(served, tmp_path, out):
    """{field} placeholders in --title take each record's value."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,Ann\nc2,Bob\n", encoding="utf-8")
    assert run_cli("send", path, "--out", out, *SIMPLE, env=served.env).code == 0
    titles = {cid: served.call(served.mock.delivery_log, cid)[0].title for cid in ("c1", "c2")}
    assert titles == {"c1": "Hello Ann", "c2": "Hello Bob"}


@pytest.mark.parametrize(
    "flags",
    [
        ("--click-type", "url", "--url", "https://example.com/sale"),
        ("--click-type", "intent", "--intent", "intent://sale#Intent;end"),
        ("--click-type", "payload", "--payload", '{"sale": 1}'),
        ("--click-type", "payload_custom", "--payload", "p"),
        ("--click-type", "none"),
        ("--click-type", "startapp"),
    ],
)
def test_click_types_are_accepted_by_getui(served, recipients, out, flags):
    """Each --click-type with its field builds a message the (strict) mock accepts."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, *flags, env=served.env)
    assert result.code == 0, result.err
    assert len(served.deliveries()) == 12


def test_message_file_is_the_whole_template(served, tmp_path, out):
    """--message FILE.json sends that message; its title reaches the device."""
    message = tmp_path / "m.json"
    note = {"title": "From file {name}", "body": "b", "click_type": "startapp"}
    message.write_bytes(_json.dumps({"push_message": {"notification": note}}))
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,Ann\n", encoding="utf-8")
    result = run_cli("send", path, "--out", out, "--message", message, "--no-progress", env=served.env)
    assert result.code == 0, result.err
    assert served.call(served.mock.delivery_log, "c1")[0].title == "From file Ann"


def test_without_title_the_records_own_title_and_body_are_used(served, tmp_path, out):
    """No --title/--body: each record's title and body columns are the text ({title}/{body})."""
    path = tmp_path / "r.csv"
    path.write_text("cid,title,body\nc1,Sale,Now\n", encoding="utf-8")
    assert run_cli("send", path, "--out", out, "--no-progress", env=served.env).code == 0
    assert served.call(served.mock.delivery_log, "c1")[0].title == "Sale"


def test_format_overrides_the_file_name(served, tmp_path, out):
    """--format csv reads a file whose name says nothing about its format."""
    path = tmp_path / "people.txt"
    path.write_text("cid,name\nc1,A\n", encoding="utf-8")
    assert run_cli("send", path, "--out", out, *SIMPLE, "--format", "csv", env=served.env).code == 0
    assert served.deliveries() == {"c1": 1}


@pytest.mark.parametrize("name", ["csv_valid.csv.gz", "jsonl_valid.jsonl.gz"])
def test_gzip_inputs_are_read(served, out, name):
    """.gz inputs are decompressed on the fly: one line per record, as for the plain file."""
    flags = ("--title", "T", "--body", "B", "--click-type", "payload", "--payload", "p", "--no-progress")
    result = run_cli("send", DATA / name, "--out", out, *flags, env=served.env)
    assert result.code == 0, result.err
    assert len(read_results(out)) == 4


def test_gzip_recognised_by_content_with_format(served, tmp_path, out):
    """A gzip stream in a file named without .gz is still read (magic bytes), given --format."""
    path = tmp_path / "people.data"
    path.write_bytes(gzip.compress(b"cid,name\nc1,A\nc2,B\n", mtime=0))
    result = run_cli("send", path, "--out", out, *SIMPLE, "--format", "csv", env=served.env)
    assert result.code == 0, result.err
    assert served.deliveries() == {"c1": 1, "c2": 1}


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b"cid,name\nc1,A\nc2,B\n"),
        ("jsonl", b'{"cid": "c1", "name": "A"}\n{"cid": "c2", "name": "B"}\n'),
    ],
)
def test_stdin_with_format(served, out, fmt, data):
    """'-' reads recipients from standard input when --format is given."""
    result = run_process("send", "-", "--format", fmt, "--out", out, *SIMPLE, env=served.env, stdin=data)
    assert result.code == 0, result.err
    assert sorted(line["cid"] for line in read_results(out)) == ["c1", "c2"]


def test_stdin_without_format_is_a_usage_error(served, out):
    """'-' without --format exits 2 before anything is read or sent."""
    result = run_process("send", "-", "--out", out, *SIMPLE, env=served.env, stdin=b"cid\nc1\n")
    assert result.code == 2
    assert "--format" in result.err
    assert not out.exists()


# -- dry run -------------------------------------------------------------------------------------------------


def test_dry_run_renders_everything_without_network_or_credentials(recipients, out):
    """--dry-run needs no credentials, touches no network (closed port) and writes validated lines."""
    env = {ENV_BASE_URL: closed_port_url()}
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--dry-run", env=env)
    result.assert_clean()
    assert result.code == 0, result.err
    lines = read_results(out)
    assert [line["status"] for line in lines] == ["validated"] * 12
    assert all(10 <= len(line["request_id"]) <= 32 for line in lines)


def test_dry_run_request_ids_are_the_real_runs(served, recipients, tmp_path):
    """A dry run predicts the exact request_ids the real run sends (same campaign, same recipients)."""
    dry, real = tmp_path / "dry.jsonl", tmp_path / "real.jsonl"
    assert run_cli("send", recipients, "--out", dry, *SIMPLE, "--dry-run").code == 0
    assert run_cli("send", recipients, "--out", real, *SIMPLE, env=served.env).code == 0

    def ids(path: Path) -> dict[str, str]:
        return {line["cid"]: line["request_id"] for line in read_results(path)}

    assert ids(dry) == ids(real)


def test_dry_run_reports_bad_records(tmp_path, out):
    """A dry run rejects what a real run would reject, naming the field, and exits 1."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,A\nc2," + "x" * 60 + "\n", encoding="utf-8")
    result = run_cli("send", path, "--out", out, *SIMPLE, "--dry-run")
    assert result.code == 1
    rejected = [line for line in read_results(out) if line["status"] == "rejected"]
    assert [(r["line"], r["field"]) for r in rejected] == [(3, "push_message.notification.title")]


# -- resume --------------------------------------------------------------------------------------------------


def test_resume_of_a_finished_run_sends_nothing(served, recipients, out):
    """--resume after a complete run reads every record as done and sends nothing."""
    assert run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env).code == 0
    before = served.pushes()
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--resume", env=served.env)
    assert result.code == 0
    assert served.pushes() == before
    assert len(read_results(out)) == 12
    assert "12 already done" in result.err


def test_resume_keeps_the_previous_exit_status(served, tmp_path, out):
    """A resumed run whose earlier part rejected a record still exits 1 (the campaign is not clean)."""
    path = tmp_path / "r.csv"
    path.write_text("cid,name\nc1,A\n,B\n", encoding="utf-8")
    assert run_cli("send", path, "--out", out, *SIMPLE, env=served.env).code == 1
    assert run_cli("send", path, "--out", out, *SIMPLE, "--resume", env=served.env).code == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("--title", "Another {name}"), "campaign"),
        (("--campaign", "other"), "campaign"),
        (("--input", "other"), "different input"),
    ],
)
def test_resume_refuses_another_run(served, recipients, tmp_path, out, change, reason):
    """--resume against another message, campaign or input exits 2 and leaves the file as it was."""
    assert run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env).code == 0
    before = out.read_bytes()
    argv: list[Any] = ["send", recipients, "--out", out, *SIMPLE, "--resume"]
    if change[0] == "--input":
        argv[1] = write_recipients(tmp_path / "other.csv", 12, start=100)
    else:
        argv.extend(change)
    result = run_cli(*argv, env=served.env)
    result.assert_clean()
    assert result.code == 2
    assert reason in result.err
    assert out.read_bytes() == before


def test_resume_without_sidecar_is_refused(served, recipients, out):
    """Results whose sidecar is gone cannot be matched to the input: refuse rather than guess."""
    assert run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env).code == 0
    meta_path(out).unlink()
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--resume", env=served.env)
    assert result.code == 2
    assert "meta.json" in result.err


# -- settings: config file, environment, flags ---------------------------------------------------------------


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_config_file_supplies_credentials_and_options(served, recipients, tmp_path, out):
    """Everything can come from --config: credentials, base URL and sending options."""
    m = served.mock
    config = write_config(
        tmp_path / "c.toml",
        f'app_id = "{m.app_id}"\napp_key = "{m.app_key}"\nmaster_secret = "{m.master_secret}"\n'
        f'base_url = "{m.base_url}"\nmode = "single"\ncampaign = "from-file"\n',
    )
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--config", config)
    assert result.code == 0, result.err
    assert served.pushes() == Counter({"POST /push/single/cid": 12})
    assert read_meta(out)["campaign_id"] == "from-file"


def test_environment_overrides_the_config_file(served, recipients, tmp_path, out):
    """GETUI_* variables beat the file: a wrong key and a dead URL in the file do not matter."""
    config = write_config(tmp_path / "c.toml", f'app_key = "wrong-key"\nbase_url = "{closed_port_url()}"\n')
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--config", config, env=served.env)
    assert result.code == 0, result.err


def test_flags_override_environment_and_config_file(served, recipients, tmp_path, out):
    """--base-url beats GETUI_BASE_URL, and --mode/--campaign beat the file's mode/campaign."""
    config = write_config(tmp_path / "c.toml", 'mode = "single"\ncampaign = "from-file"\n')
    env = {**served.env, ENV_BASE_URL: closed_port_url()}
    flags = ("--base-url", served.mock.base_url, "--mode", "batch", "--campaign", "flag")
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--config", config, *flags, env=env)
    assert result.code == 0, result.err
    assert served.pushes() == Counter({"POST /push/single/batch/cid": 1})
    assert read_meta(out)["campaign_id"] == "flag"


def test_config_file_with_an_unknown_key_is_refused(recipients, tmp_path, out):
    """An unknown setting is a typo until proven otherwise: exit 2 naming it."""
    config = write_config(tmp_path / "c.toml", "concurency = 8\n")
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--config", config, "--dry-run")
    result.assert_clean()
    assert result.code == 2
    assert "concurency" in result.err
    assert str(config) in result.err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('concurrency = "x"\n', "concurrency"),
        ("concurrency = 2.5\n", "concurrency"),
        ('list_chunk = "200"\n', "list_chunk"),
        ('rate = "fast"\n', "rate"),
        ('timeout_s = "abc"\n', "timeout_s"),
        ("max_attempts = true\n", "max_attempts"),
        ('mode = "fastest"\n', "mode"),
        ('log_level = "loud"\n', "log_level"),
        ('format = "xml"\n', "format"),
        ('click_type = "tap"\n', "click_type"),
        ('async = "no"\n', "async"),
        ("title = 5\n", "title"),
        ("campaign = [1]\n", "campaign"),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(recipients, tmp_path, out, text, key):
    """A config value of the wrong type or outside its choices exits 2 naming the key, never a traceback."""
    config = write_config(tmp_path / "c.toml", text)
    result = run_cli("send", recipients, "--out", out, "--config", config, "--dry-run", "--no-progress")
    result.assert_clean()
    assert result.code == 2, result.err
    assert key in result.err
    assert not out.exists()


def test_config_values_are_used_with_their_toml_types(recipients, tmp_path, out):
    """Numbers, booleans and strings of the right TOML type are accepted from the file."""
    config = write_config(
        tmp_path / "c.toml",
        "concurrency = 4\nrate = 50\ntimeout_s = 2.5\nmax_attempts = 3\nlist_chunk = 500\nasync = false\n"
        'mode = "batch"\nlog_level = "info"\nformat = "csv"\ntitle = "T {name}"\nbody = "B"\n',
    )
    result = run_cli("send", recipients, "--out", out, "--config", config, "--dry-run", "--no-progress")
    assert result.code == 0, result.err
    # ...and used: the file's values reach the run's settings, each with its own type.
    args = build_parser().parse_args(["send", str(recipients), "--out", str(out), "--config", str(config)])
    loaded = load_config(str(config))
    options = resolve_options(args, loaded)
    assert (options.concurrency, options.rate_per_s, options.list_chunk) == (4, 50.0, 500)
    assert options.mode is Mode.BATCH
    assert options.is_async is False
    credentials = {"GETUI_APP_ID": "a", "GETUI_APP_KEY": "k", "GETUI_MASTER_SECRET": "m"}
    settings = resolve_settings(args, loaded, credentials)
    assert settings.request_timeout_s == 2.5
    assert settings.retry.max_attempts == 3


def test_log_level_debug_shows_debug_lines(served, recipients, out):
    """--log-level debug lets the library's debug lines through to stderr."""
    quiet = run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env)
    out.unlink()
    loud = run_cli("send", recipients, "--out", out, *SIMPLE, "--log-level", "debug", env=served.env)
    assert "DEBUG" not in quiet.err
    assert "DEBUG" in loud.err


# -- terminal, entry points, demo ----------------------------------------------------------------------------


def run_on_terminal(argv: Sequence[str | os.PathLike[str]], env: Mapping[str, str]) -> str:
    """Run the CLI with stderr on a pseudo-terminal; return what it wrote there."""
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(
            command(*argv),
            env=clean_environ({**env, "TERM": "xterm-256color", "COLUMNS": "120"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
        ) as proc:
            os.close(slave)
            slave = -1
            chunks: list[bytes] = []
            while True:  # bounded: EOF (EIO on Linux) comes when the child exits
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal(served, recipients, tmp_path):
    """On a terminal a progress bar is drawn (unless --no-progress); with stderr piped, never."""
    flags = ("--title", "{name}", "--body", "b")
    with_bar = run_on_terminal(["send", recipients, "--out", tmp_path / "a.jsonl", *flags], served.env)
    without = run_on_terminal(
        ["send", recipients, "--out", tmp_path / "b.jsonl", *flags, "--no-progress"], served.env
    )
    piped = run_process("send", recipients, "--out", tmp_path / "c.jsonl", *flags, env=served.env)
    assert "sending" in with_bar
    assert "finished" in with_bar
    assert "sending" not in without
    assert "finished" in without
    assert "sending" not in piped.err
    assert "\x1b[" not in piped.err


def test_console_script_runs_the_demo(tmp_path):
    """The installed ``getui-push demo`` runs a campaign on the mock, reports its problems and exits 1.

    1 is the exit-status table's "some records failed or were rejected": the sample has them on purpose.
    """
    script = shutil.which("getui-push", path=str(Path(sys.executable).parent))
    assert script is not None
    done = subprocess.run(
        [script, "demo", "--records", "1300", "--dir", str(tmp_path / "demo"), "--no-progress"],
        capture_output=True,
        env=clean_environ(),
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in err
    assert "(0 twice)" in err
    assert "MISMATCH" not in err
    assert "export GETUI_MASTER_SECRET=demo-master-secret" in err
    statuses = Counter(line["status"] for line in read_results(tmp_path / "demo" / "results.jsonl"))
    # The demo's sample: rows 250, 750 and 1250 are unknown to Getui, 999 repeats 998, 1234 has no cid.
    assert (statuses["failed"], statuses["duplicate"], statuses["rejected"]) == (3, 1, 1)
    assert statuses.total() == 1300


def test_version_flag():
    """--version prints the program name and version."""
    result = run_cli("--version")
    assert result.code == 0
    assert result.out.startswith("getui-push ")


def test_no_command_is_a_usage_error():
    """A bare ``getui-push`` exits 2 with usage on stderr."""
    result = run_cli()
    assert result.code == 2
    assert "usage" in result.err


# -- the command line as a person meets it (issue #15) ---------------------------------------------------


def test_short_version_flag():
    """-V is --version."""
    result = run_cli("-V")
    assert result.code == 0
    assert result.out.startswith("getui-push ")


def test_top_level_help_lists_every_command_with_one_line():
    """`getui-push --help` names each command with its one-line help."""
    result = run_cli("--help")
    assert result.code == 0
    for name in ("send", "demo", "mock-server", "completion"):
        line = next((ln for ln in result.out.splitlines() if ln.strip().startswith(name + " ")), None)
        assert line is not None, (name, result.out)
        assert len(line.split(None, 1)) == 2, line


def test_send_help_all_ends_with_environment_exit_statuses_and_examples():
    """`send --help-all` ends with the GETUI_* variables, the config file places, the exit statuses,
    examples."""
    text = run_cli("send", "--help-all").out
    tail = text[text.index("environment:") :]
    for name in ("GETUI_APP_ID", "GETUI_APP_KEY", "GETUI_MASTER_SECRET", "GETUI_BASE_URL"):
        assert name in tail
    assert "./getui-push.toml" in tail
    assert "$XDG_CONFIG_HOME/getui-push/config.toml" in tail
    statuses = tail[tail.index("exit statuses:") :]
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in statuses
    examples = tail[tail.index("examples") :].strip().splitlines()[1:]
    assert len(examples) == 2
    assert all("getui-push send " in line for line in examples)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--rate", "abc"), "--rate: expected a positive number, got 'abc'"),
        (("--rate", "0"), "--rate: expected a positive number, got '0'"),
        (("--concurrency", "x"), "--concurrency: expected a whole number >= 1, got 'x'"),
        (("--list-chunk", "5000"), "--list-chunk: expected at most 1000, got '5000'"),
    ],
)
def test_bad_numbers_are_named_by_flag(recipients, out, argv, message):
    """A bad number says the flag, what it expects and what it got (no argparse internals)."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, *argv)
    assert result.code == 2
    assert message in result.err
    assert "_positive" not in result.err


def test_out_dash_is_refused_clearly(recipients):
    """--out - is refused, saying the results file must be a real file; nothing named '-' appears."""
    result = run_cli("send", recipients, "--out", "-", *SIMPLE, "--dry-run")
    assert result.code == 2
    assert "--out -" in result.err
    assert "results.jsonl" in result.err
    assert not Path("-").exists()


def test_summary_json_dash_writes_to_stdout(served, recipients, out, tmp_path, monkeypatch):
    """--summary-json - prints the summary JSON on stdout and creates no file named '-'."""
    monkeypatch.chdir(tmp_path)
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--summary-json", "-", env=served.env)
    assert result.code == 0, result.err
    data = _json.loads(result.out)
    assert data["lines_written"] == 12
    assert not (tmp_path / "-").exists()


def test_quiet_prints_only_the_one_line_result(served, recipients, out):
    """-q: no campaign line, no table; one line with the count, the statuses and the exit status."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "-q", env=served.env)
    assert result.code == 0, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "12 result lines" in lines[0]
    assert "exit 0" in lines[0]


def test_quiet_still_shows_errors(served, recipients, out):
    """-q keeps errors: a refused connection still says what to change."""
    env = {**served.env, ENV_BASE_URL: closed_port_url()}
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--quiet", "--max-attempts", "1", env=env)
    assert result.code == 2
    assert "error:" in result.err
    assert "WARNING" not in result.err


def test_one_result_line_is_singular(served, tmp_path, out):
    """The summary says '1 result line', not '1 result lines'."""
    path = write_recipients(tmp_path / "one.csv", 1)
    result = run_cli("send", path, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 0, result.err
    assert "1 result line in" in result.err
    assert "1 record read" in result.err


def test_refused_connection_names_base_url_once(served, recipients, out):
    """A refused connection: at most one warning, then an error naming GETUI_BASE_URL and the URL."""
    url = closed_port_url()
    env = {**served.env, ENV_BASE_URL: url, "GETUI_XM_CHANNEL_ID": "xm-channel"}  # no vendor warning
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=env)
    assert result.code == 2
    assert result.err.count("WARNING") <= 1, result.err
    error = result.err.strip().splitlines()[-1]
    assert "GETUI_BASE_URL" in error
    assert "--base-url" in error
    assert url in error


def test_unknown_app_id_names_the_variable_and_value(served, recipients, out):
    """`appId is invalid (code 404)` comes with GETUI_APP_ID and the id that was used."""
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env={**served.env, "GETUI_APP_ID": "no-such"})
    assert result.code == 2
    assert "GETUI_APP_ID" in result.err
    assert "'no-such'" in result.err


def test_config_file_in_the_working_directory_is_found(served, recipients, tmp_path, out, monkeypatch):
    """Without --config, ./getui-push.toml supplies settings (here the credentials)."""
    env = dict(served.env)
    (tmp_path / "getui-push.toml").write_text(f'master_secret = "{env.pop(ENV_MASTER_SECRET)}"\n')
    (tmp_path / "getui-push.toml").chmod(0o600)
    monkeypatch.chdir(tmp_path)
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env={**env, "XDG_CONFIG_HOME": str(tmp_path)})
    assert result.code == 0, result.err


def test_xdg_config_file_is_found_after_the_working_directory(served, recipients, tmp_path, out, monkeypatch):
    """$XDG_CONFIG_HOME/getui-push/config.toml is used when ./getui-push.toml is absent; ./ wins over it."""
    env = dict(served.env)
    secret = env.pop(ENV_MASTER_SECRET)
    xdg = tmp_path / "xdg"
    (xdg / "getui-push").mkdir(parents=True)
    (xdg / "getui-push" / "config.toml").write_text(f'master_secret = "{secret}"\nmode = "single"\n')
    (xdg / "getui-push" / "config.toml").chmod(0o600)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env["XDG_CONFIG_HOME"] = str(xdg)
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=env)
    assert result.code == 0, result.err
    (work / "getui-push.toml").write_text('master_secret = "wrong"\n')
    (work / "getui-push.toml").chmod(0o600)
    refused = run_cli("send", recipients, "--out", tmp_path / "o2.jsonl", *SIMPLE, env=env)
    assert refused.code == 2


def test_environment_still_overrides_a_found_config_file(served, recipients, tmp_path, out, monkeypatch):
    """A found config file has the --config file's precedence: the environment beats it."""
    (tmp_path / "getui-push.toml").write_text('master_secret = "wrong"\n')
    (tmp_path / "getui-push.toml").chmod(0o600)
    monkeypatch.chdir(tmp_path)
    result = run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 0, result.err


def test_send_does_not_import_the_mock_server():
    """Importing the CLI (what every send does) never imports aiohttp.web; mock-server's flags still work."""
    code = (
        "import sys, getui_async.cli as c; assert 'aiohttp.web' not in sys.modules, 'imported'; "
        "c.build_parser().parse_args(['send', 'x', '--out', 'y']); assert 'aiohttp.web' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=SUBPROCESS_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    result = run_cli("mock-server", "--help")
    assert result.code == 0
    assert "--http-5xx-rate" in result.out
