"""Engine wiring of reply shapes, summary fields and input checks (#10, #11, #13, #15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.config import CampaignSettings, Mode
from getui_async.engine import run_campaign
from getui_async.messages import MessageTemplate
from getui_async.transport import Response
from tests.fakes import Call, FakeGetui, reply, settings

PERSONAL = MessageTemplate.simple(title="Hi {name}", body="Body")
SHARED = MessageTemplate.simple(title="Hi", body="Body")
UNCONFIRMED = "Getui's reply did not confirm this recipient"
#: code-0 ``data`` of the wrong type: a string, a list, a number, a task with int statuses.
WRONG_DATA = ["ok", ["x"], 7, {"t1": 5}]


def recipients(tmp_path: Path, n: int, kind: str = "cid") -> Path:
    path = tmp_path / "in.csv"
    path.write_text(f"{kind},name\n" + "".join(f"{kind}{i:04d},N{i}\n" for i in range(n)))
    return path


def rows(out: Path) -> list[dict[str, Any]]:
    return [_json.loads(raw) for raw in out.read_bytes().splitlines()]


async def run(path: Path, fake: FakeGetui, out: Path, template: MessageTemplate, **opts: Any) -> Any:
    return await run_campaign(
        path, template, settings(), CampaignSettings(**opts), out=out, transport=fake.transport()
    )


@pytest.mark.parametrize("data", [*WRONG_DATA, {"t1": {"cid0000": 1}}])
async def test_an_unconfirmed_single_reply_is_accepted_not_already_taken(tmp_path: Path, data: Any) -> None:
    """A single push answered code 0 with wrong-typed data is 'accepted', said unconfirmed, not a repeat."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(data=data)
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 2), fake, out, PERSONAL, mode=Mode.SINGLE)
    assert {(r["status"], r["msg"]) for r in rows(out)} == {("accepted", UNCONFIRMED)}
    assert summary.already_taken == 0
    assert len(fake.path_calls("/push/single/cid")) == 2


async def test_an_empty_single_reply_is_still_already_taken(tmp_path: Path) -> None:
    """A single push answered code 0 with no data stays 'already taken' (a repeated request_id)."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply()
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 1), fake, out, PERSONAL, mode=Mode.SINGLE)
    assert [r["msg"] for r in rows(out)] == ["already taken by Getui (repeated request_id)"]
    assert summary.already_taken == 1


@pytest.mark.parametrize("data", WRONG_DATA)
async def test_an_unconfirmed_batch_reply_is_accepted_and_never_resent_alone(
    tmp_path: Path, data: Any
) -> None:
    """A batch answered code 0 with wrong-typed data: every recipient 'accepted' unconfirmed, none re-sent."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: reply(data=data)
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 3), fake, out, PERSONAL, mode=Mode.BATCH)
    assert {(r["status"], r["msg"]) for r in rows(out)} == {("accepted", UNCONFIRMED)}
    assert summary.already_taken == 0
    assert fake.path_calls("/push/single/cid") == []


async def test_a_partly_wrong_batch_reply_settles_the_named_and_accepts_the_rest(tmp_path: Path) -> None:
    """Recipients a malformed batch reply names keep their status; the others are unconfirmed, not re-sent."""
    fake = FakeGetui()

    def batch(call: Call) -> Response:
        return reply(data={"t0": {"cid0000": "successed_online"}, "t1": {"cid0001": 3}, "t2": "x"})

    fake.routes[("POST", "/push/single/batch/cid")] = batch
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 3), fake, out, PERSONAL, mode=Mode.BATCH)
    got = {r["cid"]: (r["status"], r["msg"]) for r in rows(out)}
    assert got == {
        "cid0000": ("successed_online", ""),
        "cid0001": ("accepted", UNCONFIRMED),
        "cid0002": ("accepted", UNCONFIRMED),
    }
    assert fake.path_calls("/push/single/cid") == []


@pytest.mark.parametrize("data", [*WRONG_DATA, {"RASL-1": {"cid0000": 1, "cid0001": 2, "cid0002": 3}}])
async def test_an_unconfirmed_list_reply_looks_recipients_up_and_says_so(tmp_path: Path, data: Any) -> None:
    """List recipients of a wrong-typed reply: user/detail fails the dead, the rest 'did not confirm'."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/list/message")] = lambda call: reply(data={"taskid": "RASL-1"})
    fake.routes[("POST", "/push/list/cid")] = lambda call: reply(data=data)
    fake.routes[("GET", "/user/detail/cid0000,cid0001,cid0002")] = lambda call: reply(
        data={"validCids": {}, "invalidCids": ["cid0001"]}
    )
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 3), fake, out, SHARED, mode=Mode.LIST)
    got = {r["cid"]: (r["status"], r["msg"]) for r in rows(out)}
    assert got.pop("cid0001")[0] == "failed"
    assert got == {"cid0000": ("accepted", UNCONFIRMED), "cid0002": ("accepted", UNCONFIRMED)}
    assert len(fake.path_calls("/push/list/cid")) == 1
    assert fake.path_calls("/push/single/cid") == []
