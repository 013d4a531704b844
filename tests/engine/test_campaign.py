"""Engine decisions on replies the mock rarely gives, through a scripted fake Getui (no sockets)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from getui_async.config import CampaignSettings, Mode
from getui_async.engine import run_campaign
from getui_async.errors import FatalApiError, TransportError
from getui_async.messages import MessageTemplate, recipient_ids
from getui_async.transport import MockTransport, Request, Response
from tests.fakes import Call, FakeGetui, reply, settings
from tests.results_file import read_results

PERSONAL = MessageTemplate.simple(title="Hi {name}", body="Body")
SHARED = MessageTemplate.simple(title="Hi", body="Body")


def recipients(tmp_path: Path, n: int, kind: str = "cid") -> Path:
    path = tmp_path / "in.csv"
    path.write_text(f"{kind},name\n" + "".join(f"{kind}{i:04d},N{i}\n" for i in range(n)))
    return path


def results(out: Path) -> list[dict[str, Any]]:
    return read_results(out)


def batch_ok(call: Call, drop: set[str] = frozenset(), status: str = "successed_online") -> Response:  # type: ignore[assignment]
    data = {}
    for i, item in enumerate(call.body["msg_list"]):
        cid = item["audience"]["cid"][0]
        if cid not in drop:
            data[f"t{i}-{cid}"] = {cid: status}
    return reply(data=data)


async def run(
    path: Path, fake: FakeGetui, out: Path, template: MessageTemplate = PERSONAL, **opts: Any
) -> Any:
    return await run_campaign(
        path, template, settings(), CampaignSettings(**opts), out=out, transport=fake.transport()
    )


async def test_missing_recipient_is_resent_alone_with_its_request_id(tmp_path: Path) -> None:
    """A cid absent from a sync batch reply is re-sent alone (same request_id), never assumed."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: batch_ok(call, drop={"cid0002"})
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(
        data={"RASS": {"cid0002": "successed_offline"}}
    )
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 5), fake, out, mode=Mode.BATCH)
    rows = {r["cid"]: r for r in results(out)}
    assert rows["cid0002"]["status"] == "successed_offline"
    assert rows["cid0002"]["attempts"] == 2
    batch_rid = next(
        item["request_id"]
        for item in fake.path_calls("/push/single/batch/cid")[0].body["msg_list"]
        if item["audience"]["cid"] == ["cid0002"]
    )
    assert (
        fake.path_calls("/push/single/cid")[0].body["request_id"]
        == batch_rid
        == rows["cid0002"]["request_id"]
    )
    assert summary.exit_code == 0


async def test_batch_refused_whole_is_bisected(tmp_path: Path) -> None:
    """One bad cid fails alone; the other 15 are delivered."""
    fake = FakeGetui()

    def handler(call: Call) -> Response:
        cids = [i["audience"]["cid"][0] for i in call.body["msg_list"]]
        if "cid0009" in cids:
            return reply(20001, "target user is invalid")
        return batch_ok(call)

    fake.routes[("POST", "/push/single/batch/cid")] = handler
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 16), fake, out, mode=Mode.BATCH)
    statuses = {r["cid"]: r["status"] for r in results(out)}
    assert statuses.pop("cid0009") == "failed"
    assert set(statuses.values()) == {"successed_online"}
    assert len(statuses) == 15
    assert len(fake.path_calls("/push/single/batch/cid")) == 1 + 2 * 4  # log2(16) levels
    assert summary.exit_code == 1


async def test_unknown_cid_is_found_with_one_user_detail_call(tmp_path: Path) -> None:
    """A batch refused for an invalid target asks user/detail once instead of bisecting."""
    fake = FakeGetui()

    def batch(call: Call) -> Response:
        cids = [i["audience"]["cid"][0] for i in call.body["msg_list"]]
        return reply(20001, "target user is invalid") if "cid0009" in cids else batch_ok(call)

    fake.routes[("POST", "/push/single/batch/cid")] = batch
    fake.routes[("GET", "/user/detail/" + ",".join(f"cid{i:04d}" for i in range(16)))] = lambda call: reply(
        data={"validCids": {}, "invalidCids": ["cid0009"]}
    )
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 16), fake, out, mode=Mode.BATCH)
    statuses = {r["cid"]: r["status"] for r in results(out)}
    assert statuses.pop("cid0009") == "failed"
    assert set(statuses.values()) == {"successed_online"}
    assert len(fake.path_calls("/push/single/batch/cid")) == 2


