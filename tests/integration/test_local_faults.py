"""The promise under local faults (issue #9): a full disk, a hung drain, two runs on one file, a changed
input, a stalled stream, an edited results file, and lines reaching the OS as soon as they are known.

Every run is bounded by ``asyncio.wait_for`` (a hang fails the test instead of blocking it); the mock's
delivery log is the witness for "never twice".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import io
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from getui_async import _json
from getui_async.config import Mode
from getui_async.engine import Campaign, Summary, run_campaign
from getui_async.errors import ResultsFileError
from getui_async.results import ResultsLocked, RunLock, lock_path
from getui_async.sources import open_source
from tests.conftest import MakeMock

from .conftest import (
    FaultScript,
    Recipients,
    check_finished,
    check_one_line_per_record,
    options_for,
    read_results,
    send,
    settings_for,
    template_for,
    write_recipients,
)

pytestmark = [pytest.mark.integration]

ALL_MODES: Final = (Mode.SINGLE, Mode.BATCH, Mode.LIST)
RECORDS: Final = {Mode.SINGLE: 200, Mode.BATCH: 600, Mode.LIST: 600}
#: Any single run here ends well within this (a hang fails instead of blocking the suite).
BOUND_S: Final = 60.0
POLL_S: Final = 0.005


async def bounded(run: Any) -> Any:
    return await asyncio.wait_for(run, BOUND_S)


def recipients(tmp_path: Path, mode: Mode, **bad: int) -> Recipients:
    return write_recipients(tmp_path / "recipients.jsonl", RECORDS[mode], repeat_every=37, **bad)


# --- 1. a write failure is a stop, and the resume finishes exactly once ---


class FlakyDisk:
    """``os.write`` for the results file: takes half of one write, then fails ENOSPC ``failures`` times."""

    def __init__(self, results: Path, *, after_bytes: int, failures: int) -> None:
        self._results = str(results)
        self._after = after_bytes
        self._failures = failures
        self._real = os.write
        self.failed = 0
        self.taken = 0

    def write(self, fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") != self._results or self.failed >= self._failures:
            return self._real(fd, data)
        if self.taken < self._after:
            room = self._after - self.taken
            written = self._real(fd, bytes(data[: max(1, min(room, len(data) // 2 or 1))]))
            self.taken += written
            return written
        self.failed += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_write_failure_stops_keeps_every_line_and_resume_finishes(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC mid-run: exit 3 write_error naming file and error; no line lost; resume sends the rest once."""
    mock = await make_mock(seed=41)
    people = recipients(tmp_path, mode, invalid_every=31)
    out = tmp_path / "results.jsonl"
    disk = FlakyDisk(out, after_bytes=6000, failures=4)
    monkeypatch.setattr("getui_async.results.writer.os.write", disk.write)
    summary = await bounded(send(people, settings_for(mock), out, mode, batch_size=10, list_chunk=10))
    assert disk.failed >= 1
    assert summary.stopped == "write_error"
    assert summary.exit_code == 3
    assert "No space left on device" in summary.stop_detail
    assert str(out) in summary.stop_detail
    assert "resume=True" in summary.stop_detail  # the library's words (the CLI says --resume)
    assert summary.to_dict()["stopped"] == "write_error"
    lines = read_results(out)  # whole lines only
    assert len(lines) == summary.done  # every line of this run reached the file on a retry
    monkeypatch.undo()
    again = await bounded(
        send(people, settings_for(mock), out, mode, batch_size=10, list_chunk=10, resume=True)
    )
    assert again.stopped is None
    assert again.resume_prior == len(lines)
    check_finished(mock, people, out)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False, timeout=10)


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_full_tmpfs_stops_and_resume_delivers_nobody_twice(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """A real full disk (small tmpfs): exit 3 write_error; after freeing space, --resume; everyone once."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mock = await make_mock(seed=42)
    people = recipients(tmp_path, mode, invalid_every=31)
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        filler = disk / "filler"
        stats = os.statvfs(disk)
        # Room for a part of the lines, plus the reserve the run sets aside for lines in flight.
        room = 30_000 + (64 << 10)
        filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - room))
        out = disk / "results.jsonl"
        summary = await bounded(send(people, settings_for(mock), out, mode, batch_size=10, list_chunk=10))
        assert summary.stopped == "write_error", summary
        assert summary.exit_code == 3
        assert "No space left on device" in summary.stop_detail
        read_results(out)  # whole lines only
        filler.unlink()
        again = await bounded(
            send(people, settings_for(mock), out, mode, batch_size=10, list_chunk=10, resume=True)
        )
        assert again.stopped is None
        check_finished(mock, people, out)


# --- 2. every stop ends ---


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_stop_past_the_drain_timeout_ends_without_a_stray_error(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests hang for longer than the drain timeout: the stop still ends, exit 3, nothing unretrieved."""
    mock = await make_mock(seed=43)
    # More records than the queue holds, so intake is blocked on a full queue when the stop comes.
    people = write_recipients(tmp_path / "recipients.jsonl", 5000 if mode is Mode.SINGLE else 6000)
    out = tmp_path / "results.jsonl"
    settings = settings_for(mock, timeout_s=60.0)
    script = FaultScript(settings, {4: [lambda: mock.configure(hang_rate=1.0, hang_s=120.0)]})
    caplog.set_level(logging.WARNING)
    with open_source(people.path) as source:
        campaign = Campaign(
            source,
            template_for(mode),
            settings,
            options_for(mode, batch_size=10, list_chunk=10, drain_timeout_s=0.5),
            out=out,
            transport=script,
        )
        running = asyncio.ensure_future(campaign.run())
        for _ in range(int(BOUND_S / POLL_S)):  # every worker stuck in a hung request
            if script.in_flight >= 8 or running.done():
                break
            await asyncio.sleep(POLL_S)
        campaign.request_stop("signal", "test")
        summary: Summary = await bounded(running)
    mock.configure(hang_rate=0.0)
    assert summary.exit_code == 3
    assert summary.stopped == "signal"
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert any("abandoned" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if "did not end when cancelled" in r.getMessage()]
    read_results(out)


# --- 3. one run per results file ---


async def test_second_run_on_one_results_file_is_refused(make_mock: MakeMock, tmp_path: Path) -> None:
    """While a run holds RESULTS, another send or --resume on it is refused, naming the holder's PID."""
    mock = await make_mock(seed=44, latency_ms=20.0)
    people = recipients(tmp_path, Mode.BATCH)
    out = tmp_path / "results.jsonl"
    first = asyncio.ensure_future(send(people, settings_for(mock), out, Mode.BATCH, batch_size=10))
    for _ in range(int(BOUND_S / POLL_S)):
        if lock_path(out).exists() and mock.stats().deliveries:
            break
        await asyncio.sleep(POLL_S)
    for resume in (False, True):
        with pytest.raises(ResultsLocked, match=rf"{out}.*process {os.getpid()}"):
            await bounded(send(people, settings_for(mock), out, Mode.BATCH, batch_size=10, resume=resume))
    summary = await bounded(first)
    assert summary.exit_code == people.exit_code()
    check_finished(mock, people, out)


async def test_stale_lock_of_a_dead_process_never_blocks(make_mock: MakeMock, tmp_path: Path) -> None:
    """A lock file left by a killed run (no flock held) does not stop the next run."""
    mock = await make_mock(seed=45)
    people = recipients(tmp_path, Mode.LIST)
    out = tmp_path / "results.jsonl"
    lock_path(out).write_text("999999\n")
    summary = await bounded(send(people, settings_for(mock), out, Mode.LIST, list_chunk=10))
    assert summary.stopped is None
    check_finished(mock, people, out)
    held = RunLock(out).acquire()  # released at the end of the run
    held.release()


# --- 4. a resume proves the input is the same ---


async def test_resume_refuses_a_file_changed_after_its_first_mebibyte(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """Two rows swapped far into the input: the resume is refused before anything is sent."""
    mock = await make_mock(seed=46)
    path = tmp_path / "recipients.jsonl"
    rows = [_json.dumps({"cid": f"{i:032x}", "name": "x" * 200}).decode() for i in range(1, 6001)]
    path.write_text("\n".join(rows) + "\n")
    assert path.stat().st_size > 1 << 20
    people = Recipients(path, dict.fromkeys(range(1, 6001), "delivered"), {})
    out = tmp_path / "results.jsonl"
    holder: list[Campaign] = []
    settings = settings_for(mock)
    script = FaultScript(settings, {6: [lambda: holder[0].request_stop("signal")]})
    with open_source(path) as source:
        holder.append(
            Campaign(
                source, template_for(Mode.LIST), settings, options_for(Mode.LIST), out=out, transport=script
            )
        )
        first = await bounded(holder[0].run())
    assert first.exit_code == 3
    rows[5000], rows[5001] = rows[5001], rows[5000]
    path.write_text("\n".join(rows) + "\n")
    sent = mock.stats().deliveries
    with pytest.raises(ResultsFileError, match="different input"):
        await bounded(send(people, settings, out, Mode.LIST, resume=True))
    assert mock.stats().deliveries == sent


async def test_resume_from_stdin_refuses_an_inserted_row(make_mock: MakeMock, tmp_path: Path) -> None:
    """A resumed stdin that differs from what the first run read: exit 2, and nothing more is sent."""
    mock = await make_mock(seed=47)
    rows = [_json.dumps({"cid": f"{i:032x}", "name": f"u{i}"}).decode() for i in range(1, 401)]
    out = tmp_path / "results.jsonl"
    settings = settings_for(mock)

    async def run(data: str, *, resume: bool, stop_at: int | None) -> Summary:
        holder: list[Campaign] = []
        actions = {stop_at: [lambda: holder[0].request_stop("signal")]} if stop_at else {}
        script = FaultScript(settings, actions)
        with open_source("-", format="jsonl", stdin=io.BytesIO(data.encode())) as source:
            campaign = Campaign(
                source,
                template_for(Mode.LIST),
                settings,
                options_for(Mode.LIST, list_chunk=10),
                out=out,
                resume=resume,
                transport=script,
            )
            holder.append(campaign)
            return await bounded(campaign.run())  # type: ignore[no-any-return]

    first = await run("\n".join(rows) + "\n", resume=False, stop_at=6)
    assert first.exit_code == 3
    sent = mock.stats().deliveries
    changed = [*rows[:2], _json.dumps({"cid": "f" * 32, "name": "new"}).decode(), *rows[2:]]
    second = await run("\n".join(changed) + "\n", resume=True, stop_at=None)
    assert second.stopped == "input_changed"
    assert second.exit_code == 2
    assert mock.stats().deliveries == sent
    same = await run("\n".join(rows) + "\n", resume=True, stop_at=None)
    assert same.exit_code == 0
    assert max(mock.deliveries.values()) == 1


# --- 5. a stalled stream ---


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_stdin_records_go_as_they_arrive_and_a_stop_ends_a_stalled_read(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """Five records on a pipe that stays open (a request part full): delivered; a stop ends the run."""
    mock = await make_mock(seed=48)
    read_end, write_end = os.pipe()
    rows = "".join(_json.dumps({"cid": f"{i:032x}", "name": f"u{i}"}).decode() + "\n" for i in range(1, 6))
    os.write(write_end, rows.encode())
    out = tmp_path / "results.jsonl"
    stdin = os.fdopen(read_end, "rb", buffering=0)
    try:
        with open_source("-", format="jsonl", stdin=stdin) as source:  # type: ignore[arg-type]
            campaign = Campaign(
                source,
                template_for(mode),
                settings_for(mock),
                options_for(mode),
                out=out,
            )
            running = asyncio.ensure_future(campaign.run())
            for _ in range(int(BOUND_S / POLL_S)):
                if len(mock.deliveries) == 5 or running.done():
                    break
                await asyncio.sleep(POLL_S)
            assert len(mock.deliveries) == 5
            campaign.request_stop("signal", "test")
            summary = await bounded(running)
        assert summary.exit_code == 3
        assert len(read_results(out)) == 5
    finally:
        os.close(write_end)  # the reader thread sees the end and leaves
        stdin.close()


# --- 6. an edited results file ---


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda line: {**line, "record": 10**13}, "not a record number"),
        (lambda line: {**line, "record": True}, "not a record number"),
        (lambda line: {**line, "line": "7"}, "not a line number"),
        (lambda line: {**line, "record": line["record"] + 150}, "cannot be on input line"),
        (lambda line: {**line, "status": "delivered"}, "unknown status"),
    ],
)
async def test_an_edited_results_file_is_refused(
    make_mock: MakeMock, tmp_path: Path, edit: Any, why: str
) -> None:
    """Implausible record/line numbers or statuses: refused naming the file and line, nothing sent."""
    mock = await make_mock(seed=49)
    people = recipients(tmp_path, Mode.BATCH)
    out = tmp_path / "results.jsonl"
    await bounded(send(people, settings_for(mock), out, Mode.BATCH))
    lines = read_results(out)
    lines[3] = edit(lines[3])
    out.write_bytes(b"".join(_json.dumps_line(line) for line in lines[:300]))
    sent = mock.stats().deliveries
    with pytest.raises(ResultsFileError, match=rf"results\.jsonl:4: .*{why}"):
        await bounded(send(people, settings_for(mock), out, Mode.BATCH, resume=True))
    assert mock.stats().deliveries == sent


