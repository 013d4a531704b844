"""Issue #14 against the bundled mock: send windows, quota waits, exclusions, frequency caps, the ledger.

Every wait here is a few seconds at most, and each run is bounded by ``RUN_LIMIT_S``. Times are
checked against the wall clock the engine's gate reads (``time.time``), never by how long a run took.
"""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest

from getui_async import _json
from getui_async.config import (
    ENV_APP_ID,
    ENV_APP_KEY,
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    Mode,
    PaceSettings,
    Settings,
)
from getui_async.engine import Campaign, Summary, run_campaign
from getui_async.events import WaitStarted
from getui_async.mock import MockGetui
from getui_async.pace_flags import schedule_of
from getui_async.results.sidecar import stored_lineage
from getui_async.sources import open_source
from getui_async.transport import AiohttpTransport, Response
from tests.conftest import MakeMock

from .conftest import (
    DELIVERED,
    check_finished,
    check_one_line_per_record,
    cid_of,
    options_for,
    read_results,
    send,
    settings_for,
    template_for,
    write_recipients,
)

pytestmark = pytest.mark.integration

#: The longest one engine run or subprocess of these tests may take.
RUN_LIMIT_S: Final = 60.0
#: How far ahead a window opens or a quota resets: long enough for a run to start and reach the gate.
AHEAD_S: Final = 3
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
BEIJING_OFFSET_S: Final = 8 * 3600


