"""The progress line as a person sees it: a real pseudo-terminal read through a terminal emulator.

Each run sends to the bundled mock (127.0.0.1) with a little latency, so the screen can be read
mid-run; the line must fit the width with whole fields, count a resumed campaign from where it was,
and leave nothing behind once the run stops.
"""

from __future__ import annotations

import re
import signal
from collections import Counter

import pytest

from getui_async.progress import Field, ProgressBar, fit_fields, plural
from tests.cli_harness import Terminal, ThreadedMock, write_recipients
from tests.results_file import read_results

pytest.importorskip("pyte")

RECORDS = 300
FLAGS = ("--title", "Hello {name}", "--body", "b", "--mode", "single", "--concurrency", "2")
BAR = "━"


def progress_line(lines: list[str]) -> str | None:
    """The screen's progress line (the one starting with 'sending' and holding a count)."""
    found = [line for line in lines if line.startswith("sending") and f"/{RECORDS}" in line]
    return found[-1] if found else None


def done_of(line: str) -> int:
    match = re.search(r"([\d,]+)/" + str(RECORDS), line)
    assert match, line
    return int(match.group(1).replace(",", ""))


@pytest.fixture
def slow_mock():
    with ThreadedMock(latency_ms=25.0) as served:
        yield served


@pytest.mark.integration
@pytest.mark.parametrize("columns", [80, 120])
def test_mid_run_line_fits_the_width_with_whole_fields(slow_mock, tmp_path, columns):
    """Mid-run, the line is within the width and shows whole fields: count of total, rate, eta."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    argv = ("send", path, "--out", tmp_path / "o.jsonl", *FLAGS)
    with Terminal(argv, slow_mock.env, columns=columns) as term:
        screen = term.wait_for(lambda lines: (p := progress_line(lines)) is not None and done_of(p) >= 20)
        line = progress_line(screen)
        assert line is not None
        assert len(line) < columns
        assert "…" not in line
        assert re.search(r"\b\d+%", line), line
        assert re.search(r"\b[\d,]+/s\b", line), line
        assert re.search(r"\beta \d+:\d\d:\d\d\b", line), line
        assert BAR in line
        term.proc.send_signal(signal.SIGINT)
        code, _ = term.finish()
    assert code == 3


@pytest.mark.integration
@pytest.mark.parametrize("columns", [80, 120])
def test_ctrl_c_leaves_a_clean_screen_and_messages_in_one_format(slow_mock, tmp_path, columns):
    """After Ctrl-C no bar is left on screen, and every message line is formatted 'getui-push: ...'."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    argv = ("send", path, "--out", tmp_path / "o.jsonl", *FLAGS)
    with Terminal(argv, slow_mock.env, columns=columns, rows=40) as term:
        term.wait_for(lambda lines: (p := progress_line(lines)) is not None and done_of(p) >= 10)
        term.proc.send_signal(signal.SIGINT)
        code, screen = term.finish()
    assert code == 3
    assert not any(BAR in line for line in screen), screen
    assert progress_line(screen) is None, screen
    text = "\n".join(screen)
    assert "getui-push: SIGINT: finishing requests in flight" in text
    assert "getui-push: WARNING: stopping the campaign (signal)" in text
    assert "STOPPED (signal)" in text
    assert "--resume" in text


