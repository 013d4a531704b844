"""The fault matrix: whole campaigns through the engine against the mock on 127.0.0.1, one fault at a time
and all of them together, in single, batch and list mode.

Every run is judged by the results file and the mock's delivery log: one line per input record, each
deliverable cid delivered exactly once, no record over the retry policy's attempts, and the contract's
exit status (0 ok, 1 some failed or rejected, 3 stopped). Faults are switched on for exact windows of
requests by a :class:`~tests.integration.conftest.FaultScript`, so runs are repeatable.

List pushes carry no request_id, so a list push whose reply is lost (a reset, a hang, a 5xx that is not
Getui's envelope: the client cannot tell before from after delivery) is never sent again: its recipients
are ``failed`` and ``unconfirmed``. That is tested on its own (here and in test_list_resend.py) and left out
of the exactly-once cases, which give list mode only the faults Getui answers itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

import pytest

from getui_async.config import Mode
from getui_async.engine import Campaign, Summary, run_campaign
from getui_async.mock import MockGetui
from getui_async.sources import open_source
from getui_async.split import Splitter
from tests.conftest import FakeClock, MakeMock

from .conftest import (
    DELIVERED,
    PERSONAL,
    SHARED,
    FaultScript,
    Recipients,
    bursts,
    check_attempts,
    check_delivered_once,
    check_finished,
    check_one_line_per_record,
    options_for,
    read_results,
    send,
    settings_for,
    template_for,
    write_recipients,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ATTEMPTS: Final = 8
#: Faulted requests per burst: fewer than ATTEMPTS, so no record can exhaust its attempts in one burst.
BURST: Final = 4
BURST_STARTS: Final = (6, 26, 46)
ALL_MODES: Final = (Mode.SINGLE, Mode.BATCH, Mode.LIST)
#: Modes with a request_id on every push: a lost reply is resent and dropped by Getui as a repeat.
IDEMPOTENT_MODES: Final = (Mode.SINGLE, Mode.BATCH)
#: Enough records for ~60 requests or more in every mode (batch_size and list_chunk are 10 here).
RECORDS: Final = {Mode.SINGLE: 240, Mode.BATCH: 600, Mode.LIST: 600}
CHUNK: Final = 10


def recipients_for(tmp_path: Path, mode: Mode, **bad: int) -> Recipients:
    return write_recipients(tmp_path / "recipients.jsonl", RECORDS[mode], repeat_every=37, **bad)


async def run(
    mock: MockGetui,
    recipients: Recipients,
    out: Path,
    mode: Mode,
    actions: dict[int, Any] | None = None,
    *,
    attempts: int = ATTEMPTS,
    window_s: float = 60.0,
    resume: bool = False,
) -> tuple[Summary, FaultScript]:
    settings = settings_for(mock, attempts=attempts, window_s=window_s)
    script = FaultScript(settings, actions)
    summary = await send(
        recipients,
        settings,
        out,
        mode,
        resume=resume,
        transport=script,
        batch_size=CHUNK,
        list_chunk=CHUNK,
    )
    return summary, script


def check_clean_finish(mock: MockGetui, recipients: Recipients, out: Path, summary: Summary) -> list[Any]:
    lines = check_finished(mock, recipients, out)
    check_attempts(lines, ATTEMPTS)
    assert summary.stopped is None
    assert summary.exit_code == recipients.exit_code() == 0
    return lines


# --- one fault at a time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "faults", "kind", "seed"),
    [
        *((mode, {"http_5xx_rate": 1.0}, "http_5xx", 1) for mode in IDEMPOTENT_MODES),
        *((mode, {"busy_rate": 1.0}, "busy", 5) for mode in ALL_MODES),
    ],
)
async def test_transient_bursts_are_retried(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, faults: dict[str, float], kind: str, seed: int
) -> None:
    """Bursts of 5xx or 30019 "system busy": each one costs exactly one retry; the campaign ends clean."""
    mock = await make_mock(seed=seed)
    recipients = recipients_for(tmp_path, mode)
    out = tmp_path / "results.jsonl"
    summary, _ = await run(mock, recipients, out, mode, bursts(mock, BURST_STARTS, BURST, **faults))
    check_clean_finish(mock, recipients, out, summary)
    injected = mock.stats().faults[kind]
    assert injected >= len(BURST_STARTS)
    assert summary.retries == injected


@pytest.mark.parametrize("mode", IDEMPOTENT_MODES)
@pytest.mark.parametrize("fault", ["reset", "hang"])
async def test_lost_requests_before_processing(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, fault: str
) -> None:
    """Connections reset or hung before Getui processed them are resent; nothing is lost or doubled."""
    mock = await make_mock(seed=2, hang_s=1.5)
    recipients = recipients_for(tmp_path, mode)
    out = tmp_path / "results.jsonl"
    faults = {f"{fault}_rate": 1.0, f"{fault}_phase": "before"}
    summary, _ = await run(mock, recipients, out, mode, bursts(mock, BURST_STARTS, BURST, **faults))
    check_clean_finish(mock, recipients, out, summary)
    assert mock.stats().faults[f"{fault}_before"] >= len(BURST_STARTS)


@pytest.mark.parametrize("mode", IDEMPOTENT_MODES)
@pytest.mark.parametrize("fault", ["reset", "hang"])
async def test_lost_replies_after_delivery(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, fault: str
) -> None:
    """A reply lost after delivery: the resend repeats the request_id, Getui drops it, the line: accepted."""
    mock = await make_mock(seed=3, hang_s=1.5)
    recipients = recipients_for(tmp_path, mode)
    out = tmp_path / "results.jsonl"
    faults = {f"{fault}_rate": 1.0, f"{fault}_phase": "after"}
    summary, _ = await run(mock, recipients, out, mode, bursts(mock, BURST_STARTS, BURST, **faults))
    lines = check_clean_finish(mock, recipients, out, summary)
    stats = mock.stats()
    assert stats.faults[f"{fault}_after"] >= len(BURST_STARTS)
    assert stats.duplicates_dropped >= len(BURST_STARTS)
    assert sum(line["status"] == "accepted" for line in lines) >= len(BURST_STARTS)


@pytest.mark.parametrize(
    ("fault", "phase"),
    # The mock answers its 5xx before processing, so a 5xx has one phase only.
    [("reset", "before"), ("reset", "after"), ("hang", "before"), ("hang", "after"), ("http_5xx", "before")],
)
async def test_list_mode_lost_replies_are_unconfirmed_and_not_resent(
    make_mock: MakeMock, tmp_path: Path, fault: str, phase: str
) -> None:
    """List mode, reply lost (before or after delivery: the client cannot tell): the chunk is not sent
    again; its lines are failed, not retryable, unconfirmed; no cid is delivered twice."""
    mock = await make_mock(seed=4, hang_s=1.5)
    recipients = recipients_for(tmp_path, Mode.LIST)
    out = tmp_path / "results.jsonl"
    faults: dict[str, Any] = {f"{fault}_rate": 1.0}
    if fault != "http_5xx":
        faults[f"{fault}_phase"] = phase
    summary, _ = await run(mock, recipients, out, Mode.LIST, bursts(mock, BURST_STARTS, BURST, **faults))
    lines = read_results(out)
    check_one_line_per_record(lines, recipients.records)
    assert summary.exit_code == 1
    unconfirmed = [line for line in lines if line.get("unconfirmed")]
    assert unconfirmed, "a lost list reply should leave unconfirmed lines"
    for line in unconfirmed:
        assert (line["status"], line["retryable"], line["attempts"]) == ("failed", False, 1), line
        assert "may have reached Getui" in line["msg"]
    assert {cid: n for cid, n in mock.deliveries.items() if n > 1} == {}
    delivered = {line["cid"] for line in unconfirmed} & set(mock.deliveries)
    assert bool(delivered) == (phase == "after" and fault != "http_5xx")


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_rate_limit_pauses_everyone(make_mock: MakeMock, tmp_path: Path, mode: Mode) -> None:
    """10005 per-window limits: all workers pause to the next window; throttled replies stay few."""
    window_s = 0.4
    # 10 requests a window: a client slowed by a loaded machine still passes it (25 did not always: batch and
    # list send 30 requests in all, and under load fewer than 25 could land in one 0.4 s window).
    mock = await make_mock(seed=6, throttle_per_window=10, throttle_window_s=window_s)
    recipients = write_recipients(tmp_path / "recipients.jsonl", RECORDS[mode] // 2, repeat_every=37)
    out = tmp_path / "results.jsonl"
    summary, _ = await run(mock, recipients, out, mode, window_s=window_s)
    throttled = mock.stats().throttled
    lines = check_finished(mock, recipients, out)
    check_attempts(lines, ATTEMPTS, uncounted=throttled)
    assert summary.exit_code == 0
    assert summary.throttle_pauses >= 1
    assert 1 <= throttled <= summary.throttle_pauses * 8  # at most the requests in flight per pause


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_token_revoked_mid_run_refreshes_once_per_revocation(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """Tokens revoked twice mid-run: exactly one /auth per revocation, however many requests saw 10001."""
    period_s = 10.0
    clock = FakeClock(time.time() // period_s * period_s + 1)
    mock = await make_mock(seed=7, clock=clock, revoke_tokens_every_s=period_s)
    recipients = recipients_for(tmp_path, mode)
    out = tmp_path / "results.jsonl"
    revoke = {n: [lambda: clock.advance(period_s)] for n in (15, 40)}
    summary, _ = await run(mock, recipients, out, mode, revoke)
    check_clean_finish(mock, recipients, out, summary)
    stats = mock.stats()
    assert stats.faults["tokens_revoked"] == 2
    assert stats.auth_calls == summary.token_refreshes == 3
    assert stats.rejections[10001] >= 2


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_host_change_301_moves_every_worker(make_mock: MakeMock, tmp_path: Path, mode: Mode) -> None:
    """A 301 mid-run: the client moves to the named host; only requests already on their way see it."""
    mock = await make_mock(seed=8)
    recipients = recipients_for(tmp_path, mode)
    out = tmp_path / "results.jsonl"
    summary, _ = await run(mock, recipients, out, mode, {20: [lambda: mock.configure(host_change=True)]})
    check_clean_finish(mock, recipients, out, summary)
    assert 1 <= mock.stats().faults["host_change"] <= 8
    assert summary.retries == 0  # a host switch is replayed by the client, not retried


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_daily_quota_stops_and_resume_finishes(make_mock: MakeMock, tmp_path: Path, mode: Mode) -> None:
    """A daily quota mid-run stops with exit 3 and consistent lines; lifted, --resume ends exactly once."""
    recipients = recipients_for(tmp_path, mode)
    quota = len(recipients.deliverable) // 3
    mock = await make_mock(seed=9, daily_quota=quota)
    out = tmp_path / "results.jsonl"
    summary, script = await run(mock, recipients, out, mode)
    assert summary.exit_code == 3
    assert summary.stopped == "quota"
    lines = read_results(out)
    check_delivered_once(mock, lines)  # every delivered cid has its line, nothing was sent blind
    assert len(mock.deliveries) <= quota
    assert len(lines) < recipients.records
    after = script.sent_after_first(30008, 30009)
    assert after is not None
    assert after <= 2, f"{after} requests sent after the first quota refusal"

    mock.configure(daily_quota=None)
    resumed, _ = await run(mock, recipients, out, mode, resume=True)
    check_clean_finish(mock, recipients, out, resumed)
    assert resumed.skipped == len(lines)


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_quota_stop_mid_split_sends_almost_nothing_more(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """Requests queued at the throttle gate (split halves, resends) are not sent once a quota stops a run."""
    recipients = write_recipients(tmp_path / "recipients.jsonl", 600, invalid_every=7)
    quota = len(recipients.deliverable) // 3
    mock = await make_mock(seed=14, daily_quota=quota, list_invalid_cid="fail", latency_jitter_ms=5)
    out = tmp_path / "results.jsonl"
    summary, script = await run(mock, recipients, out, mode)
    assert summary.exit_code == 3
    check_delivered_once(mock, read_results(out))
    after = script.sent_after_first(30008, 30009)
    assert after is not None
    assert after <= 2, f"{after} requests sent after the first quota refusal"
    assert script.in_flight_at_close == 0


@pytest.mark.parametrize(("mode", "held", "stop_at"), [(Mode.BATCH, 3, 4), (Mode.LIST, 4, 5)])
async def test_stop_waits_for_split_halves_in_flight(
    make_mock: MakeMock, tmp_path: Path, mode: Mode, held: int, stop_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop while half of a split request is in flight waits for its reply and writes its lines."""

    async def no_help(self: Splitter, jobs: object) -> frozenset[str]:
        return frozenset()

    # user/detail would name the invalid cid at once; this test is about the bisection fallback.
    monkeypatch.setattr(Splitter, "invalid_cids", no_help)
    # One request of 10 with an invalid cid (record 10): refused whole, split into 1-5 and 6-10.
    # The 1-5 half is delivered but its reply is slow; the stop comes as the 6-10 half goes out.
    recipients = write_recipients(tmp_path / "recipients.jsonl", 10, invalid_every=10)
    mock = await make_mock(seed=15, list_invalid_cid="fail")
    out = tmp_path / "results.jsonl"
    settings = settings_for(mock)
    holder: list[Campaign] = []
    script = FaultScript(settings, {stop_at: [lambda: holder[0].request_stop("signal")]}, hold_s={held: 0.3})
    with open_source(recipients.path) as source:
        campaign = Campaign(
            source,
            template_for(mode),
            settings,
            options_for(mode, batch_size=CHUNK, list_chunk=CHUNK),
            out=out,
            transport=script,
        )
        holder.append(campaign)
        summary = await campaign.run()
    assert summary.exit_code == 3
    lines = read_results(out)
    check_delivered_once(mock, lines)
    assert script.in_flight_at_close == 0
    assert sorted(line["record"] for line in lines) == [1, 2, 3, 4, 5]

    resumed, _ = await run(mock, recipients, out, mode, resume=True)
    check_finished(mock, recipients, out)
    assert resumed.exit_code == 1


