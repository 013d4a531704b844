"""``report R --receipts STORE``: receipts joined to a finished campaign by (taskid, cid), funnel exact."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.mock import DeliveryEvent
from getui_async.receipts.opening import open_store
from getui_async.report.receipts_view import receipts_text
from tests.cli_harness import ThreadedMock, run_cli, write_recipients
from tests.receipts.conftest import (
    APP_ID,
    APP_KEY,
    MASTER_SECRET,
    Receiver,
    body,
    receipt,
    start_receiver,
    stop,
)
from tests.results_file import read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
#: One message for everyone: what a list task sends.
LIST = ("--mode", "list", "--title", "Hi", *SIMPLE[2:])
ACCEPTED = ("successed_online", "successed_offline", "accepted")
ARRIVALS = (0, 110000, 120000, 140000, 150000)
FAILURES = {110102: "huawei_marketing_cap", 120050: "xiaomi_daily_cap", 140002: "oppo_daily_cap"}
FAILURES[1501017] = "vivo_night_hours"
DRAIN_TIMEOUT_S = 30.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """``served(store)`` starts ``receipts serve`` (this app's credentials); stopped at teardown."""
    started: list[Receiver] = []

    def make(store: str) -> Receiver:
        started.append(start_receiver(store, tmp_path / f"receiver{len(started)}.log"))
        return started[-1]

    yield make
    for one in started:
        stop(one.proc)


def mock_for(**config: Any) -> ThreadedMock:
    """The mock with this app's credentials (the receiver verifies signs with them)."""
    return ThreadedMock(app_id=APP_ID, app_key=APP_KEY, master_secret=MASTER_SECRET, seed=5, **config)


def send(mock: ThreadedMock, recipients: Path, out: Path, mode: str = "auto") -> None:
    flags = LIST if mode == "list" else ("--mode", mode, *SIMPLE)
    result = run_cli("send", recipients, "--out", out, *flags, env=mock.env)
    assert result.code == 0, result.err


def drain(mock: ThreadedMock) -> None:
    """Wait (bounded) until the mock's receipt sender has had every batch answered or dropped."""
    sender = mock.mock.receipts
    assert sender is not None
    mock.call(lambda: asyncio.wait_for(sender.drain(), DRAIN_TIMEOUT_S))


def report(out: Path, store: str, *extra: str | Path) -> dict[str, Any]:
    result = run_cli("report", out, "--receipts", store, "--json", *extra)
    assert result.code == 0, result.err
    block: dict[str, Any] = _json.loads(result.out)["receipts"]
    return block


def accepted_keys(out: Path) -> set[tuple[str, str]]:
    return {(x["taskid"], x["cid"]) for x in read_results(out) if x["status"] in ACCEPTED}


@pytest.mark.parametrize("mode", ["single", "batch", "list"])
def test_join_per_mode(tmp_path: Path, served: Callable[..., Receiver], mode: str) -> None:
    """Each mode's taskids join: every accepted recipient has receipts; the funnel equals the mock's lines."""
    store = str(tmp_path / "receipts.db")
    receiver = served(store)
    events: list[DeliveryEvent] = []
    recipients = write_recipients(tmp_path / "in.csv", 300)
    out = tmp_path / "out.jsonl"
    with mock_for(receipts_url=receiver.url, receipts_vendor_failed=0.2) as mock:
        mock.mock.on_delivery.append(events.append)
        send(mock, recipients, out, mode)
        drain(mock)
        counts = mock.mock.receipts.counts  # type: ignore[union-attr]
    assert counts.sent == counts.made
    assert counts.made > 0
    keys = accepted_keys(out)
    assert keys == {(e.taskid, e.cid) for e in events if e.status != "successed_ignore"}
    block = report(out, store)
    good = counts.good_by_action
    assert block["accepted"] == block["recipients_with_receipts"] == len(keys)
    assert block["coverage"] == 1.0
    assert block["arrived"] == sum(good[a] for a in ARRIVALS)
    assert (block["displayed"], block["clicked"]) == (good[10000], good[10010])
    assert block["failed_by_reason"] == {FAILURES[a]: n for a, n in good.items() if a in FAILURES}
    assert block["arrived"] + sum(block["failed_by_reason"].values()) == len(keys)
    assert block["unreached"] == len(keys) - block["arrived"]
    assert block["by_action"] == {str(a): n for a, n in sorted(good.items())}


def post(url: str, data: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - the receiver's http URL
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - the receiver's http URL
        answer: dict[str, Any] = _json.loads(reply.read())
        return answer


def test_posted_receipts_good_bad_repeated(tmp_path: Path, served: Callable[..., Receiver]) -> None:
    """Lines POSTed as Getui would: counts exact, bad signs refused (not stored), repeats counted once;
    ``--unreached`` writes the input rows of the accepted recipients with no arrival."""
    store = str(tmp_path / "receipts.db")
    receiver = served(store)
    recipients = write_recipients(tmp_path / "in.csv", 40)
    out = tmp_path / "out.jsonl"
    with mock_for() as mock:
        send(mock, recipients, out, "list")
    keys = sorted(accepted_keys(out))
    (taskid,) = {t for t, _ in keys}
    cids = [c for _, c in keys]
    arrived, shown, clicked, failed, bad = cids[:20], cids[:8], cids[:3], cids[20:23], cids[23:30]
    lines = [receipt(c, taskid, f"m{c}", 0) for c in arrived]
    lines += [receipt(c, taskid, f"m{c}", 10000) for c in shown]
    lines += [receipt(c, taskid, f"m{c}", 10010) for c in clicked]
    lines += [receipt(c, taskid, f"m{c}", 110102) for c in failed]
    lines += [receipt(c, taskid, f"m{c}", 0, signed="bad") for c in bad]
    lines += [receipt("someone-else", taskid, "mx", 0), receipt(cids[0], "RASL_other", "my", 0)]
    first = post(receiver.url, body(*lines))
    again = post(receiver.url, body(*lines[:25]))  # Getui re-sends part of it
    assert (first["stored"], first["refused"]) == (len(lines) - len(bad), len(bad))
    assert (again["stored"], again["duplicate"]) == (0, 25)
    block = report(out, store, "--unreached", tmp_path / "unreached.csv")
    assert (block["accepted"], block["recipients_with_receipts"]) == (len(cids), 23)
    assert (block["arrived"], block["displayed"], block["clicked"]) == (20, 8, 3)
    assert block["failed_by_reason"] == {"huawei_marketing_cap": 3}
    assert block["by_action"] == {"0": 20, "10000": 8, "10010": 3, "110102": 3}
    assert block["unreached"] == len(cids) - 20
    rows = (tmp_path / "unreached.csv").read_text().splitlines()
    assert rows[0] == "cid,name"
    assert sorted(row.split(",")[0] for row in rows[1:]) == sorted(cids[20:])
    assert (tmp_path / "unreached.csv").stat().st_mode & 0o077 == 0
    text = run_cli("report", out, "--receipts", store, "--html", tmp_path / "r.html")
    assert text.code == 0, text.err
    assert f"receipts for 57.5% of the recipients Getui accepted (23 of {len(cids)})" in text.out
    assert 'id="receipts-chart"' in (tmp_path / "r.html").read_text()
    assert stop(receiver.proc) == 0
    assert f"refused={len(bad)} (bad_sign={len(bad)})" in receiver.stderr()


def test_mock_receipts_funnel_within_dropped_share(tmp_path: Path, served: Callable[..., Receiver]) -> None:
    """A demo-like campaign with lost and bad-signed lines: the store holds exactly the good lines, and
    the report's funnel is the mock's own, short by at most the lines dropped on purpose."""
    store = str(tmp_path / "receipts.db")
    receiver = served(store)
    recipients = write_recipients(tmp_path / "in.csv", 2000)
    out = tmp_path / "out.jsonl"
    config = {"receipts_lost": 0.05, "receipts_bad_sign": 0.05, "latency_ms": 1.0, "http_5xx_rate": 0.01}
    with mock_for(receipts_url=receiver.url, **config) as mock:
        send(mock, recipients, out)
        drain(mock)
        counts = mock.mock.receipts.counts  # type: ignore[union-attr]
    assert counts.dropped == counts.overflow == 0
    dropped = counts.lost + counts.bad_signed_sent
    assert 0 < dropped < counts.made * 0.2
    opened = asyncio.run(_stored(store))
    assert opened == dict(counts.good_by_action)
    block = report(out, store)
    made = counts.made_by_action
    for key, actions in (("arrived", ARRIVALS), ("displayed", (10000,)), ("clicked", (10010,))):
        mine = sum(made[a] for a in actions)
        assert mine - dropped <= block[key] <= mine, key
    assert block["coverage"] >= 1 - dropped / block["accepted"]


async def _stored(store: str) -> dict[int, int]:
    opened = await open_store(store)
    try:
        return await opened.by_action()
    finally:
        await opened.close()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--unreached", "{tmp}/u.csv"), "--unreached: needs --receipts"),
        (("--receipts", "mysql://u:hunter2@h/db"), "only a SQLite file"),
        (("--receipts", "{tmp}/no/such/r.db"), "does not exist"),
        (("--receipts", "{tmp}/r.db"), "no such store"),
        (("--receipts", "{tmp}/store.db", "--unreached", "{tmp}/u.csv"), "--unreached: "),  # no input
    ],
)
def test_bad_receipt_flags_exit_2(tmp_path: Path, flags: tuple[str, ...], message: str) -> None:
    """A bad --receipts or --unreached is exit 2 before anything is read or written (no password shown)."""
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"record": 1, "status": "successed_online", "cid": "c1", "taskid": "t1"}\n')
    (tmp_path / "store.db").touch()
    argv = [f.format(tmp=tmp_path) for f in flags]
    result = run_cli("report", out, *argv)
    assert result.code == 2, result.err
    assert message in result.err
    assert "hunter2" not in result.err
    assert not (tmp_path / "u.csv").exists()