async def test_async_batches_are_accepted(tmp_path: Path) -> None:
    """With --async, Getui gives no per-cid status: every record is 'accepted'."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: reply()
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 3), fake, out, mode=Mode.BATCH, is_async=True)
    assert {r["status"] for r in results(out)} == {"accepted"}
    assert fake.path_calls("/push/single/batch/cid")[0].body["is_async"] is True


async def test_batch_without_any_status_is_already_taken(tmp_path: Path) -> None:
    """A sync batch answered with no per-cid data (all repeats) is 'accepted' without 200 resends."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: reply(data={})
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 3), fake, out, mode=Mode.BATCH)
    assert {(r["status"], r["msg"]) for r in results(out)} == {
        ("accepted", "already taken by Getui (repeated request_id)")
    }
    assert summary.already_taken == 3
    assert fake.path_calls("/push/single/cid") == []


async def test_alias_batch_replies_are_not_guessed(tmp_path: Path) -> None:
    """A batch alias reply keyed by cid cannot name the alias: 'accepted', never a guessed status."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/alias")] = lambda call: reply(
        data={"t1": {"someCid": "successed_online"}}
    )
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 2, kind="alias"), fake, out, mode=Mode.BATCH)
    rows = results(out)
    assert {r["status"] for r in rows} == {"accepted"}
    assert {r["alias"] for r in rows} == {"alias0000", "alias0001"}


async def test_list_task_is_recreated_once_when_refused(tmp_path: Path) -> None:
    """A 'taskid is invalid' refusal creates the list message again and resends the chunk."""
    fake = FakeGetui()
    created: list[str] = []

    def create(call: Call) -> Response:
        created.append(f"RASL-{len(created)}")
        return reply(data={"taskid": created[-1]})

    def push(call: Call) -> Response:
        if call.body["taskid"] == "RASL-0":
            return reply(20001, "taskid is invalid")
        return reply(
            data={call.body["taskid"]: dict.fromkeys(call.body["audience"]["cid"], "successed_online")}
        )

    fake.routes[("POST", "/push/list/message")] = create
    fake.routes[("POST", "/push/list/cid")] = push
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 4), fake, out, template=SHARED, mode=Mode.AUTO)
    assert created == ["RASL-0", "RASL-1"]
    assert {(r["status"], r["taskid"]) for r in results(out)} == {("successed_online", "RASL-1")}


async def test_unknown_status_is_a_failure(tmp_path: Path) -> None:
    """A status string Getui does not document is never counted as delivered."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: batch_ok(call, status="successed_maybe")
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 2), fake, out, mode=Mode.BATCH)
    assert {r["status"] for r in results(out)} == {"failed"}
    assert summary.exit_code == 1