# --- all of them together --------------------------------------------------------------------------------


def combined_faults(phase: str) -> dict[str, Any]:
    """Every fault at a moderate rate; ``phase`` says whether lost requests were processed first."""
    return {
        "http_5xx_rate": 0.04,
        "reset_rate": 0.04,
        "reset_phase": phase,
        "hang_rate": 0.02,
        "hang_phase": phase,
        "hang_s": 1.0,
        "busy_rate": 0.04,
        "throttle_per_window": 40,
        "throttle_window_s": 0.5,
        "revoke_tokens_every_s": 0.7,
    }


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_all_faults_combined(make_mock: MakeMock, tmp_path: Path, mode: Mode) -> None:
    """Every fault at once, bad rows, a quota stop (3) and a resume (1): one line each, every cid once."""
    faults = combined_faults("after")
    if mode is Mode.LIST:  # only the faults Getui answers itself: a lost list reply is never re-sent
        faults.update(http_5xx_rate=0.0, reset_rate=0.0, hang_rate=0.0)
    attempts = 10
    recipients = recipients_for(tmp_path, mode, invalid_every=53, bad_every=41)
    mock = await make_mock(seed=10, daily_quota=len(recipients.deliverable) // 2, **faults)
    out = tmp_path / "results.jsonl"
    host_change = {30: [lambda: mock.configure(host_change=True)]}
    first, _ = await run(mock, recipients, out, mode, host_change, attempts=attempts, window_s=0.5)
    assert first.exit_code == 3
    assert first.stopped == "quota"
    check_delivered_once(mock, read_results(out))

    mock.configure(daily_quota=None)
    resumed, _ = await run(mock, recipients, out, mode, attempts=attempts, window_s=0.5, resume=True)
    lines = check_finished(mock, recipients, out)
    stats = mock.stats()
    check_attempts(lines, attempts, uncounted=stats.throttled)
    assert resumed.stopped is None
    assert resumed.exit_code == recipients.exit_code() == 1
    assert stats.faults["host_change"] >= 1
    # one /auth per run, plus at most one per revocation (the token between runs may die unused)
    assert 2 <= stats.auth_calls <= 2 + stats.faults.get("tokens_revoked", 0)
    assert sum(stats.faults.values()) > 10


# --- the contract's other promises ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_bad_records_are_rejected_with_the_reason(
    make_mock: MakeMock, tmp_path: Path, mode: Mode
) -> None:
    """Malformed rows and over-long rendered fields are rejected unsent, with a reason; exit status 1."""
    mock = await make_mock(seed=11)
    recipients = recipients_for(tmp_path, mode, invalid_every=29, bad_every=17)
    out = tmp_path / "results.jsonl"
    summary, _ = await run(mock, recipients, out, mode)
    lines = check_finished(mock, recipients, out)
    assert summary.exit_code == 1
    rejected = [line for line in lines if line["status"] == "rejected"]
    assert {line["request_id"] for line in rejected} == {None}
    reasons = {line["field"] for line in rejected}
    assert len(reasons) == 2, reasons  # a malformed cid, and a title over Getui's limit
    assert "cid" in reasons
    failed = [line for line in lines if line["status"] == "failed"]
    assert failed
    assert all("target user is invalid" in line["msg"] for line in failed)


