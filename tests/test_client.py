"""GetuiClient, one attempt at a time (retry=False; its retry layer: test_client_retry.py): the exact body
each endpoint sends, reply parsing, 301 switching, no leaked secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from getui_async.client import GetuiClient, Push
from getui_async.errors import (
    FatalApiError,
    InvalidTargetError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
)
from getui_async.events import HostSwitched
from getui_async.messages import Rendered
from getui_async.transport import Response
from tests.fakes import APP_KEY, MASTER_SECRET, PREFIX, Call, FakeGetui, reply, settings

NOTE = {"notification": {"title": "Hi", "body": "There", "click_type": "startapp"}}
MSG = Rendered(
    push_message=NOTE, push_channel=None, settings={"ttl": 7_200_000}, group_name=None, shared=True
)


def route(fake: FakeGetui, method: str, path: str, data: Any = None, **kw: Any) -> list[Call]:
    """Answer ``method path`` with a success carrying ``data``; return the list of calls it saw."""
    seen: list[Call] = []

    def handler(call: Call) -> Response:
        seen.append(call)
        return reply(data=data, **kw)

    fake.routes[(method, path)] = handler
    return seen


@pytest.fixture
async def fake_client() -> Any:
    fake = FakeGetui()
    async with GetuiClient(settings(), transport=fake.transport(), retry=False) as client:
        yield fake, client


async def test_push_single_cid(fake_client: Any) -> None:
    """push/single/cid sends the documented body and parses {taskid: {cid: status}}."""
    fake, client = fake_client
    seen = route(fake, "POST", "/push/single/cid", {"RASS_1": {"c1": "successed_online"}})
    result = await client.push_single_cid("c1", MSG, request_id="r" * 32)
    assert seen[0].body == {
        "request_id": "r" * 32,
        "audience": {"cid": ["c1"]},
        "push_message": NOTE,
        "settings": {"ttl": 7_200_000},
    }
    assert seen[0].url == f"{PREFIX}/push/single/cid"
    assert result.taskid == "RASS_1"
    assert result.statuses == {"c1": "successed_online"}


async def test_single_push_empty_success_means_already_taken(fake_client: Any) -> None:
    """code 0 with no data (a repeated request_id) parses as no statuses, not as an error."""
    fake, client = fake_client
    route(fake, "POST", "/push/single/cid", {})
    result = await client.push_single_cid("c1", MSG, request_id="r" * 32)
    assert (result.taskid, dict(result.statuses)) == (None, {})


async def test_push_single_alias(fake_client: Any) -> None:
    """push/single/alias puts the alias in the audience and returns every bound cid's status."""
    fake, client = fake_client
    seen = route(
        fake, "POST", "/push/single/alias", {"RASS_2": {"c1": "successed_offline", "c2": "successed_online"}}
    )
    result = await client.push_single_alias("bob", MSG, request_id="q" * 20)
    assert seen[0].body["audience"] == {"alias": ["bob"]}
    assert result.statuses == {"c1": "successed_offline", "c2": "successed_online"}


async def test_push_batch_cid(fake_client: Any) -> None:
    """push/single/batch/cid wraps one single body per item in msg_list with is_async."""
    fake, client = fake_client
    seen = route(
        fake,
        "POST",
        "/push/single/batch/cid",
        {"t1": {"c1": "successed_online"}, "t2": {"c2": "successed_ignore"}},
    )
    pushes = [Push("c1", "a" * 32, MSG), Push("c2", "b" * 32, MSG)]
    result = await client.push_batch_cid(pushes)
    assert seen[0].body == {
        "is_async": False,
        "msg_list": [
            {
                "request_id": "a" * 32,
                "audience": {"cid": ["c1"]},
                "push_message": NOTE,
                "settings": {"ttl": 7_200_000},
            },
            {
                "request_id": "b" * 32,
                "audience": {"cid": ["c2"]},
                "push_message": NOTE,
                "settings": {"ttl": 7_200_000},
            },
        ],
    }
    assert result.by_cid() == {"c1": ("t1", "successed_online"), "c2": ("t2", "successed_ignore")}


async def test_push_batch_alias_async(fake_client: Any) -> None:
    """push/single/batch/alias with is_async gets no per-cid data."""
    fake, client = fake_client
    seen = route(fake, "POST", "/push/single/batch/alias", None)
    result = await client.push_batch_alias([Push("al", "a" * 32, MSG)], is_async=True)
    assert seen[0].body["is_async"] is True
    assert seen[0].body["msg_list"][0]["audience"] == {"alias": ["al"]}
    assert result.by_cid() == {}


