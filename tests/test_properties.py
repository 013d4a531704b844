"""Properties (hypothesis) of the pieces that decide who gets what, and how often:

- the planner puts every recipient in exactly one request, within every size limit, never mixing
  audience kinds or endpoints;
- resume state read from any prefix of a results file (completed out of order within the in-flight
  window, possibly with a torn last line) marks exactly the records that have a line;
- a real run resumed from any prefix of its results file sends exactly the missing records, once;
- rendering never sends a field over Getui's limit: such a record gets a ``rejected`` line naming it.

Engine-level properties run whole campaigns against the bundled mock, so they take few examples.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from getui_async import _json
from getui_async.config import (
    MAX_BATCH_SIZE,
    MAX_LIST_CHUNK,
    CampaignSettings,
    Credentials,
    Mode,
    RetrySettings,
)
from getui_async.config import Settings as ClientSettings
from getui_async.engine import run_campaign
from getui_async.messages import LIMITS, MessageTemplate
from getui_async.mock import MockConfig, MockGetui
from getui_async.planner import Endpoint, Plan, Planner
from getui_async.results import FINAL_STATUSES, ResultsWriter, ResumeState, RunMeta, load_resume_state
from tests.results_file import read_results

FAST = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
#: Whole campaigns against the mock: each example costs tens of milliseconds.
CAMPAIGNS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
#: Each example writes and fsyncs a results file.
FILES = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
TITLE_PATH = "push_message.notification.title"
BODY_PATH = "push_message.notification.body"

# -- planner -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A recipient as the planner sees it: its input position, audience kind and whether it is shared."""

    index: int
    kind: str
    shared: bool


items_strategy = st.lists(st.tuples(st.sampled_from(["cid", "alias"]), st.booleans()), max_size=600).map(
    lambda pairs: [Item(i, kind, shared) for i, (kind, shared) in enumerate(pairs)]
)


@FAST
@given(
    items=items_strategy,
    mode=st.sampled_from(list(Mode)),
    batch_size=st.integers(1, MAX_BATCH_SIZE),
    list_chunk=st.integers(1, MAX_LIST_CHUNK),
)
def test_planner_sends_everyone_once_within_limits_and_never_mixes(items, mode, batch_size, list_chunk):
    """Every plannable item is in exactly one plan, of one kind and endpoint, within that endpoint's cap."""
    planner: Planner[Item] = Planner(mode, batch_size=batch_size, list_chunk=list_chunk)
    limit = {Endpoint.SINGLE: 1, Endpoint.BATCH: batch_size, Endpoint.LIST: list_chunk}
    endpoints: dict[int, Endpoint] = {}
    plans: list[Plan[Item]] = []
    for item in items:
        endpoint = planner.endpoint_for(item.shared)
        if endpoint is None:
            assert mode is Mode.LIST
            assert not item.shared
            continue
        endpoints[item.index] = endpoint
        full = planner.add(item, item.kind, endpoint)  # type: ignore[arg-type]
        if full is not None:
            assert len(full.items) == limit[full.endpoint]  # handed back exactly when full
            plans.append(full)
    plans.extend(planner.flush())
    assert planner.pending == 0
    placed = [item.index for plan in plans for item in plan.items]
    assert sorted(placed) == sorted(endpoints)
    for plan in plans:
        assert 1 <= len(plan.items) <= limit[plan.endpoint]
        assert {item.kind for item in plan.items} == {plan.kind}
        assert {endpoints[item.index] for item in plan.items} == {plan.endpoint}
        assert [item.index for item in plan.items] == sorted(item.index for item in plan.items)


@FAST
@given(mode=st.sampled_from(list(Mode)), shared=st.booleans())
def test_endpoint_choice_follows_the_mode(mode, shared):
    """auto: list for shared content, batch otherwise; list: shared only; single and batch: always."""
    expected = {
        Mode.AUTO: Endpoint.LIST if shared else Endpoint.BATCH,
        Mode.LIST: Endpoint.LIST if shared else None,
        Mode.SINGLE: Endpoint.SINGLE,
        Mode.BATCH: Endpoint.BATCH,
    }[mode]
    assert Planner(mode).endpoint_for(shared) is expected


# -- resume state --------------------------------------------------------------------------------------------


@st.composite
def windowed_completions(draw: st.DrawFn, max_records: int = 300) -> tuple[list[int], int]:
    """(completion order of records 1..n, window): a record completes only while fewer than ``window``
    records before it in input order are still pending, as when at most ``window`` are in flight."""
    n = draw(st.integers(0, max_records))
    window = draw(st.integers(1, 16))
    pending = list(range(1, n + 1))
    order: list[int] = []
    while pending:  # bounded: each pass completes one record
        eligible = [r for r in pending[:window] if r < pending[0] + window]
        record = draw(st.sampled_from(eligible))
        pending.remove(record)
        order.append(record)
    return order, window


@FAST
@given(completions=windowed_completions(), data=st.data())
def test_resume_state_marks_exactly_the_done_records(completions, data):
    """After any windowed prefix, done() holds for exactly its records and the set above stays < window."""
    order, window = completions
    prefix = order[: data.draw(st.integers(0, len(order)))]
    state = ResumeState()
    for record in prefix:
        state.add(record)
    n = len(order)
    assert {r for r in range(1, n + 2) if state.done(r)} == set(prefix)
    assert state.max_above < window
    assert len(state.above) < window


def result_line(record: int) -> dict[str, Any]:
    statuses = sorted(FINAL_STATUSES)
    return {
        "line": record + 1,
        "record": record,
        "cid": f"c{record}",
        "status": statuses[record % len(statuses)],
    }