def test_text_puts_getui_figures_beside() -> None:
    """With --fetch figures, the text funnel shows Getui's own received/displayed/clicked beside it."""
    block = {
        "store": "r.db",
        "accepted": 200,
        "not_joinable": 0,
        "recipients_with_receipts": 186,
        "arrived": 180,
        "displayed": 120,
        "clicked": 12,
        "unreached": 20,
        "failed_by_reason": {"vivo_night_hours": 6},
    }
    getui = {
        "tasks": {"channels": {"all": {"target": 200, "received": 190, "displayed": None, "clicked": 15}}}
    }
    text = "\n".join(receipts_text(block, getui))
    assert "receipts for 93.0% of the recipients Getui accepted (186 of 200)" in text
    assert re.search(r"arrived\s+180\s+90\.0%\s+190", text)
    assert re.search(r"displayed\s+120\s+60\.0%\s+n/a", text)
    assert "vivo_night_hours" in text


def test_receipts_give_each_variant_its_rates_in_batch_mode(
    tmp_path: Path, served: Callable[..., Receiver]
) -> None:
    """Batch-mode variants have no Getui group funnel: --receipts gives each its display and click rates,
    counted from its own recipients' receipts, and a comparison with the first variant."""
    store = str(tmp_path / "receipts.db")
    receiver = served(store)
    events: list[DeliveryEvent] = []
    recipients = write_recipients(tmp_path / "in.csv", 400)
    out = tmp_path / "out.jsonl"
    variants = ("--variant", "A=Hi {name}|Offer A", "--variant", "B=Hello {name}|Offer B")
    with mock_for(receipts_url=receiver.url, receipts_vendor_failed=0.0) as mock:
        mock.mock.on_delivery.append(events.append)
        result = run_cli("send", recipients, "--out", out, "--mode", "batch", *variants, "--no-progress",
                         env=mock.env)  # fmt: skip
        assert result.code == 0, result.err
        drain(mock)
    variant_of = {(x["taskid"], x["cid"]): x["variant"] for x in read_results(out) if x["status"] in ACCEPTED}
    reported = _json.loads(run_cli("report", out, "--receipts", store, "--json").out)["variants"]
    for name in ("A", "B"):
        mine = [e for e in events if variant_of.get((e.taskid, e.cid)) == name]
        arrived = len(mine)  # no vendor failures here: every delivery it did not ignore arrives
        displayed = sum(e.displayed for e in mine)
        clicked = sum(e.clicked for e in mine)
        row = reported[name]
        assert row["rates_from"] == "receipts"
        assert (row["received"], row["displayed"], row["clicked"]) == (arrived, displayed, clicked)
        assert row["display_rate"] == pytest.approx(displayed / arrived)
    assert "display_rate" in reported["B"]["vs_first"]