async def test_a_duplicated_results_line_is_refused(make_mock: MakeMock, tmp_path: Path) -> None:
    """The same record twice (without 'supersedes') is refused; a torn last line is repaired and reported."""
    mock = await make_mock(seed=50)
    people = recipients(tmp_path, Mode.BATCH)
    out = tmp_path / "results.jsonl"
    await bounded(send(people, settings_for(mock), out, Mode.BATCH))
    data = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(data[:100]) + data[5])
    with pytest.raises(ResultsFileError, match=r"results\.jsonl:101: a second line for record"):
        await bounded(send(people, settings_for(mock), out, Mode.BATCH, resume=True))
    out.write_bytes(b"".join(data[:100]) + data[100][:20])
    summary = await bounded(send(people, settings_for(mock), out, Mode.BATCH, resume=True))
    assert summary.repaired_bytes == 20
    check_one_line_per_record(read_results(out), people.records)


# --- 7. lines reach the OS as soon as their outcome is known ---


async def test_single_mode_lines_reach_the_file_after_each_request(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """One worker in single mode: every settled push has its line in the file before the next goes out."""
    mock = await make_mock(seed=51)
    people = recipients(tmp_path, Mode.SINGLE)
    out = tmp_path / "results.jsonl"
    seen: list[tuple[int, int]] = []
    settings = settings_for(mock)

    def look(n: int) -> None:
        seen.append((n, len(out.read_bytes().splitlines()) if out.exists() else 0))

    script = FaultScript(settings, {n: [lambda n=n: look(n)] for n in range(3, 60)})
    summary = await bounded(
        run_campaign(
            people.path,
            template_for(Mode.SINGLE),
            settings,
            options_for(Mode.SINGLE, concurrency=1),
            out=out,
            transport=script,
        )
    )
    assert summary.exit_code == 0
    # Request 1 is /auth; before push n-1 goes out as request n, pushes 1..n-2 have their lines.
    settled_before = [lines for _, lines in seen]
    pushes_before = [n - 2 for n, _ in seen]
    assert all(lines >= pushes for lines, pushes in zip(settled_before, pushes_before, strict=True)), seen
