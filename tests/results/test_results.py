"""The results file: whole lines, owner-only files, resume state and the sidecar check."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from getui_async import _json
from getui_async.errors import ResultsFileError
from getui_async.results import (
    FINAL_STATUSES,
    ResultsLocked,
    ResultsWriteError,
    ResultsWriter,
    ResumeState,
    RunLock,
    RunMeta,
    Status,
    load_resume_state,
    meta_path,
)
from tests.results_file import META, read_results


def line(record: int, status: str = "successed_online") -> dict[str, object]:
    return {"line": record + 1, "record": record, "cid": f"c{record}", "status": status}


def test_writer_creates_owner_only_files_and_whole_lines(tmp_path: Path) -> None:
    """RESULTS and its sidecar are 0600; every written line is complete JSON."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False, flush_lines=2)
    for r in range(1, 6):
        writer.write(line(r))
    writer.close()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(meta_path(out).stat().st_mode) == 0o600
    rows = read_results(out)
    assert [row["record"] for row in rows] == [1, 2, 3, 4, 5]
    assert _json.loads(meta_path(out).read_bytes())["campaign_id"] == "camp-1"


def test_existing_results_need_resume(tmp_path: Path) -> None:
    """A non-empty results file is refused without resume (named in library words)."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False)
    writer.write(line(1))
    writer.close()
    with pytest.raises(ResultsFileError, match="resume=True"):
        ResultsWriter.open(out, META, resume=False)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"campaign_id": "other"}, "campaign"),
        ({"template_fingerprint": "0" * 64}, "different message"),
        ({"input": {"format": "csv", "size": 101, "head_sha256": "a" * 64}}, "different input"),
    ],
)
def test_resume_refuses_another_run(tmp_path: Path, changes: dict[str, object], why: str) -> None:
    """Resuming with another campaign, message or input is refused with the reason."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False)
    writer.write(line(1))
    writer.close()
    other = RunMeta(**{**META.__dict__, **changes})  # type: ignore[arg-type]
    with pytest.raises(ResultsFileError, match=why):
        ResultsWriter.open(out, other, resume=True)


def test_resume_without_sidecar_is_refused(tmp_path: Path) -> None:
    """Results without the sidecar cannot be matched to a run."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(_json.dumps_line(line(1)))
    with pytest.raises(ResultsFileError, match="meta"):
        ResultsWriter.open(out, META, resume=True)


def test_torn_tail_is_cut_on_resume(tmp_path: Path) -> None:
    """A half line left by a kill is ignored by the reader and truncated before appending."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False)
    writer.write(line(1))
    writer.write(line(2))
    writer.close()
    with out.open("ab") as f:
        f.write(b'{"line": 4, "record": 3, "cid": "c3", "sta')
    state = load_resume_state(out)
    assert (state.low_water, state.lines) == (3, 2)
    writer = ResultsWriter.open(out, META, resume=True)
    writer.write(line(3))
    writer.close()
    rows = read_results(out)
    assert [row["record"] for row in rows] == [1, 2, 3]


def test_garbage_in_the_middle_is_refused(tmp_path: Path) -> None:
    """A malformed complete line means the file is not ours: refuse, naming the line."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(_json.dumps_line(line(1)) + b"not json\n" + _json.dumps_line(line(2)))
    with pytest.raises(ResultsFileError, match=r"r\.jsonl:2"):
        load_resume_state(out)


def test_resume_state_low_water_and_window() -> None:
    """Out-of-order completion keeps only the records above the low-water mark."""
    state = ResumeState()
    for record in (1, 2, 5, 4, 7, 3):
        state.add(record)
    assert state.low_water == 6
    assert state.above == {7}
    assert [r for r in range(1, 9) if state.done(r)] == [1, 2, 3, 4, 5, 7]
    assert state.max_above == 3


def test_a_large_hole_costs_bits_not_entries() -> None:
    """A run that left record 1 unsent and a million after it done stays small and exact."""
    import sys

    state = ResumeState()
    for record in range(2, 1_000_002):
        state.add(record)
    assert state.low_water == 1
    assert not state.done(1)
    assert state.done(2)
    assert state.done(1_000_001)
    assert not state.done(1_000_002)
    assert sys.getsizeof(state._bits) < 200_000
    state.add(1)
    assert state.low_water == 1_000_002
    assert state.above == set()


def test_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    """Resuming a run that never wrote anything starts from record 1."""
    state = load_resume_state(tmp_path / "none.jsonl")
    assert (state.low_water, state.lines) == (1, 0)


def test_counts_by_status(tmp_path: Path) -> None:
    """The resume state carries the previous run's counts (for exit status and summary)."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(b"".join(_json.dumps_line(line(r, s)) for r, s in [(1, "failed"), (2, "rejected")]))
    state = load_resume_state(out)
    assert dict(state.counts) == {"failed": 1, "rejected": 1}
    assert os.path.getsize(out) > 0


