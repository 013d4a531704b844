"""Crash consistency of the real ``getui-push send`` process: SIGKILL at seeded moments, SIGTERM, resume.

The mock runs in the test process, so it outlives every kill and keeps the one delivery log all runs
are judged by. A killed run loses at most what it had not flushed (up to one checkpoint interval or
1024 lines) and the replies still in flight; the resumed run sends those records again with the same
request_ids, Getui drops the repeats, and the records end as ``accepted``: exactly once.

List mode is at-least-once in exactly that window: list pushes carry no request_id, so a recipient
delivered by a killed run whose line was not yet flushed (or whose reply was still in flight) is
delivered again by the resume. Every list delivery carries the campaign's notify_id, so the repeat
replaces the first notification on the device instead of showing twice. Outside that window (a clean
stop with SIGTERM, a quota stop) list mode is exactly-once too.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from getui_async.config import ENV_APP_ID, ENV_APP_KEY, ENV_BASE_URL, ENV_MASTER_SECRET, Mode
from getui_async.messages import derive_notify_id
from getui_async.mock import MockGetui
from tests.conftest import MakeMock

from .conftest import (
    CAMPAIGN,
    DELIVERED,
    FaultScript,
    Recipients,
    check_finished,
    check_one_line_per_record,
    read_results,
    send,
    settings_for,
    write_recipients,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The longest any one wait of these tests may take before it fails (bounds every polling loop).
WAIT_LIMIT_S: Final = 60.0
POLL_S: Final = 0.002
SEED: Final = 20_240_611


@dataclass(frozen=True)
class Pace:
    """How big a run is and how fast the mock lets it go, so kills land mid-run."""

    records: int
    latency_ms: float
    concurrency: int
    flags: tuple[str, ...] = ()


PACES: Final = {
    Mode.SINGLE: Pace(1000, 15.0, 4),
    Mode.BATCH: Pace(16_000, 80.0, 2),
    Mode.LIST: Pace(8000, 50.0, 2, ("--list-chunk", "100")),
}
MESSAGES: Final = {
    Mode.SINGLE: ("--title", "Hi {name}", "--body", "Your offer, {name}"),
    Mode.BATCH: ("--title", "Hi {name}", "--body", "Your offer, {name}"),
    Mode.LIST: ("--title", "Hello", "--body", "The sale starts today"),
}
#: Where each run is killed: right after a push request reached the mock (in flight, held by the mock's
#: latency: "during a batch"); right after the mock delivered a request whose reply it then holds back
#: (Getui has it, the sender never learns: the hard case); as soon as the results file grows ("during
#: a flush"); or at a seeded random time once sending started.
KILL_POINTS: Final = ("request", "delivered", "flush", "time", "delivered", "flush")


# --- the process ----------------------------------------------------------------------------------------


class Sender:
    """One ``getui-push send`` subprocess against ``mock``, its stderr in a file."""

    def __init__(self, mock: MockGetui, recipients: Recipients, out: Path, mode: Mode, tmp: Path) -> None:
        self.mock = mock
        self.recipients = recipients
        self.out = out
        self.mode = mode
        self.tmp = tmp
        self.runs = 0

    def argv(self, resume: bool) -> list[str]:
        pace = PACES[self.mode]
        return [
            sys.executable,
            "-m",
            "getui_async",
            "send",
            str(self.recipients.path),
            "--out",
            str(self.out),
            "--mode",
            self.mode.value,
            "--campaign",
            CAMPAIGN,
            "--concurrency",
            str(pace.concurrency),
            "--timeout-s",
            "5",
            "--no-progress",
            *MESSAGES[self.mode],
            *pace.flags,
            *(["--resume"] if resume else []),
        ]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GETUI_")}
        env.update(
            {
                ENV_APP_ID: self.mock.app_id,
                ENV_APP_KEY: self.mock.app_key,
                ENV_MASTER_SECRET: self.mock.master_secret,
                ENV_BASE_URL: self.mock.base_url,
            }
        )
        return env

    async def start(self) -> asyncio.subprocess.Process:
        resume = self.runs > 0
        self.runs += 1
        with (self.tmp / f"stderr-{self.runs}.txt").open("wb") as err:
            return await asyncio.create_subprocess_exec(
                *self.argv(resume), env=self.env(), stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err
            )

    def stderr(self) -> str:
        return (self.tmp / f"stderr-{self.runs}.txt").read_text(errors="replace")

    def pushes(self) -> int:
        """Requests that deliver (creating the list message delivers nothing)."""
        routes = self.mock.stats().requests.items()
        return sum(n for route, n in routes if "/push/" in route and not route.endswith("/list/message"))

    def size(self) -> int:
        return self.out.stat().st_size if self.out.exists() else 0


async def until(proc: asyncio.subprocess.Process, condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds (True) or the process ends (False); bounded by WAIT_LIMIT_S."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while proc.returncode is None:
        if condition():
            return True
        assert time.monotonic() < deadline, "the send process neither progressed nor ended"
        await asyncio.sleep(POLL_S)
    return False


async def kill_at(point: str, sender: Sender, proc: asyncio.subprocess.Process, rng: random.Random) -> bool:
    """SIGKILL ``proc`` at ``point``; False when it finished first."""
    pushes = sender.pushes()
    if not await until(proc, lambda: sender.pushes() > pushes):  # sending has started
        return False
    if point == "request":
        target = sender.pushes() + rng.randint(1, 8)
        reached = await until(proc, lambda: sender.pushes() >= target)
    elif point == "delivered":
        held = sender.mock.stats().faults.get("hang_after", 0)
        sender.mock.configure(hang_rate=1.0, hang_phase="after")
        reached = await until(proc, lambda: sender.mock.stats().faults.get("hang_after", 0) > held)
        sender.mock.configure(hang_rate=0.0)
    elif point == "flush":
        size = sender.size()
        reached = await until(proc, lambda: sender.size() > size)
    else:
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        reached = proc.returncode is None
    if not reached:
        return False
    proc.kill()
    await proc.wait()
    return True


def tear_last_line(out: Path) -> None:
    """Append half of the last line again, as a write cut short by a kill would leave it."""
    data = out.read_bytes()
    if data:
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        with out.open("ab") as handle:
            handle.write(last[: len(last) // 2])


# --- kill and resume -------------------------------------------------------------------------------------


async def kill_and_resume(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> tuple[MockGetui, Recipients, int]:
    """Run ``send`` killed at every KILL_POINTS moment, then resume it to the end; returns the kills."""
    pace = PACES[mode]
    rng = random.Random(SEED + list(Mode).index(mode))
    mock = await make_mock(
        seed=21, latency_ms=pace.latency_ms, latency_jitter_ms=pace.latency_ms / 2, hang_s=2.0
    )
    recipients = write_recipients(tmp_path / "recipients.jsonl", pace.records, repeat_every=97)
    sender = Sender(mock, recipients, tmp_path / "results.jsonl", mode, tmp_path)
    kills = 0
    for point in KILL_POINTS:
        proc = await sender.start()
        if not await kill_at(point, sender, proc, rng):
            break
        kills += 1
        if kills == 2:
            tear_last_line(sender.out)
    else:
        proc = await sender.start()
    returncode = await asyncio.wait_for(proc.wait(), WAIT_LIMIT_S)
    assert returncode == 0, sender.stderr()
    assert "Traceback" not in sender.stderr()
    return mock, recipients, kills


@pytest.mark.parametrize("mode", [Mode.SINGLE, Mode.BATCH])
async def test_sigkill_at_random_moments_then_resume_is_exactly_once(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """Six SIGKILLs at seeded moments, each resumed: a whole line per record and every cid delivered once."""
    # What a kill cut off after delivery is resent with its request_id and dropped by Getui as a repeat.
    mock, recipients, kills = await kill_and_resume(make_mock, tmp_path, mode)
    assert kills == len(KILL_POINTS)
    lines = check_finished(mock, recipients, tmp_path / "results.jsonl")
    assert mock.stats().duplicates_dropped >= KILL_POINTS.count("delivered")
    assert any(line["status"] == "accepted" for line in lines)


async def test_sigkill_in_list_mode_repeats_only_with_the_same_notify_id(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """List mode, six SIGKILLs: a whole line per record; a cid delivered twice had the same notify_id."""
    mock, recipients, kills = await kill_and_resume(make_mock, tmp_path, Mode.LIST)
    assert kills == len(KILL_POINTS)
    lines = read_results(tmp_path / "results.jsonl")
    check_one_line_per_record(lines, recipients.records)
    assert {line["cid"] for line in lines if line["status"] in DELIVERED} == recipients.deliverable
    assert set(mock.deliveries) == recipients.deliverable
    notify_id = derive_notify_id(CAMPAIGN)
    repeated = [cid for cid, n in mock.deliveries.items() if n > 1]
    assert repeated, "the replies a kill cut off after delivery should have been delivered again"
    for cid in repeated:
        assert {d.notify_id for d in mock.delivery_log(cid)} == {notify_id}
    # The window is the requests in flight at each kill, not a flush interval.
    pace = PACES[Mode.LIST]
    assert mock.stats().redeliveries <= kills * pace.concurrency * 100


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.LIST])
async def test_what_a_kill_leaves_names_everyone_but_requests_in_flight(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """The file a SIGKILL would leave names every recipient Getui has except those with replies in flight."""
    # So a resume repeats at most the requests in flight at the kill, not a flush interval's worth.
    mock = await make_mock(seed=23)
    recipients = write_recipients(tmp_path / "recipients.jsonl", 600)
    out = tmp_path / "results.jsonl"
    settings = settings_for(mock)
    seen: list[tuple[set[str], set[str], int]] = []

    def snapshot() -> None:  # runs as request n goes out: what is on disk, what Getui has, in flight
        on_disk = {line["cid"] for line in read_results(out) if line["status"] in DELIVERED}
        seen.append((on_disk, set(mock.deliveries), script.in_flight))

    script = FaultScript(settings, {n: [snapshot] for n in (15, 30, 45)})
    summary = await send(
        recipients, settings, out, mode, transport=script, concurrency=2, batch_size=10, list_chunk=10
    )
    assert summary.exit_code == 0
    assert len(seen) == 3
    for on_disk, delivered, in_flight in seen:
        assert on_disk <= delivered
        assert len(delivered - on_disk) <= in_flight * 10, (len(delivered - on_disk), in_flight)


# --- SIGTERM ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [Mode.SINGLE, Mode.BATCH, Mode.LIST])
async def test_sigterm_drains_exits_3_and_resume_completes(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """SIGTERM: requests in flight finish and get their lines (exit 3); --resume sends exactly the rest."""
    pace = PACES[mode]
    mock = await make_mock(seed=22, latency_ms=pace.latency_ms)
    recipients = write_recipients(tmp_path / "recipients.jsonl", pace.records // 2, repeat_every=97)
    out = tmp_path / "results.jsonl"
    sender = Sender(mock, recipients, out, mode, tmp_path)
    proc = await sender.start()
    assert await until(proc, lambda: sender.pushes() >= 3)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), WAIT_LIMIT_S) == 3, sender.stderr()
    assert "SIGTERM" in sender.stderr()
    first = read_results(out)
    assert 0 < len(first) < recipients.records
    claimed = {line["cid"] for line in first if line["status"] in DELIVERED}
    assert set(mock.deliveries) == claimed  # drained: whatever Getui has is in the file, nothing more

    proc = await sender.start()
    assert await asyncio.wait_for(proc.wait(), WAIT_LIMIT_S) == 0, sender.stderr()
    lines = check_finished(mock, recipients, out)  # exactly once, list mode included
    assert lines[: len(first)] == first
