"""A reply's lines encoded together are byte for byte the lines :class:`ResultLine` writes one by one."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from getui_async.intake import Job
from getui_async.outcome import Status
from getui_async.results.record import encode_lines
from tests.results.reference import reference_lines

texts = st.text(max_size=12)
TASKIDS = ["RASL_0123456789abcdef", 'RASS_"quoted"']
jobs = st.builds(
    Job,
    target=texts,
    request_id=st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    message=st.none(),
    kind=st.sampled_from(["cid", "alias"]),
    line=st.integers(1, 10**9),
    record=st.integers(1, 10**9),
    variant=st.one_of(st.none(), st.sampled_from(["A", "B", "holdout", 'q"uote'])),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        # a reply's taskids repeat (one object per list reply): sampled, so the same object comes again
        st.tuples(jobs, st.sampled_from(list(Status)), st.one_of(st.none(), st.sampled_from(TASKIDS), texts)),
        max_size=8,
    ),
    code=st.one_of(st.none(), st.integers(-5, 99999)),
    msg=texts,
    attempts=st.integers(0, 9),
    ts=texts,
)
def test_encode_lines_writes_what_result_line_writes(
    rows: list[tuple[Job, Status, str | None]], code: int | None, msg: str, attempts: int, ts: str
) -> None:
    expected = reference_lines(rows, code=code, msg=msg, attempts=attempts, ts=ts)
    lines, runs = encode_lines(rows, code=code, msg=msg, attempts=attempts, ts=ts)
    assert lines == expected
    # the runs are the rows' statuses in order, each run as long as its stretch of equal statuses
    assert [status for status, count in runs for _ in range(count)] == [status for _, status, _ in rows]
    assert all(count > 0 for _, count in runs)
    assert all(a[0] is not b[0] for a, b in itertools.pairwise(runs))