async def test_batch_size_is_bounded(fake_client: Any) -> None:
    """More than 200 items is refused before any request."""
    fake, client = fake_client
    with pytest.raises(ValueError, match=r"1\.\.200"):
        await client.push_batch_cid([Push(f"c{i}", f"{i:032d}", MSG) for i in range(201)])
    assert fake.calls == []


async def test_list_message_and_push(fake_client: Any) -> None:
    """push/list/message has no audience; push/list/cid sends the chunk with the taskid."""
    fake, client = fake_client
    created = route(fake, "POST", "/push/list/message", {"taskid": "RASL-1"})
    pushed = route(
        fake, "POST", "/push/list/cid", {"RASL-1": {"c1": "successed_online", "c2": "successed_offline"}}
    )
    taskid = await client.create_list_message(MSG)
    assert taskid == "RASL-1"
    body = created[0].body
    assert set(body) == {"request_id", "push_message", "settings"}
    assert 10 <= len(body["request_id"]) <= 32
    result = await client.push_list_cid(["c1", "c2"], taskid=taskid)
    assert pushed[0].body == {"audience": {"cid": ["c1", "c2"]}, "taskid": "RASL-1", "is_async": False}
    assert result.statuses == {"c1": "successed_online", "c2": "successed_offline"}


async def test_list_create_without_taskid_is_an_error(fake_client: Any) -> None:
    """A create reply without a taskid cannot be used for list pushes."""
    fake, client = fake_client
    route(fake, "POST", "/push/list/message", {})
    with pytest.raises(FatalApiError, match="taskid"):
        await client.create_list_message(MSG)


async def test_list_alias_with_detail(fake_client: Any) -> None:
    """push/list/alias asks for alias detail when synchronous."""
    fake, client = fake_client
    seen = route(fake, "POST", "/push/list/alias", {"RASL-2": {"al": {"c9": "successed_online"}}})
    result = await client.push_list_alias(["al"], taskid="RASL-2")
    assert seen[0].body == {
        "audience": {"alias": ["al"]},
        "taskid": "RASL-2",
        "is_async": False,
        "need_alias_detail": True,
    }
    assert result.statuses == {"al": {"c9": "successed_online"}}


async def test_user_and_report_endpoints(fake_client: Any) -> None:
    """GET endpoints join ids with commas (URL-encoded) and parse their data."""
    fake, client = fake_client
    route(fake, "GET", "/user/status/c1,c2", {"c1": {"status": "online", "last_login_time": 1}})
    route(fake, "GET", "/user/detail/c1,bad", {"validCids": {"c1": {}}, "invalidCids": ["bad"]})
    route(fake, "GET", "/report/push/task/RASL-1", {"RASL-1": {"total": {"msg_num": 2}}})
    route(fake, "GET", "/report/push/count", {"gt": {}})
    stop = route(fake, "DELETE", "/task/RASL-1")
    assert (await client.user_status(["c1", "c2"]))["c1"]["status"] == "online"
    check = await client.user_detail(["c1", "bad"])
    assert (dict(check.valid), list(check.invalid)) == ({"c1": {}}, ["bad"])
    assert (await client.report_push_task(["RASL-1"]))["RASL-1"]["total"]["msg_num"] == 2
    assert await client.report_push_count() == {"gt": {}}
    await client.stop_task("RASL-1")
    assert len(stop) == 1


async def test_error_replies_map_to_exceptions(fake_client: Any) -> None:
    """Getui error envelopes raise the mapped class with code, msg and status."""
    fake, client = fake_client
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(20001, "target user is invalid")
    with pytest.raises(InvalidTargetError) as info:
        await client.push_single_cid("bad", MSG, request_id="r" * 32)
    assert (info.value.code, info.value.http_status) == (20001, 400)
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(30009, "over daily total")
    with pytest.raises(QuotaExceededError):
        await client.push_single_cid("c", MSG, request_id="r" * 32)
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(10005, "frequency")
    with pytest.raises(RateLimitedError):
        await client.push_single_cid("c", MSG, request_id="r" * 32)


async def test_non_json_5xx_is_a_server_error(fake_client: Any) -> None:
    """A 502 HTML page becomes a retryable ServerError."""
    fake, client = fake_client
    fake.routes[("POST", "/push/single/cid")] = lambda call: Response(502, b"<html>bad gateway</html>")
    with pytest.raises(ServerError):
        await client.push_single_cid("c", MSG, request_id="r" * 32)


