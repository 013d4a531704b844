"""A reply's lines settled together: the lines, the per-status counts and one event per status."""

from __future__ import annotations

from pathlib import Path

import pytest

from getui_async.events import Observers, RecordDone
from getui_async.intake import Job
from getui_async.outcome import Status
from getui_async.results import ResultsLog, ResultsWriter
from tests.results.reference import reference_lines
from tests.results_file import META, read_results

TS = "2026-01-01T00:00:00.000Z"
ON, OFF = Status.SUCCESSED_ONLINE, Status.SUCCESSED_OFFLINE


class Seen:
    def __init__(self) -> None:
        self.events: list[RecordDone] = []

    def __call__(self, event: object) -> None:
        if isinstance(event, RecordDone):
            self.events.append(event)


def job(record: int, variant: str | None = None) -> Job:
    return Job(f"c{record}", f"{record:032x}", None, "cid", record + 1, record, variant)  # type: ignore[arg-type]


def rows() -> list[tuple[Job, Status, str | None]]:
    # a batch reply: statuses in runs (on, on, off, on, off, off), one taskid per message
    statuses = [ON, ON, OFF, ON, OFF, OFF]
    return [(job(r, "A" if r % 2 else None), s, f"RASS_{r}") for r, s in enumerate(statuses, 1)]


@pytest.mark.parametrize("with_file", [True, False])
def test_add_many_counts_each_status_and_tells_observers_once_per_status(
    tmp_path: Path, with_file: bool
) -> None:
    seen = Seen()
    log = ResultsLog(None, Observers((seen,)), lambda: TS)
    out = tmp_path / "r.jsonl"
    if with_file:
        log.attach(ResultsWriter.open(out, META, resume=False))
    log.add_many(rows(), code=0, msg="", attempts=1)
    assert log.counts == {ON.value: 3, OFF.value: 3}
    assert sorted((e.status, e.count) for e in seen.events) == [(OFF.value, 3), (ON.value, 3)]
    assert all(e.line == rows()[-1][0].line for e in seen.events)
    assert log.close() is None
    if with_file:
        expected = reference_lines(rows(), code=0, msg="", attempts=1, ts=TS)
        assert out.read_bytes() == expected
        assert [line["status"] for line in read_results(out)] == [s.value for _, s, _ in rows()]


def test_add_many_of_one_status_is_one_event_with_the_reply_s_count() -> None:
    seen = Seen()
    log = ResultsLog(None, Observers((seen,)), lambda: TS)
    one = [(job(r), ON, "RASL_1") for r in range(1, 201)]
    log.add_many(one, code=0, msg="", attempts=1)
    assert log.counts == {ON.value: 200}
    assert [(e.status, e.count, e.line) for e in seen.events] == [(ON.value, 200, 201)]
