"""``report`` tells whether a campaign is complete: a stopped one reads as stopped, with the exact number
of records not sent yet and the command that sends them; a run in progress is said so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from getui_async.results.lock import RunLock, lock_holder
from tests.cli_harness import ThreadedMock, clean_environ, command, run_cli, wait_until, write_recipients
from tests.results_file import read_results

RECORDS = 400
FLAGS = ("--title", "Hello {name}", "--body", "b", "--mode", "single")


def _report(*argv: object) -> tuple[int, str]:
    result = run_cli("report", *argv)
    return result.code, result.out


def _stopped_send(tmp_path, served):
    """A send of RECORDS at 20/s, stopped by SIGINT after its first lines (exit 3)."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    out = tmp_path / "o.jsonl"
    proc = subprocess.Popen(
        command("send", path, "--out", out, "--rate", "20", *FLAGS),
        env=clean_environ(served.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: out.exists() and out.stat().st_size > 0)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err
    return path, out


@pytest.fixture
def mock():
    with ThreadedMock() as served:
        yield served


@pytest.mark.integration
def test_a_stopped_campaign_reads_as_stopped(tmp_path, mock):
    """``report --json`` on a stopped campaign: complete false, the stop reason, the exact unsent count;
    the text says STOPPED first, with the numbers and --resume; the exit status is 0."""
    _path, out = _stopped_send(tmp_path, mock)
    sent = len({line["line"] for line in read_results(out)})
    assert 0 < sent < RECORDS
    code, text = _report(out, "--json")
    assert code == 0
    data = json.loads(text)
    assert data["complete"] is False
    assert data["stopped"] == "signal"
    assert data["input_records"] == RECORDS
    assert data["unsent"] == RECORDS - sent
    code, text = _report(out)
    assert code == 0
    first = text.splitlines()[0]
    assert first == (
        f"STOPPED (signal) — {RECORDS - sent:,} of {RECORDS:,} records not sent yet: "
        "run the same send command with --resume"
    )
    assert f"getui-push send {tmp_path / 'r.csv'} --out {out} ... --resume" in text
    html = tmp_path / "page.html"
    assert _report(out, "--html", html)[0] == 0
    assert "STOPPED (signal)" in html.read_text()


@pytest.mark.integration
def test_a_finished_campaign_is_complete_and_a_changed_input_unknown(tmp_path, mock):
    """A campaign sent to its end is complete (unsent 0); once its input changes, the counts are null
    and the report says why."""
    path = write_recipients(tmp_path / "r.csv", 30)
    out = tmp_path / "o.jsonl"
    assert run_cli("send", path, "--out", out, *FLAGS, env=mock.env).code == 0
    data = json.loads(_report(out, "--json")[1])
    assert (data["complete"], data["stopped"], data["input_records"], data["unsent"]) == (True, None, 30, 0)
    assert _report(out)[1].splitlines()[0] == "COMPLETE — every one of 30 records has a line"
    write_recipients(path, 31)
    data = json.loads(_report(out, "--json")[1])
    assert data["input_records"] is None
    assert data["unsent"] is None
    assert "changed" in data["input_records_unknown"]


@pytest.mark.integration
def test_a_run_in_progress_is_said_so(tmp_path, mock):
    """While a run holds the results file's lock, the report says a send is writing it."""
    path = write_recipients(tmp_path / "r.csv", 10)
    out = tmp_path / "o.jsonl"
    assert run_cli("send", path, "--out", out, *FLAGS, env=mock.env).code == 0
    assert lock_holder(out) == (False, None)
    lock = RunLock(out).acquire()
    try:
        assert lock_holder(out) == (True, os.getpid())
        data = json.loads(_report(out, "--json")[1])
        text = _report(out)[1]
    finally:
        lock.release()
    assert data["running"] is True
    assert data["complete"] is False
    assert text.startswith("RUNNING — a send (process ")


@pytest.mark.integration
def test_retryable_failures_name_the_command_that_sends_them_again(tmp_path):
    """A send whose failures may pass names ``send ... --resume --retry-failed`` with the user's own
    input and results file; ``report`` names it too."""
    path = write_recipients(tmp_path / "r.csv", 12)
    out = tmp_path / "o.jsonl"
    with ThreadedMock(http_5xx_rate=1.0) as served:
        sent = run_cli("send", path, "--out", out, "--max-attempts", "1", *FLAGS, env=served.env)
    assert sent.code == 1, sent.err
    command_words = f"getui-push send {path} --out {out} ... --resume --retry-failed"
    assert "12 records failed for a cause that may pass; to send them again:" in sent.err
    assert command_words in sent.err
    code, text = _report(out)
    assert code == 0
    assert f"to retry the 12 retryable: getui-push send {path} --out" in text
    assert text.rstrip().endswith("--resume --retry-failed")


@pytest.mark.integration
def test_report_speaks_local_time_and_names_the_campaign(tmp_path, mock):
    """Times are in the send's zone (``--tz``, recorded with the run) or ``report --tz``, with the UTC
    offset; text, JSON and HTML name the title, body and input; the HTML marks each run on the timeline."""
    path = write_recipients(tmp_path / "r.csv", 20)
    out = tmp_path / "o.jsonl"
    zone = "America/Argentina/Buenos_Aires"
    assert run_cli("send", path, "--out", out, "--tz", zone, *FLAGS, env=mock.env).code == 0
    data = json.loads(_report(out, "--json")[1])
    assert data["tz"] == zone
    assert data["title"] == "Hello {name}"
    assert data["body"] == "b"
    assert data["input_name"] == "r.csv"
    assert data["started_local"].endswith(" -03:00")
    assert len(data["run_list"]) == 1
    text = _report(out)[1]
    assert "title      Hello {name}" in text
    assert "input      r.csv" in text
    assert f"-03:00 ({zone}" in text
    utc = _report(out, "--tz", "UTC")[1]
    assert "+00:00 (UTC" in utc
    assert run_cli("report", out, "--tz", "Mars/Olympus").code == 2
    page = tmp_path / "page.html"
    assert _report(out, "--html", page)[0] == 0
    html = page.read_text()
    assert "Hello {name}" in html
    assert "r.csv" in html
    assert 'class="run-mark"' in html
    assert "-03:00" in html
