"""80 columns stay readable: a wait keeps its reason on the progress line (in place of lower-priority
fields, never cut with "…"), and percentage, count and rate stay whole."""

from __future__ import annotations

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
