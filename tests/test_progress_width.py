"""80 columns stay readable: a wait keeps its reason on the progress line (in place of lower-priority
fields, never cut with "…"), and percentage, count and rate stay whole."""

from __future__ import annotations

import itertools
import re
import signal
from datetime import datetime, timedelta, timezone

import pytest

from getui_async.progress import ProgressBar
from tests.cli_harness import Terminal, ThreadedMock, write_recipients

pytest.importorskip("pyte")

ZONE = "America/Argentina/Buenos_Aires"  # a long zone name: the window wait's text is long too
FLAGS = ("--title", "Hello {name}", "--body", "b", "--mode", "single")


def _closed_window() -> str:
    """A one-hour window starting two hours from now (UTC clock, read in ZONE by the send)."""
    from zoneinfo import ZoneInfo

    start = datetime.now(timezone.utc).astimezone(ZoneInfo(ZONE)) + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.mark.integration
def test_a_window_wait_keeps_its_reason_at_80_columns(tmp_path):
    """At 80 columns, waiting for the send window says so on the progress line, in whole words."""
    path = write_recipients(tmp_path / "r.csv", 50)
    argv = ("send", path, "--out", tmp_path / "o.jsonl", "--window", _closed_window(), "--tz", ZONE, *FLAGS)
    with ThreadedMock() as served, Terminal(argv, served.env, columns=80) as term:
        screen = term.wait_for(lambda lines: any(line.startswith("sending") for line in lines))
        screen = term.wait_for(
            lambda lines: any(line.startswith("sending") and "window" in line for line in lines), timeout_s=5
        )
        line = next(line for line in screen if line.startswith("sending"))
        assert len(line) < 80
        assert "…" not in line
        assert re.search(r"\b0%", line), line
        assert "0/50" in line
        assert "waiting for the send window" in line
        term.proc.send_signal(signal.SIGINT)
        code, _ = term.finish()
    assert code == 3


@pytest.mark.parametrize("width", [66, 79])
def test_rate_and_count_outrank_the_wait_and_the_wait_outranks_the_rest(width):
    """A long wait text shortens to its first words before it is dropped; rate and count stay whole."""
    bar = ProgressBar(total=60_000, enabled=True)
    bar.fields(now=bar._started)
    bar.counts.update({"successed_online": 2_000, "failed": 3})
    bar.retries = 12
    bar.set_wait("waiting for the send window (opens 09:00 America/Argentina/Buenos_Aires)")
    text = bar.render_text(width, now=bar._started + 2).plain
    assert len(text) <= width
    assert "2,003/60,000" in text
    assert "1,002/s" in text
    assert "waiting for the send window" in text
    assert "…" not in text


@pytest.mark.integration
def test_the_summary_never_splits_a_word_at_80_columns(tmp_path):
    """At 80 columns every word of the end-of-run summary is whole on one screen line."""
    path = write_recipients(tmp_path / "r.csv", 12)
    out = tmp_path / "o.jsonl"
    argv = ("send", path, "--out", out, "--max-attempts", "1", *FLAGS)
    with ThreadedMock(http_5xx_rate=1.0) as served, Terminal(argv, served.env, columns=80, rows=60) as term:
        code, screen = term.finish()
    assert code == 1
    start = next(i for i, line in enumerate(screen) if "finished" in line)
    summary = screen[start:]
    words = {w for line in summary for w in line.split() if len(w) < 40}
    joined = " ".join(summary)
    assert "--retry-failed" in joined
    for word in words:
        assert any(word in line.split() for line in summary), word
    # no line ends inside a word that the next line continues: a wrapped line is indented
    for line, after in itertools.pairwise(summary):
        if len(line) >= 79:
            assert after.startswith(" "), (line, after)


def test_wrap_text_breaks_on_spaces_and_indents_continuations():
    """Long lines break between words, continuations indented under the line; short lines unchanged."""
    from getui_async.wrapping import wrap_text

    text = "short\n  note: successed_ignore (1,234): Getui did not push: device inactive for 90 days"
    wrapped = wrap_text(text, 40).split("\n")
    assert wrapped[0] == "short"
    assert all(len(line) < 40 for line in wrapped)
    assert wrapped[1].startswith("  note: successed_ignore")
    assert all(line.startswith("    ") for line in wrapped[2:])
    assert " ".join(w for line in wrapped[1:] for w in line.split()) == " ".join(text.split("\n")[1].split())


@pytest.mark.integration
def test_an_xlsx_send_shows_a_total_and_percentage(tmp_path):
    """An ``.xlsx`` input's progress line has a total (the sheet's declared rows) and a percentage."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["cid", "name"])
    for i in range(300):
        sheet.append([f"{i:032x}", f"User {i}"])
    path = tmp_path / "r.xlsx"
    book.save(path)
    argv = ("send", path, "--out", tmp_path / "o.jsonl", "--concurrency", "2", *FLAGS)
    with ThreadedMock(latency_ms=25.0) as served, Terminal(argv, served.env, columns=80) as term:
        screen = term.wait_for(lambda lines: any(re.search(r"^sending .*/300\b", line) for line in lines))
        line = next(line for line in screen if line.startswith("sending"))
        assert re.search(r"\b\d+%", line), line
        term.proc.send_signal(signal.SIGINT)
        code, _ = term.finish()
    assert code == 3


@pytest.mark.integration
def test_quiet_still_says_a_window_wait_in_one_line(tmp_path):
    """``-q`` prints only errors and the result, but a wait for the window is said in one line."""
    import select
    import subprocess

    from tests.cli_harness import clean_environ, command

    path = write_recipients(tmp_path / "r.csv", 5)
    argv = ("send", path, "--out", tmp_path / "o.jsonl", "-q", "--window", _closed_window(), "--tz", ZONE)
    with ThreadedMock() as served:
        proc = subprocess.Popen(
            command(*argv, *FLAGS), env=clean_environ(served.env), stderr=subprocess.PIPE, text=True
        )
        try:
            assert proc.stderr is not None
            ready, _, _ = select.select([proc.stderr], [], [], 10.0)  # bounded: silence fails here
            first = proc.stderr.readline() if ready else ""
            proc.send_signal(signal.SIGINT)
            rest = proc.communicate(timeout=30)[1]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert first.startswith("getui-push: waiting for the send window (opens "), first
    assert proc.returncode == 3
    assert rest.count("\n") == 1, rest  # the one-line result