@pytest.mark.parametrize(
    ("template", "endpoints"),
    [
        ("shared", {"POST /push/list/message", "POST /push/list/cid"}),
        ("personal", {"POST /push/single/batch/cid"}),
    ],
)
async def test_auto_mode_picks_the_endpoint_by_content(
    make_mock: MakeMock, tmp_path: Path, template: str, endpoints: set[str]
) -> None:
    """--mode auto: identical content goes through the list endpoints, personalized through batches."""
    mock = await make_mock(seed=12)
    recipients = write_recipients(tmp_path / "recipients.jsonl", 300)
    out = tmp_path / "results.jsonl"
    summary = await run_campaign(
        recipients.path,
        SHARED if template == "shared" else PERSONAL,
        settings_for(mock),
        options_for(Mode.AUTO),
        out=out,
    )
    check_finished(mock, recipients, out)
    assert summary.exit_code == 0
    requests = dict(mock.stats().requests)
    assert requests.pop("POST /auth") == 1
    assert set(requests) == endpoints
    if template == "shared":
        assert requests["POST /push/list/message"] == 1


async def test_duplicates_are_reported_and_sent_once(make_mock: MakeMock, tmp_path: Path) -> None:
    """A recipient repeated in the input gets a `duplicate` line and is delivered once."""
    mock = await make_mock(seed=13)
    recipients = write_recipients(tmp_path / "recipients.jsonl", 200, repeat_every=10)
    out = tmp_path / "results.jsonl"
    summary, _ = await run(mock, recipients, out, Mode.BATCH)
    lines = check_finished(mock, recipients, out)
    duplicates = [line for line in lines if line["status"] == "duplicate"]
    assert len(duplicates) == summary.counts["duplicate"] == 20
    first_line = {line["cid"]: line for line in lines if line["status"] in DELIVERED}
    for line in duplicates:
        assert line["record"] > first_line[line["cid"]]["record"]
        assert mock.deliveries[line["cid"]] == 1
