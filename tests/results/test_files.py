"""ResultsFile: one run's results file from lock to run record (and a no-op without a path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from getui_async.results import LIBRARY_WORDS, ResultsLocked, ResultsWriteError, RunMeta
from getui_async.results.files import ResultsFile

META = RunMeta("camp-1", "fp", {"name": "<stdin>", "format": "jsonl", "size": None, "sha256": None})


def results_file(path: Path | None, *, resume: bool = False) -> tuple[ResultsFile, list[ResultsWriteError]]:
    errors: list[ResultsWriteError] = []
    return ResultsFile(path, LIBRARY_WORDS, resume=resume, retry_failed=False, on_error=errors.append), errors


async def test_without_a_path_every_step_is_a_no_op() -> None:
    """A library run with no ``out``: no lock, empty resume state, nothing compacted, the run kept."""
    file, errors = results_file(None, resume=True)
    assert file.lock(in_flight=100) is None
    assert file.load_resume({"size": 10}, "in.csv").lines == 0
    assert file.stream_expectation() == (None, False)
    file.record_stream(META, 10, "ab", complete=True)
    assert await file.compact(superseded_now=True) == 0
    assert file.record_run({"exit": 0}, group_name=None) == [{"exit": 0}]
    assert (file.opened, errors) == (False, [])
    file.release()


def test_a_resumed_stream_expects_the_longest_proof_recorded(tmp_path: Path) -> None:
    """What a run read of a stream is kept for the next run; a shorter later read does not replace it."""
    out = tmp_path / "r.jsonl"
    first, _ = results_file(out)
    first.record_stream(META, 100, "a" * 64, complete=False)
    first.record_stream(META, 40, "b" * 64, complete=True)  # read less: the longer proof stands
    again, errors = results_file(out, resume=True)
    assert again.stream_expectation() == ((100, "a" * 64), False)
    again.record_stream(META, 120, "c" * 64, complete=True)
    assert results_file(out, resume=True)[0].stream_expectation() == ((120, "c" * 64), True)
    assert errors == []
    assert results_file(out)[0].stream_expectation() == (None, False)  # not a resume: nothing expected


def test_the_lock_is_taken_and_released(tmp_path: Path) -> None:
    """A second run of the same file is refused while the first holds it, and may go once released."""
    out = tmp_path / "r.jsonl"
    first, _ = results_file(out)
    first.lock(in_flight=10)
    second, _ = results_file(out)
    with pytest.raises(ResultsLocked, match=r"r\.jsonl"):
        second.lock(in_flight=10)
    first.release()
    second.lock(in_flight=10)
    second.release()


def test_the_refusal_names_the_input_and_the_file(tmp_path: Path) -> None:
    """The stop detail for a changed stream says which input and which results file."""
    file, _ = results_file(tmp_path / "r.jsonl", resume=True)
    text = file.refusal(META)
    assert "<stdin>" in text
    assert "r.jsonl" in text
    assert LIBRARY_WORDS.out in text