@FILES
@given(completions=windowed_completions(), data=st.data())
def test_resume_state_from_a_results_file_prefix_with_a_torn_tail(completions, data):
    """A results file cut anywhere (even mid-line) resumes exactly the records with a whole line."""
    order, _ = completions
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.jsonl"
        writer = ResultsWriter.open(path, RunMeta("camp", "tmpl", {"size": 1}), resume=False)
        for record in order:
            writer.write(result_line(record))
        writer.close()
        raw = path.read_bytes()
        cut = data.draw(st.integers(0, len(raw)))
        path.write_bytes(raw[:cut])
        state = load_resume_state(path)
    whole = raw[:cut].count(b"\n")
    kept = order[:whole]
    assert state.lines == whole
    assert {r for r in range(1, len(order) + 2) if state.done(r)} == set(kept)
    assert state.counts == Counter(result_line(r)["status"] for r in kept)


# -- campaigns against the mock ------------------------------------------------------------------------------


def client_settings(mock: MockGetui) -> ClientSettings:
    credentials = Credentials(app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret)
    return ClientSettings(
        credentials=credentials, base_url=mock.base_url, retry=RetrySettings(zero_waits=True)
    )


async def run_against_fresh_mock(
    path: Path, template: MessageTemplate, options: CampaignSettings, out: Path, *, resume: bool
) -> tuple[int, dict[str, int]]:
    """One campaign against a new mock (seed 0): (exit code, deliveries per cid of this run alone)."""
    async with MockGetui(MockConfig(seed=0)) as mock:
        summary = await run_campaign(path, template, client_settings(mock), options, out=out, resume=resume)
        return summary.exit_code, dict(mock.deliveries)


def by_record(path: Path) -> dict[int, dict[str, Any]]:
    lines = read_results(path)
    records = [line["record"] for line in lines]
    assert len(records) == len(set(records)), "a record has two lines"
    return {line["record"]: line for line in lines}


#: A row of the input: a fresh recipient, a repeat of an earlier one, or a row without identifier.
rows_strategy = st.lists(st.sampled_from(["new", "new", "new", "repeat", "bad"]), min_size=1, max_size=45)


def write_rows(path: Path, rows: Sequence[str]) -> None:
    lines = ["cid,name"]
    for i, row in enumerate(rows):
        if row == "bad":
            lines.append(f",nobody {i}")
        elif row == "repeat" and i:
            lines.append(f"cid{i // 2:04d},again {i}")
        else:
            lines.append(f"cid{i:04d},user {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
@CAMPAIGNS
@given(
    rows=rows_strategy,
    mode=st.sampled_from([Mode.SINGLE, Mode.BATCH, Mode.LIST]),
    data=st.data(),
)
def test_resume_from_any_prefix_sends_exactly_the_missing_records(rows, mode, data):
    """Cut a run's results anywhere: resume writes just the missing lines and resends just those, once."""
    title = "Hello" if mode is Mode.LIST else "Hello {name}"
    template = MessageTemplate.simple(title=title, body="b")
    options = CampaignSettings(mode=mode, concurrency=4, batch_size=7, list_chunk=5)
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "r.csv", Path(tmp) / "results.jsonl"
        write_rows(path, rows)
        asyncio.run(run_against_fresh_mock(path, template, options, out, resume=False))
        first = by_record(out)
        raw = out.read_bytes()
        line_ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
        keep = data.draw(st.integers(0, len(line_ends)), label="whole lines kept")
        cut = line_ends[keep - 1] if keep else 0
        torn = data.draw(st.integers(0, 20), label="bytes of a torn line") if keep < len(line_ends) else 0
        out.write_bytes(raw[: cut + torn])
        kept = set(by_record_prefix(raw[:cut]))
        _, delivered = asyncio.run(run_against_fresh_mock(path, template, options, out, resume=True))
        final = by_record(out)
    assert set(final) == set(first) == set(range(1, len(rows) + 1))
    assert {r: line["status"] for r, line in final.items()} == {
        r: line["status"] for r, line in first.items()
    }
    resent = {first[r]["cid"] for r in first if r not in kept and first[r]["status"].startswith("successed_")}
    assert delivered == dict.fromkeys(resent, 1)


def by_record_prefix(raw: bytes) -> list[int]:
    return [_json.loads(line)["record"] for line in raw.splitlines()]


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=300
)


@pytest.mark.slow
@CAMPAIGNS
@given(values=st.lists(names, min_size=1, max_size=25), mode=st.sampled_from([Mode.SINGLE, Mode.BATCH]))
def test_no_field_over_its_limit_is_ever_sent(values, mode):
    """Over-limit renders are rejected naming the field; all else is delivered (the mock refuses none)."""
    template = MessageTemplate.simple(title="Hi {name}", body="{name}, {name}")
    limits = {TITLE_PATH: LIMITS[TITLE_PATH], BODY_PATH: LIMITS[BODY_PATH]}
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "r.jsonl", Path(tmp) / "results.jsonl"
        path.write_bytes(
            b"".join(_json.dumps({"cid": f"c{i}", "name": v}) + b"\n" for i, v in enumerate(values))
        )
        options = CampaignSettings(mode=mode, concurrency=4)
        asyncio.run(run_against_fresh_mock(path, template, options, out, resume=False))
        lines = by_record(out)
    for record, value in enumerate(values, start=1):
        rendered = {TITLE_PATH: f"Hi {value}", BODY_PATH: f"{value}, {value}"}
        over = [field for field, text in rendered.items() if len(text) > limits[field]]
        line = lines[record]
        if over:
            assert line["status"] == "rejected"
            assert line["field"] in over
        else:
            assert line["status"].startswith("successed_"), line