class PushClock:
    """A transport that notes the wall-clock time each push request goes out."""

    def __init__(self, settings: Settings) -> None:
        self._inner = AiohttpTransport(settings)
        self.push_times: list[float] = []

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        if "/push/" in url:
            self.push_times.append(time.time())
        return await self._inner.request(method, url, headers=headers, body=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def wall(moment: float, tz: ZoneInfo) -> str:
    """``HH:MM:SS`` of an epoch second in ``tz``."""
    return datetime.fromtimestamp(moment, tz).strftime("%H:%M:%S")


def window_from(start: float, length_s: float, tz: ZoneInfo = SHANGHAI) -> str:
    """A ``--window`` value opening at ``start`` (epoch seconds) for ``length_s``."""
    return f"{wall(start, tz)}-{wall(start + length_s, tz)}"


async def bounded(run: Any) -> Summary:
    summary: Summary = await asyncio.wait_for(run, RUN_LIMIT_S)
    return summary


def statuses(lines: list[dict[str, Any]]) -> dict[str, str]:
    return {line["cid"]: line["status"] for line in lines}


# --- windows ------------------------------------------------------------------------------------------


async def test_a_window_opening_soon_holds_every_push_until_it_opens(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """No push goes out before the window opens, all go after; the wait is seen and summarized."""
    mock = await make_mock()
    recipients = write_recipients(tmp_path / "in.jsonl", 120)
    opens = math.ceil(time.time()) + AHEAD_S
    pace = PaceSettings(window=window_from(opens, 3600))
    settings = settings_for(mock)
    clock = PushClock(settings)
    seen: list[object] = []
    summary = await bounded(
        run_campaign(
            recipients.path,
            template_for(Mode.BATCH),
            settings,
            options_for(Mode.BATCH, pace=pace),
            out=tmp_path / "out.jsonl",
            observers=[seen.append],
            transport=clock,  # type: ignore[arg-type]
        )
    )
    assert summary.exit_code == 0, summary.to_dict()
    check_finished(mock, recipients, tmp_path / "out.jsonl")
    assert clock.push_times
    assert min(clock.push_times) >= opens
    started = [event for event in seen if isinstance(event, WaitStarted)]
    assert [event.text for event in started] == [schedule_of(pace).window_wait_text()]
    assert started[0].text.startswith("waiting for the send window (opens ")
    assert [(w["reason"], w["outcome"]) for w in summary.to_dict()["waits"]] == [("window", "resumed")]


async def test_no_wait_outside_the_window_stops_then_a_resume_inside_it_finishes(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """--no-wait outside the window: exit 3 with nothing sent; the resume inside it sends each cid once."""
    mock = await make_mock()
    recipients = write_recipients(tmp_path / "in.jsonl", 80)
    out = tmp_path / "out.jsonl"
    settings = settings_for(mock)
    now = time.time()
    closed = PaceSettings(window=window_from(now + 3600, 3600), no_wait=True)
    first = await bounded(send(recipients, settings, out, Mode.BATCH, pace=closed))
    assert (first.exit_code, first.stopped) == (3, "window"), first.to_dict()
    assert mock.deliveries == {}
    assert "outside the send window" in first.stop_detail
    inside = PaceSettings(window=window_from(now - 3600, 7200), no_wait=True)
    second = await bounded(send(recipients, settings, out, Mode.BATCH, resume=True, pace=inside))
    assert second.exit_code == 0, second.to_dict()
    check_finished(mock, recipients, out)


async def test_a_stop_while_waiting_for_the_window_ends_the_run_at_once(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """A stop request during a window wait ends the run (exit 3), nothing sent, the wait 'stopped'."""
    mock = await make_mock()
    recipients = write_recipients(tmp_path / "in.jsonl", 40)
    pace = PaceSettings(window=window_from(time.time() + 3600, 3600))
    seen: list[object] = []
    with open_source(recipients.path) as source:
        campaign = Campaign(
            source,
            template_for(Mode.BATCH),
            settings_for(mock),
            options_for(Mode.BATCH, pace=pace),
            out=tmp_path / "out.jsonl",
            observers=[seen.append],
        )
        run = asyncio.ensure_future(campaign.run())
        limit = time.monotonic() + RUN_LIMIT_S
        while not any(isinstance(event, WaitStarted) for event in seen):
            assert time.monotonic() < limit
            assert not run.done()
            await asyncio.sleep(0.01)
        campaign.request_stop("signal", "test")
        summary = await bounded(run)
    assert summary.exit_code == 3
    assert summary.stopped == "signal"
    assert mock.deliveries == {}
    assert [(w["reason"], w["outcome"]) for w in summary.waits] == [("window", "stopped")]


# --- quota waits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("late_s", [0, 2])
async def test_wait_quota_waits_for_the_reset_and_finishes_in_one_run(
    make_mock: MakeMock, tmp_path: Path, late_s: int
) -> None:
    """A daily-quota reply waits for --quota-reset (a few seconds ahead), then every cid goes once;
    a provider whose reset comes ``late_s`` later is retried soon after, not a day later."""
    resets = math.ceil(time.time()) + AHEAD_S
    mock_reset = float((resets + late_s + BEIJING_OFFSET_S) % 86_400)
    mock = await make_mock(daily_quota=60, quota_reset_s=mock_reset)
    recipients = write_recipients(tmp_path / "in.jsonl", 100)
    out = tmp_path / "out.jsonl"
    pace = PaceSettings(wait_quota=True, quota_reset=wall(resets, SHANGHAI))
    summary = await bounded(send(recipients, settings_for(mock), out, Mode.BATCH, batch_size=10, pace=pace))
    assert summary.exit_code == 0, summary.to_dict()
    lines = check_finished(mock, recipients, out)
    assert mock.stats().quota_refusals >= 1
    waits = [(w["reason"], w["outcome"]) for w in summary.waits]
    assert waits[0] == ("quota", "resumed")
    assert set(waits) == {("quota", "resumed")}
    assert len(waits) == 1 if late_s == 0 else len(waits) >= 2
    assert min(line["ts"] for line in lines[60:]) >= _iso(resets + late_s)


async def test_a_quota_reset_after_the_deadline_stops_as_before(make_mock: MakeMock, tmp_path: Path) -> None:
    """--deadline before the reset: the quota reply stops the run (exit 3, 'quota'), resumable."""
    mock = await make_mock(daily_quota=30)
    recipients = write_recipients(tmp_path / "in.jsonl", 60)
    deadline = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    pace = PaceSettings(wait_quota=True, quota_reset=wall(time.time() + 7200, SHANGHAI), deadline=deadline)
    out = tmp_path / "out.jsonl"
    summary = await bounded(send(recipients, settings_for(mock), out, Mode.BATCH, batch_size=10, pace=pace))
    assert (summary.exit_code, summary.stopped) == (3, "quota"), summary.to_dict()
    assert "after the deadline" in summary.stop_detail
    lines = read_results(out)
    assert {line["status"] for line in lines} <= DELIVERED
    assert len(lines) == 30


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- exclusions -----------------------------------------------------------------------------------------


async def test_exclusions_from_a_text_file_and_an_earlier_results_file(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """Listed cids and an earlier run's dead cids get 'excluded' naming their file; the rest go once."""
    mock = await make_mock()
    recipients = write_recipients(tmp_path / "in.jsonl", 60, invalid_every=10)
    earlier = tmp_path / "earlier.jsonl"
    settings = settings_for(mock)
    first = await bounded(send(recipients, settings, earlier, Mode.BATCH, campaign_id="earlier"))
    assert first.exit_code == 1  # the six invalid cids failed
    mock.reset()
    listed = tmp_path / "unsubscribed.txt"
    listed.write_text(f"# opted out\n{cid_of(3)}\n{cid_of(4)}\n\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    pace = PaceSettings(exclude=(str(listed), str(earlier)))
    summary = await bounded(send(recipients, settings, out, Mode.BATCH, campaign_id="later", pace=pace))
    assert summary.exit_code == 0, summary.to_dict()
    lines = read_results(out)
    check_one_line_per_record(lines, recipients.records)
    by_cid = {line["cid"]: line for line in lines}
    dead = {recipients.cids[r] for r, e in recipients.expected.items() if e == "failed"}
    for cid in dead:
        assert by_cid[cid]["status"] == "excluded"
        assert str(earlier) in by_cid[cid]["msg"]
    for cid in (cid_of(3), cid_of(4)):
        assert by_cid[cid]["status"] == "excluded"
        assert str(listed) in by_cid[cid]["msg"]
    sent = {cid for cid, line in by_cid.items() if line["status"] in DELIVERED}
    assert sent == recipients.deliverable - {cid_of(3), cid_of(4)}
    assert set(mock.deliveries) == sent
    assert set(mock.deliveries.values()) == {1}
    assert summary.counts["excluded"] == len(dead) + 2


# --- the ledger and caps ----------------------------------------------------------------------------------


async def test_two_campaigns_on_one_ledger_with_max_per_day_one(make_mock: MakeMock, tmp_path: Path) -> None:
    """The second campaign sends only to recipients the first did not reach; the rest are 'capped'."""
    mock = await make_mock()
    ledger = tmp_path / "ledger.sqlite"
    settings = settings_for(mock)
    spring = write_recipients(tmp_path / "spring.jsonl", 50)
    autumn = write_recipients(tmp_path / "autumn.jsonl", 90)
    pace = PaceSettings(ledger=str(ledger), max_per_day=1)
    first = await bounded(
        send(spring, settings, tmp_path / "a.jsonl", Mode.BATCH, campaign_id="a", pace=pace)
    )
    assert first.exit_code == 0
    second = await bounded(
        send(autumn, settings, tmp_path / "b.jsonl", Mode.BATCH, campaign_id="b", pace=pace)
    )
    assert second.exit_code == 0, second.to_dict()
    lines = read_results(tmp_path / "b.jsonl")
    check_one_line_per_record(lines, autumn.records)
    got = statuses(lines)
    assert {cid for cid, s in got.items() if s == "capped"} == spring.deliverable
    assert {cid for cid, s in got.items() if s in DELIVERED} == autumn.deliverable - spring.deliverable
    assert set(mock.deliveries.values()) == {1}  # nobody got two pushes
    capped = next(line for line in lines if line["status"] == "capped")
    assert "--max-per-day 1" in capped["msg"]
    assert ledger_rows(ledger, tmp_path / "a.jsonl") == spring.deliverable
    assert ledger_rows(ledger, tmp_path / "b.jsonl") == autumn.deliverable - spring.deliverable


def ledger_rows(path: Path, results: Path) -> set[str]:
    """The recipients the run lineage of ``results`` (named in its sidecar) delivered to, per the ledger."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT target FROM marks WHERE lineage = ? AND delivered = 1", (stored_lineage(results),)
        ).fetchall()
    return {row[0] for row in rows}


def cli_env(mock: MockGetui) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GETUI_")}
    env.update(
        {
            ENV_APP_ID: mock.app_id,
            ENV_APP_KEY: mock.app_key,
            ENV_MASTER_SECRET: mock.master_secret,
            ENV_BASE_URL: mock.base_url,
        }
    )
    return env


async def test_a_kill_during_a_ledger_run_then_resume_leaves_ledger_and_results_agreeing(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """SIGKILL mid-run with --ledger, then --resume: the ledger holds exactly the delivered cids."""
    mock = await make_mock(latency_ms=20.0)
    recipients = write_recipients(tmp_path / "in.jsonl", 3000)
    out, ledger = tmp_path / "out.jsonl", tmp_path / "ledger.sqlite"
    argv = [
        sys.executable, "-m", "getui_async", "send", str(recipients.path), "--out", str(out),
        "--mode", "batch", "--campaign", "kill-ledger", "--concurrency", "2", "--no-progress",
        "--title", "Hi {name}", "--body", "Your offer, {name}",
        "--ledger", str(ledger), "--max-per-day", "1",
    ]  # fmt: skip
    env = cli_env(mock)
    with (tmp_path / "stderr-1.txt").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stderr=err
        )
    limit = time.monotonic() + RUN_LIMIT_S
    # Kill once the results file holds lines and at least one checkpoint (1 s) may have hit the ledger.
    while not (out.exists() and out.stat().st_size > 20_000 and len(mock.deliveries) > 1200):
        assert proc.returncode is None, (tmp_path / "stderr-1.txt").read_text()
        assert time.monotonic() < limit, "the run never got going"
        await asyncio.sleep(0.01)
    proc.kill()
    await proc.wait()
    assert len(mock.deliveries) < recipients.records, "the run finished before the kill"
    with (tmp_path / "stderr-2.txt").open("wb") as err:
        resumed = await asyncio.create_subprocess_exec(
            *argv, "--resume", env=env, stdin=asyncio.subprocess.DEVNULL, stderr=err
        )
        code = await asyncio.wait_for(resumed.wait(), RUN_LIMIT_S)
    assert code == 0, (tmp_path / "stderr-2.txt").read_text()
    lines = check_finished(mock, recipients, out)
    delivered = {line["cid"] for line in lines if line["status"] in DELIVERED}
    assert ledger_rows(ledger, out) == delivered
    assert not any(line["status"] == "capped" for line in lines)  # a campaign never counts against itself


def test_bad_pacing_values_exit_2_before_anything_is_written(tmp_path: Path) -> None:
    """A bad --window, --tz, --deadline or --max-per-day without --ledger: exit 2 naming flag and value."""
    recipients = write_recipients(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    cases = {
        ("--window", "9:00-21:00"): "--window '9:00-21:00'",
        ("--tz", "Asia/Nowhere"): "--tz 'Asia/Nowhere'",
        ("--deadline", "soon"): "--deadline 'soon'",
        ("--quota-reset", "24:00"): "--quota-reset '24:00'",
        ("--max-per-day", "2"): "--max-per-day 2: needs --ledger",
        ("--exclude", str(tmp_path / "missing.txt")): "missing.txt",
    }
    for flags, said in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "getui_async", "send", str(recipients.path), "--out", str(out), *flags],
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT_S,
            env={k: v for k, v in os.environ.items() if not k.startswith("GETUI_")},
            check=False,
        )
        assert done.returncode == 2, (flags, done.stderr)
        assert said in done.stderr, (flags, done.stderr)
        assert not out.exists()


async def test_cli_no_wait_outside_the_window_exits_3_and_a_resume_inside_it_exits_0(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """The real command: --no-wait outside --window exits 3 sending nothing; --resume inside exits 0."""
    mock = await make_mock()
    recipients = write_recipients(tmp_path / "in.jsonl", 50)
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    now = time.time()
    base = [
        sys.executable, "-m", "getui_async", "send", str(recipients.path), "--out", str(out),
        "--mode", "batch", "--no-progress", "--title", "Hi {name}", "--body", "Your offer, {name}",
        "--tz", "UTC", "--no-wait", "--summary-json", str(summary),
    ]  # fmt: skip

    async def run(*flags: str) -> int:
        proc = await asyncio.create_subprocess_exec(
            *base, *flags, env=cli_env(mock), stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), RUN_LIMIT_S)
        assert proc.returncode is not None, err
        return proc.returncode

    assert await run("--window", window_from(now + 3600, 3600, ZoneInfo("UTC"))) == 3
    assert mock.deliveries == {}
    assert _json.loads(summary.read_bytes())["stopped"] == "window"
    assert await run("--window", window_from(now - 3600, 7200, ZoneInfo("UTC")), "--resume") == 0
    check_finished(mock, recipients, out)


async def test_with_a_window_the_cap_is_checked_once_the_window_opens(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """Records read before the window opens are checked against the ledger after it opens."""
    mock = await make_mock()
    ledger = str(tmp_path / "ledger.sqlite")
    settings = settings_for(mock)
    first = write_recipients(tmp_path / "first.jsonl", 20)
    second = write_recipients(tmp_path / "second.jsonl", 40)
    pace = PaceSettings(ledger=ledger, max_per_day=1)
    assert (
        await bounded(send(first, settings, tmp_path / "a.jsonl", Mode.BATCH, campaign_id="a", pace=pace))
    ).exit_code == 0
    opens = math.ceil(time.time()) + AHEAD_S
    later = PaceSettings(ledger=ledger, max_per_day=1, window=window_from(opens, 3600))
    summary = await bounded(
        send(second, settings, tmp_path / "b.jsonl", Mode.BATCH, campaign_id="b", pace=later)
    )
    assert summary.exit_code == 0, summary.to_dict()
    lines = read_results(tmp_path / "b.jsonl")
    capped = [line for line in lines if line["status"] == "capped"]
    assert {line["cid"] for line in capped} == first.deliverable
    assert min(line["ts"] for line in lines) >= _iso(opens)