@pytest.mark.integration
def test_second_ctrl_c_says_it_exits_now_and_what_resume_does(slow_mock, tmp_path):
    """A second Ctrl-C erases the line, says it exits now and what --resume sends, and exits 3."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    out = tmp_path / "o.jsonl"
    argv = ("send", path, "--out", out, *FLAGS, "--drain-timeout-s", "30")
    slow_mock.call(slow_mock.mock.configure, latency_ms=400.0)
    with Terminal(argv, slow_mock.env, columns=100) as term:
        term.wait_for(lambda lines: (p := progress_line(lines)) is not None and done_of(p) >= 2)
        term.proc.send_signal(signal.SIGINT)
        term.wait_for(lambda lines: any("finishing requests in flight" in line for line in lines))
        term.proc.send_signal(signal.SIGINT)
        code, screen = term.finish()
    assert code == 3
    text = "\n".join(screen)
    assert "second signal: exiting now; `--resume` will send the records without a result line" in text
    assert not any(BAR in line for line in screen), screen
    assert all(line.endswith(b"\n") for line in out.read_bytes().splitlines(keepends=True))


@pytest.mark.integration
def test_resume_counts_the_whole_campaign(slow_mock, tmp_path):
    """On --resume the line starts from the records an earlier run finished, not from zero."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    out = tmp_path / "o.jsonl"
    argv = ("send", path, "--out", out, *FLAGS)
    with Terminal(argv, slow_mock.env, columns=120) as term:
        term.wait_for(lambda lines: (p := progress_line(lines)) is not None and done_of(p) >= 60)
        term.proc.send_signal(signal.SIGINT)
        assert term.finish()[0] == 3
    before = len(read_results(out))
    with Terminal((*argv, "--resume"), slow_mock.env, columns=120) as term:
        screen = term.wait_for(lambda lines: progress_line(lines) is not None)
        line = progress_line(screen)
        assert line is not None
        assert done_of(line) >= before
        assert int(re.search(r"(\d+)%", line).group(1)) >= before * 100 // RECORDS  # type: ignore[union-attr]
        code, _ = term.finish()
    assert code == 0
    assert Counter(r["line"] for r in read_results(out)) == Counter(range(2, RECORDS + 2))


# -- layout, without a terminal ----------------------------------------------------------------------------


def test_fields_are_dropped_whole_by_priority():
    """A narrow width drops the lowest-priority fields entirely and keeps display order."""
    fields = [Field("sending", 0, 0), Field("50%", 1, 1), Field("retries 3", 9, 3), Field("1,000/s", 5, 2)]
    kept, bar = fit_fields(fields, 60, bar_rank=7)
    assert [f.text for f in kept] == ["sending", "50%", "1,000/s", "retries 3"]
    assert bar == 60 - len("sending  50%  1,000/s  retries 3  ")
    kept, bar = fit_fields(fields, 40, bar_rank=7)
    assert [f.text for f in kept] == ["sending", "50%", "1,000/s"]
    assert bar == 40 - len("sending  50%  1,000/s  ")
    kept, bar = fit_fields(fields, 22, bar_rank=7)
    assert [f.text for f in kept] == ["sending", "50%", "1,000/s"]
    assert bar == 0
    kept, _ = fit_fields(fields, 12)
    assert [f.text for f in kept] == ["sending", "50%"]


@pytest.mark.parametrize("width", [40, 60, 79, 119, 200])
def test_rendered_line_never_exceeds_the_width(width):
    """Whatever the counters, the rendered line fits the width it was given."""
    bar = ProgressBar(total=10_000_000, enabled=True, initial=4_000_000)
    bar.counts.update({"successed_online": 1_234_567, "failed": 12_345, "rejected": 99, "duplicate": 7})
    bar.retries = 4321
    bar.set_wait("paused by Getui's per-minute limit", for_s=40)
    text = bar.render_text(width).plain
    assert len(text) <= width
    assert text.startswith("sending")


def test_a_wait_is_shown_in_words_and_expires():
    """set_wait shows why nothing moves, with the seconds left, and it goes away when the time is up."""
    bar = ProgressBar(total=10, enabled=True)
    bar.set_wait("paused by Getui's per-minute limit", for_s=30)
    now = bar._started + 1  # a fixed clock instead of sleeping
    texts = [f.text for f in bar.fields(now=now)]
    assert any(t.startswith("waiting: paused by Getui's per-minute limit, ") for t in texts)
    assert not any(t.startswith("waiting") for t in (f.text for f in bar.fields(now=now + 60)))


def test_resume_progress_counts_earlier_lines():
    """``initial`` counts records finished by an earlier run into the done count and percentage."""
    bar = ProgressBar(total=200, enabled=True, initial=150)
    bar.counts["successed_online"] += 10
    texts = [f.text for f in bar.fields()]
    assert "160/200" in texts
    assert " 80%" in texts


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 result lines"), (1, "1 result line"), (1234, "1,234 result lines")]
)
def test_plural(count, expected):
    """Counts read as English: one line, two lines."""
    assert plural(count, "result line") == expected