async def test_repeated_request_id_reply_means_accepted(tmp_path: Path) -> None:
    """20001 'request_id cannot be repeat' on a single push: Getui already has it -> accepted."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(20001, "request_id cannot be repeat.")
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 1), fake, out, mode=Mode.SINGLE)
    (row,) = results(out)
    assert (row["status"], row["code"]) == ("accepted", 20001)
    assert summary.exit_code == 0


async def test_quota_stops_and_leaves_the_rest_resumable(tmp_path: Path) -> None:
    """After a quota reply no new request goes out; unsent records have no line; resume sends them."""
    fake = FakeGetui()
    state = {"quota": True}

    def single(call: Call) -> Response:
        cid = call.body["audience"]["cid"][0]
        if state["quota"] and cid >= "cid0003":
            return reply(30009, "push count over the daily total")
        return reply(data={"t": {cid: "successed_online"}})

    fake.routes[("POST", "/push/single/cid")] = single
    path, out = recipients(tmp_path, 10), tmp_path / "out.jsonl"
    first = await run(path, fake, out, mode=Mode.SINGLE, concurrency=1)
    assert first.stopped == "quota"
    assert first.exit_code == 3
    assert sorted(r["cid"] for r in results(out)) == ["cid0000", "cid0001", "cid0002"]
    assert len(fake.path_calls("/push/single/cid")) == 4  # nothing after the first quota reply
    state["quota"] = False
    second = await run_campaign(
        path, PERSONAL, settings(), CampaignSettings(mode=Mode.SINGLE), out=out, resume=True,
        transport=fake.transport(),
    )  # fmt: skip
    assert second.exit_code == 0
    assert second.skipped == 3
    assert sorted(r["cid"] for r in results(out)) == [f"cid{i:04d}" for i in range(10)]


async def test_a_lost_reply_is_followed_up_after_a_stop(tmp_path: Path) -> None:
    """A request whose reply was lost when the quota stop came is retried, so its recipient gets a line."""
    fake = FakeGetui()
    quota_sent = asyncio.Event()
    sent: list[str] = []

    async def single(call: Call) -> Response:
        cid = call.body["audience"]["cid"][0]
        sent.append(cid)
        if cid != "cid0000":
            quota_sent.set()
            return reply(30009, "push count over the daily total")
        if sent.count(cid) == 1:
            await quota_sent.wait()
            raise TransportError("connection reset after Getui took the request")
        return reply(data={})  # the repeat of a request_id Getui already has

    fake.routes[("POST", "/push/single/cid")] = single
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 2), fake, out, mode=Mode.SINGLE, concurrency=2)
    assert summary.stopped == "quota"
    assert [(r["cid"], r["status"]) for r in results(out)] == [("cid0000", "accepted")]
    assert sent.count("cid0000") == 2


async def test_dry_run_makes_no_request(tmp_path: Path) -> None:
    """--dry-run renders and validates every record and never touches the transport."""

    def refuse(request: Request) -> Response:
        raise AssertionError(f"dry run sent {request.method} {request.url}")

    out = tmp_path / "out.jsonl"
    summary = await run_campaign(
        recipients(tmp_path, 3), PERSONAL, None, CampaignSettings(dry_run=True), out=out,
        transport=MockTransport(refuse),
    )  # fmt: skip
    assert {r["status"] for r in results(out)} == {"validated"}
    assert summary.exit_code == 0


async def test_bad_credentials_fail_before_any_line(tmp_path: Path) -> None:
    """A refused /auth raises before anything is written or sent."""
    fake = FakeGetui()
    fake.auth_reply = lambda call: reply(20001, "sign is invalid")
    out = tmp_path / "out.jsonl"
    with pytest.raises(FatalApiError, match="GETUI_MASTER_SECRET"):
        await run(recipients(tmp_path, 3), fake, out, mode=Mode.BATCH)
    assert not out.exists()  # and no sidecar: the same command can simply run again
    assert [c.path for c in fake.calls] == ["/auth"]


def test_record_events_only_when_an_observer_wants_them() -> None:
    """An observer that sets wants_records = False (the -q wait notice) keeps RecordDone off the
    per-recipient path; any other observer gets one per result line."""
    from getui_async.events import Observers, RecordDone
    from getui_async.outcome import Status
    from getui_async.results import ResultsLog

    class WaitsOnly:
        wants_records = False

        def __init__(self) -> None:
            self.seen: list[object] = []

        def __call__(self, event: object) -> None:
            self.seen.append(event)

    quiet, everything = WaitsOnly(), WaitsOnly()
    everything.wants_records = True  # type: ignore[misc]
    for observers in (Observers([quiet]), Observers([everything])):
        log = ResultsLog(None, observers, lambda: "ts")
        log.add(line=1, record=1, kind="cid", target="c", request_id="r", status=Status.FAILED,
                code=None, msg="", taskid=None, attempts=1)  # fmt: skip
    assert not any(isinstance(e, RecordDone) for e in quiet.seen)
    assert sum(isinstance(e, RecordDone) for e in everything.seen) == 1


async def test_records_alternating_cid_and_alias_each_go_their_own_way(tmp_path: Path) -> None:
    """Intake redoes a record's endpoint and ids only when its kind (or content, or variant) changes:
    an input that alternates cids and aliases must still send every cid in a cid batch and every alias
    alone (auto), each under the request_id of its own kind."""
    path = tmp_path / "in.csv"
    rows = [f"c{i:04d},,N{i}" if i % 2 == 0 else f",a{i:04d},N{i}" for i in range(12)]
    path.write_text("cid,alias,name\n" + "\n".join(rows) + "\n")
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = batch_ok
    fake.routes[("POST", "/push/single/alias")] = lambda call: reply(
        data={"RASS": {"cid-of-" + call.body["audience"]["alias"][0]: "successed_online"}}
    )
    out = tmp_path / "out.jsonl"
    summary = await run(path, fake, out, mode=Mode.AUTO)
    assert summary.exit_code == 0
    batched = [
        i["audience"]["cid"][0] for c in fake.path_calls("/push/single/batch/cid") for i in c.body["msg_list"]
    ]
    alone = [c.body["audience"]["alias"][0] for c in fake.path_calls("/push/single/alias")]
    assert sorted(batched) == [f"c{i:04d}" for i in range(0, 12, 2)]
    assert sorted(alone) == [f"a{i:04d}" for i in range(1, 12, 2)]
    lines = results(out)
    assert len(lines) == 12
    assert {line["status"] for line in lines} == {"successed_online"}
    campaign = summary.campaign_id
    for line in lines:
        kind = "cid" if "cid" in line else "alias"
        assert line["request_id"] == recipient_ids(campaign, kind, line[kind])[0]