async def test_301_switches_host_and_replays_once() -> None:
    """A 301 moves every later request to the named host; the refused request is replayed there."""
    fake = FakeGetui()
    events: list[Any] = []
    moved = {
        "host_list": [{"domain_list": ["https://other.example.test/v2/"], "priority_gap": 0}],
        "domain_hash": "h-1",
    }

    def handler(call: Call) -> Response:
        if call.url.startswith("https://other.example.test/v2/"):
            return reply(data={"t": {"c": "successed_online"}})
        return reply(301, "moved", moved)

    fake.routes[("POST", "/push/single/cid")] = handler
    async with GetuiClient(settings(), transport=fake.transport(), observers=[events.append]) as client:
        result = await client.push_single_cid("c", MSG, request_id="r" * 32)
        assert client.base_url == "https://other.example.test/v2"
    assert result.statuses == {"c": "successed_online"}
    assert HostSwitched("https://other.example.test/v2") in events


async def test_301_to_plain_http_is_refused() -> None:
    """A 301 to a non-TLS, non-loopback host is refused, never followed."""
    fake = FakeGetui()
    moved = {"host_list": [{"domain_list": ["http://evil.example/v2"]}], "domain_hash": "h-2"}
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(301, "moved", moved)
    async with GetuiClient(settings(), transport=fake.transport(), retry=False) as client:
        with pytest.raises(FatalApiError, match="plain http"):
            await client.push_single_cid("c", MSG, request_id="r" * 32)


async def test_301_without_a_new_domain_hash_replays_on_the_same_host() -> None:
    """Like the SDK: a 301 without domain_hash (or with the one already followed) does not move us."""
    fake = FakeGetui()
    answers = iter(
        [
            reply(301, "moved", {"host_list": [{"domain_list": ["https://a.example.test/v2"]}]}),
            reply(data={"t": {"c": "successed_online"}}),
        ]
    )
    fake.routes[("POST", "/push/single/cid")] = lambda call: next(answers)
    async with GetuiClient(settings(), transport=fake.transport(), retry=False) as client:
        result = await client.push_single_cid("c", MSG, request_id="r" * 32)
        assert client.base_url == settings().base_url
    assert result.statuses == {"c": "successed_online"}
    assert [c.url for c in fake.path_calls("/push/single/cid")] == [f"{PREFIX}/push/single/cid"] * 2


async def test_a_second_301_in_a_row_is_raised() -> None:
    """Two 301 replies to one request: the client replays once, then hands the HostChangedError on."""
    from getui_async.errors import HostChangedError

    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(301, "moved", {"host_list": []})
    async with GetuiClient(settings(), transport=fake.transport(), retry=False) as client:
        with pytest.raises(HostChangedError):
            await client.push_single_cid("c", MSG, request_id="r" * 32)
    assert len(fake.path_calls("/push/single/cid")) == 2


async def test_report_endpoints(fake_client: Any) -> None:
    """report/push/task/{ids}, report/push/task_group/{name} and report/push/count use the SDK's paths."""
    fake, client = fake_client
    per_task = {"RASL-1": {"total": {"msg_num": 2}, "gt": {"msg_num": 2}}}
    route(fake, "GET", "/report/push/task/RASL-1,RASL-2", per_task)
    route(fake, "GET", "/report/push/task_group/spring_sale", {"spring_sale": {"total": {"msg_num": 2}}})
    route(fake, "GET", "/report/push/count", {"gt": {"list": {"total_num": 10, "remain_num": 8}}})
    assert await client.report_push_task(["RASL-1", "RASL-2"]) == per_task
    assert await client.report_push_task_group("spring_sale") == {"spring_sale": {"total": {"msg_num": 2}}}
    assert (await client.report_push_count())["gt"]["list"]["remain_num"] == 8


async def test_closed_client_cannot_reopen() -> None:
    """After close, using or re-entering the client raises."""
    fake = FakeGetui()
    client = GetuiClient(settings(), transport=fake.transport(), retry=False)
    async with client:
        pass
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError):
        await client.report_push_count()
    with pytest.raises(RuntimeError):
        async with client:
            pass


async def test_secrets_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    """App key, master secret and tokens appear in no log record, exception text or repr."""
    caplog.set_level(logging.DEBUG)
    fake = FakeGetui()
    texts: list[str] = []
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(20001, "sign is invalid")
    async with GetuiClient(settings(delete_token_on_close=True), transport=fake.transport()) as client:
        try:
            await client.push_single_cid("c", MSG, request_id="r" * 32)
        except Exception as exc:
            texts += [str(exc), repr(exc)]
        texts += [repr(client.settings), repr(client.tokens.current), str(client.settings)]
        fake.revoke_all()
        fake.routes[("POST", "/push/single/cid")] = lambda call: reply(10001, "expired")
        try:
            await client.push_single_cid("c", MSG, request_id="r" * 32)
        except Exception as exc:
            texts += [str(exc), repr(exc)]
    texts += [r.getMessage() for r in caplog.records]
    tokens = {c.token for c in fake.calls if c.token} | fake.valid_tokens
    assert tokens
    blob = "\n".join(texts)
    for secret in (APP_KEY, MASTER_SECRET, *tokens):
        assert secret not in blob


