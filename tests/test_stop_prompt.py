"""Every stop is prompt: Ctrl-C with a rate limit exits at once when nothing is in flight, and the
summary counts what was read and sent, not what was queued ahead."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from tests.cli_harness import ThreadedMock, clean_environ, command, wait_until, write_recipients
from tests.results_file import read_results

RECORDS = 2_000
FLAGS = ("--title", "Hello {name}", "--body", "b", "--mode", "single")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("flags", "faults"),
    [
        (("--rate", "4"), {}),
        (("--rate", "0.5"), {}),
        ((), {"http_5xx_rate": 0.9}),  # most requests waiting out a retry's backoff
    ],
    ids=["rate-4", "rate-0.5", "backoff"],
)
def test_ctrl_c_exits_within_two_seconds(tmp_path, flags, faults):
    """SIGINT after the first lines is answered (summary, exit 3) within 2 s, whatever waits: the rate
    or a retry's backoff."""
    path = write_recipients(tmp_path / "r.csv", RECORDS)
    out = tmp_path / "o.jsonl"
    with ThreadedMock(**faults) as served:
        proc = subprocess.Popen(
            command("send", path, "--out", out, *flags, *FLAGS),
            env=clean_environ(served.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(lambda: out.exists() and out.stat().st_size > 0)
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 3, err
    assert took < 2.0, (took, err.decode())
    text = err.decode()
    lines = read_results(out)
    match = re.search(r"([\d,]+) records? read", text)
    assert match, text
    read = int(match.group(1).replace(",", ""))
    assert read < RECORDS
    assert read <= len(lines) + 64, (read, len(lines), text)


async def test_a_closed_bucket_lets_every_waiter_through_at_once():
    """``LeakyBucket.close`` ends every wait for the rate (a stopping run), and later acquires pass."""
    import asyncio

    from getui_async.leaky_bucket import LeakyBucket

    bucket = LeakyBucket(0.01)  # one acquisition per 100 s
    await bucket.acquire()
    waiters = [asyncio.ensure_future(bucket.acquire()) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    bucket.close()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=1.0)
    await asyncio.wait_for(bucket.acquire(), timeout=1.0)


async def test_a_stopped_throttle_ends_a_pause_and_the_rate_wait():
    """``Throttle.stop`` wakes whoever waits for a per-minute pause or for the rate."""
    import asyncio

    from getui_async.throttle import Throttle

    throttle = Throttle(concurrency=4, rate_per_s=0.01, wall_clock=lambda: 0.0)
    async with throttle:
        pass
    throttle.rate_limited(10005)
    assert throttle.paused
    waiters = [asyncio.ensure_future(throttle.__aenter__()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    throttle.stop()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=1.0)
    throttle.rate_limited(10005)
    assert not throttle.paused


def test_the_progress_line_drops_its_eta_once_stopping():
    """After a stop nothing more is sent, so the line shows no ETA."""
    from getui_async.events import CampaignStopping, RecordDone
    from getui_async.outcome import StopReason
    from getui_async.progress import ProgressBar

    bar = ProgressBar(total=1_000, enabled=False)
    bar.fields(now=0.0)
    for _ in range(10):
        bar(RecordDone("successed_online", 1))
    assert any(f.text.startswith("eta ") for f in bar.fields(now=1.0))
    bar(CampaignStopping(StopReason.SIGNAL, "SIGINT"))
    assert not any(f.text.startswith("eta ") for f in bar.fields(now=2.0))


async def test_a_stopped_throttle_ends_a_backoff():
    """``Throttle.sleep`` (a retry's backoff) returns as soon as the throttle stops."""
    import asyncio

    from getui_async.throttle import Throttle

    throttle = Throttle(concurrency=1)
    sleeper = asyncio.ensure_future(throttle.sleep(100.0))
    await asyncio.sleep(0.01)
    assert not sleeper.done()
    throttle.stop()
    await asyncio.wait_for(sleeper, timeout=1.0)
    await asyncio.wait_for(throttle.sleep(100.0), timeout=1.0)
