"""Standard input held open: a stop exits with its own status, whatever the reader thread is doing.

The reader thread may sit in a read of a pipe nobody writes to; the interpreter must still shut down
cleanly (no "Fatal Python error" from a stdin lock held by that thread) and exit 3.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    command,
    wait_until,
)
from tests.results_file import read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
RECORDS = 500
#: More cids than one user/detail query asks about, so check is seen at work before it stalls.
CHECKED = 1500


def _jsonl(count: int) -> bytes:
    return b"".join(b'{"cid": "%032x", "name": "User %d"}\n' % (i, i) for i in range(count))


def _has_lines(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0 and path.read_bytes().count(b"\n") > 0


@pytest.mark.parametrize("mode", ["batch", "single"])
def test_sigterm_during_a_stalled_stdin_read_exits_3(tmp_path: Path, mode: str) -> None:
    """SIGTERM while stdin is open but idle: exit 3, no fatal error at shutdown, whole result lines."""
    out = tmp_path / "results.jsonl"
    argv = ("send", "-", "--format", "jsonl", "--out", out, *SIMPLE, "--mode", mode)
    with ThreadedMock() as served, (tmp_path / "err").open("w+b") as err:
        proc = subprocess.Popen(
            command(*argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=clean_environ(served.env),
        )
        try:
            assert proc.stdin is not None
            proc.stdin.write(_jsonl(RECORDS))
            proc.stdin.flush()  # and the pipe stays open: the reader waits for more
            wait_until(lambda: _has_lines(out))
            wait_until(lambda: served.stats().deliveries >= RECORDS)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
            assert proc.stdin is not None
            proc.stdin.close()
        err.seek(0)
        text = err.read().decode()
    assert "Fatal Python error" not in text, text
    assert "Traceback" not in text, text
    assert code == 3, text
    assert "SIGTERM" in text
    lines = read_results(out)  # each one a whole JSON object
    assert {line["line"] for line in lines} == set(range(1, RECORDS + 1))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_during_a_stalled_check_of_stdin_exits_3(tmp_path: Path, stop: signal.Signals) -> None:
    """``check -`` reading an idle pipe: SIGINT or SIGTERM ends it with exit 3, no fatal error, no hang."""
    with ThreadedMock() as served, (tmp_path / "err").open("w+b") as err:
        proc = subprocess.Popen(
            command("check", "-", "--format", "jsonl"),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=clean_environ(served.env),
        )
        try:
            assert proc.stdin is not None
            proc.stdin.write(_jsonl(CHECKED))  # one user/detail query's worth, and some
            proc.stdin.flush()
            wait_until(lambda: any("user/detail" in key for key in served.stats().requests))
            proc.send_signal(stop)
            code = proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
            assert proc.stdin is not None
            proc.stdin.close()
        err.seek(0)
        text = err.read().decode()
    assert "Fatal Python error" not in text, text
    assert "Traceback" not in text, text
    assert code == 3, text