@pytest.mark.integration
async def test_timeout_text_never_carries_the_path(make_mock: Any) -> None:
    """DELETE /auth/{token} puts the token in the path: a timeout's text names no path at all."""
    from getui_async.errors import TransportError
    from getui_async.transport import AiohttpTransport

    mock = await make_mock(hang_rate=1.0, hang_s=1.0, faults_on_auth=True)
    transport = AiohttpTransport(settings(base_url=mock.base_url, request_timeout_s=0.2))
    secret_path = "/auth/tok-0123456789abcdef-secret"
    try:
        with pytest.raises(TransportError) as info:
            await transport.request("DELETE", f"{mock.base_url}/{mock.app_id}{secret_path}", headers={})
    finally:
        await transport.aclose()
    assert "reply within 0.2 s" in str(info.value)
    assert "secret" not in str(info.value)


async def test_invalid_cids_asks_user_detail_per_thousand(fake_client: Any) -> None:
    """invalid_cids splits the cids into user/detail calls of at most 1000 and unites their invalidCids."""
    fake, client = fake_client

    def detail(call: Any) -> Response:
        asked = call.path.rsplit("/", 1)[1].split(",")
        return reply(data={"validCids": {}, "invalidCids": [c for c in asked if c.startswith("dead")]})

    cids = [f"ok{n}" for n in range(1500)] + ["dead-1", "dead-2", "dead-1"]
    for n in range(2):
        chunk = list(dict.fromkeys(cids))[n * 1000 : (n + 1) * 1000]
        fake.routes[("GET", "/user/detail/" + ",".join(chunk))] = detail
    assert await client.invalid_cids(cids) == {"dead-1", "dead-2"}
    assert [len(c.path.rsplit("/", 1)[1].split(",")) for c in fake.calls if "detail" in c.path] == [1000, 502]


@pytest.mark.integration
async def test_a_list_recipient_the_reply_left_out_is_told_dead_or_taken(make_mock: Any) -> None:
    """Against the mock: a dropped invalid cid is missing from the list reply; invalid_cids names it dead."""
    from getui_async.config import Credentials

    mock = await make_mock()
    creds = Credentials(app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret)
    async with GetuiClient(settings(credentials=creds, base_url=mock.base_url)) as client:
        taskid = await client.create_list_message(MSG)
        result = await client.push_list_cid(["a1", "invalid-2", "a3"], taskid=taskid)
        missing = [c for c in ("a1", "invalid-2", "a3") if c not in result.statuses]
        assert missing == ["invalid-2"]
        assert await client.invalid_cids(missing) == {"invalid-2"}
    assert mock.deliveries == {"a1": 1, "a3": 1}


@pytest.mark.integration
async def test_the_mock_shows_what_the_client_put_on_the_wire(make_mock: Any) -> None:
    """push_channel and settings the client sends are visible in the mock's accepted bodies."""
    from getui_async.config import Credentials

    channel = {"ios": {"type": "notify", "aps": {"alert": {"title": "t", "body": "b"}}, "auto_badge": "+1"}}
    message = Rendered(
        push_message=NOTE, push_channel=channel, settings={"ttl": 3_600_000}, group_name="g-1", shared=True
    )
    mock = await make_mock()
    creds = Credentials(app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret)
    async with GetuiClient(settings(credentials=creds, base_url=mock.base_url)) as client:
        await client.push_single_cid("c1", message, request_id="r" * 20)
    (body,) = mock.accepted_bodies("push/single/cid")
    assert (body["push_channel"], body["settings"], body["group_name"]) == (
        channel,
        {"ttl": 3_600_000},
        "g-1",
    )


async def test_a_transport_handed_in_stays_open_after_close() -> None:
    """The client closes only what it created: a transport it was handed is its caller's to close."""
    transport = FakeGetui().transport()
    async with GetuiClient(settings(), transport=transport):
        pass
    assert not transport.closed


async def test_a_transport_handed_over_with_ownership_is_closed() -> None:
    """``transport_owner=True`` hands the transport over: closing the client closes it."""
    transport = FakeGetui().transport()
    async with GetuiClient(settings(), transport=transport, transport_owner=True):
        pass
    assert transport.closed
