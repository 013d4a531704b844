"""A list reply settled in one pass (Settler.list_reply): the same lines, in the same order, and the same
recipients left unclear as the list task's own loop followed by Settler.statuses, which it replaced."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from getui_async.events import Observers
from getui_async.intake import Job
from getui_async.outcome import DELIVERY_STATUSES, StopReason
from getui_async.results import ResultsLog, ResultsWriter
from getui_async.settle import Settler, best_status
from tests.results_file import META

TS = "2026-01-01T00:00:00.000Z"
TASKID = "RASL_1208_abc"

_delivered = st.sampled_from([s.value for s in DELIVERY_STATUSES])
_odd = st.one_of(st.sampled_from(["ok", "successed", ""]), st.integers(-2, 2), st.booleans())
_status = st.one_of(_delivered, _delivered, _odd)
#: What a reply may say of one target: a status, nothing (absent), or an alias's statuses per cid.
_alias = st.dictionaries(st.sampled_from(["c1", "c2", "c3"]), _status, max_size=3)
_named = st.one_of(st.none(), _status, _alias)


def _stop(reason: StopReason, detail: str) -> None:
    raise AssertionError(f"no stop expected: {reason} {detail}")


def _two_passes(settler: Settler, jobs: list[Job], statuses: dict[str, Any], unconfirmed: bool) -> list[Job]:
    """The list task's loop before list_reply: pick the named, then Settler.statuses."""
    unclear: list[Job] = []
    named: list[tuple[Job, Any, str | None]] = []
    for job in jobs:
        status = statuses.get(job.target)
        if isinstance(status, dict):
            status = best_status(status.values())
        if status is None or (unconfirmed and not isinstance(status, str)):
            unclear.append(job)
        else:
            named.append((job, status, TASKID))
    settler.statuses(named, 1)
    return unclear


def _settle(how: str, jobs: list[Job], statuses: dict[str, Any], unconfirmed: bool, out: Path) -> list[Job]:
    log = ResultsLog(ResultsWriter.open(out, META, resume=False), Observers(()), lambda: TS)
    settler = Settler(log, request_stop=_stop)
    if how == "one pass":
        unclear = settler.list_reply(jobs, statuses, TASKID, unconfirmed, 1)
    else:
        unclear = _two_passes(settler, jobs, statuses, unconfirmed)
    assert log.close() is None
    return unclear


@settings(max_examples=150, deadline=None)
@given(said=st.lists(_named, min_size=0, max_size=12), unconfirmed=st.booleans())
def test_list_reply_writes_what_the_two_passes_wrote(said: list[Any], unconfirmed: bool) -> None:
    jobs = [Job(f"t{i}", f"{i:032x}", None, "cid", i + 2, i + 1) for i in range(len(said))]  # type: ignore[arg-type]
    statuses = {job.target: value for job, value in zip(jobs, said, strict=True) if value is not None}
    with tempfile.TemporaryDirectory() as tmp:
        one, two = Path(tmp, "one.jsonl"), Path(tmp, "two.jsonl")
        assert _settle("one pass", jobs, statuses, unconfirmed, one) == _settle(
            "two passes", jobs, statuses, unconfirmed, two
        )
        assert one.read_bytes() == two.read_bytes()


def test_an_alias_whose_statuses_a_lying_reply_made_lists_is_left_unclear(tmp_path: Path) -> None:
    """A reply naming an alias's cids with a list and an object instead of status strings (a server that
    lies; the reply is then ``unconfirmed``): no crash, the alias is one the reply did not confirm."""
    jobs = [Job("a1", "1" * 32, None, "alias", 2, 1), Job("a2", "2" * 32, None, "alias", 3, 2)]  # type: ignore[arg-type]
    statuses: dict[str, Any] = {"a1": {"c1": [1], "c2": {"x": 1}}, "a2": {"c3": "successed_online"}}
    assert best_status(statuses["a1"].values()) is None
    unclear = _settle("one pass", jobs, statuses, True, tmp_path / "r.jsonl")
    assert [job.target for job in unclear] == ["a1"]