# --- issue #9: the writer never drops bytes the OS did not take; one run per file; the vocabulary -------


class ShortThenFull:
    """An ``os.write`` that takes 7 bytes at a time, then fails ENOSPC while ``full`` is set."""

    def __init__(self, real: object, fd_budget: int) -> None:
        self.real = real
        self.budget = fd_budget
        self.full = False

    def __call__(self, fd: int, data: bytes) -> int:
        if self.full or self.budget <= 0:
            self.full = True
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        take = min(7, len(data), self.budget)
        self.budget -= take
        return self.real(fd, bytes(data[:take]))  # type: ignore[operator,no-any-return]


def test_a_failed_write_keeps_what_the_os_did_not_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short writes then ENOSPC: the error names the file; a retry with space writes every line once."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False)
    fake = ShortThenFull(os.write, 100)
    monkeypatch.setattr("getui_async.results.writer.os.write", fake)
    for r in range(1, 11):
        writer.hold(line(r))
    with pytest.raises(ResultsWriteError, match=r"r\.jsonl: No space left on device"):
        writer.flush()
    assert 0 < len(out.read_bytes()) == 100
    monkeypatch.undo()
    writer.close()
    rows = read_results(out)
    assert [row["record"] for row in rows] == list(range(1, 11))
    assert writer.lines_written == 10


def test_giving_up_cuts_the_half_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A close that still cannot write leaves whole lines only (its half line cut)."""
    out = tmp_path / "r.jsonl"
    writer = ResultsWriter.open(out, META, resume=False)
    writer.write(line(1))
    writer.flush()
    monkeypatch.setattr("getui_async.results.writer.os.write", ShortThenFull(os.write, 10))
    writer.hold(line(2))
    with pytest.raises(ResultsWriteError):
        writer.close()
    assert out.read_bytes() == _json.dumps_line(line(1))


def test_one_run_per_results_file(tmp_path: Path) -> None:
    """A second lock on the same results file is refused naming the holder's PID; released, it is free."""
    out = tmp_path / "r.jsonl"
    first = RunLock(out).acquire()
    with pytest.raises(ResultsLocked, match=rf"in use by process {os.getpid()}"):
        RunLock(out).acquire()
    assert first.reserve(64 << 10) == 64 << 10
    assert first.free_reserve() == 64 << 10
    first.release()
    RunLock(out).acquire().release()


def test_status_vocabulary_is_the_contract() -> None:
    """Every status the contract names is a Status, and a Status is its plain string."""
    names = {
        "successed_online", "successed_offline", "successed_ignore", "accepted", "failed",
        "rejected", "duplicate", "validated", "excluded", "capped", "held_out",
    }  # fmt: skip
    assert {s.value for s in Status} == names == FINAL_STATUSES
    assert Status.FAILED == "failed"
    assert _json.dumps({"s": Status.ACCEPTED}) == b'{"s":"accepted"}'


def test_a_superseding_line_is_not_a_duplicate(tmp_path: Path) -> None:
    """A second line for a record is allowed when it says it supersedes the first (#12 retry-failed)."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(
        _json.dumps_line(line(1, "failed")) + _json.dumps_line({**line(1), "supersedes": "failed"})
    )
    assert load_resume_state(out).lines == 2
    out.write_bytes(_json.dumps_line(line(1)) * 2)
    with pytest.raises(ResultsFileError, match="a second line for record 1"):
        load_resume_state(out)
