"""A hostile server on 127.0.0.1: redirects, huge and endless replies, code-0 replies of the wrong shape."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from getui_async import _json
from getui_async.client import GetuiClient, Push
from getui_async.config import Credentials, RetrySettings, Settings
from getui_async.errors import ApiError, ServerError, TransportError
from getui_async.messages import Rendered

pytestmark = pytest.mark.integration

APP_ID = "adv-app"
TOKEN = "adv-token-0123456789abcdef"
NOTE = {"notification": {"title": "Hi", "body": "There", "click_type": "startapp"}}
MSG = Rendered(push_message=NOTE, push_channel=None, settings=None, group_name=None, shared=True)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hostile:
    """A small aiohttp app: ``/auth`` issues a token, every other path answers with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[tuple[str, str | None]] = []  # (path, token header)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, request.headers.get("token")))
        if request.path.endswith("/auth"):
            data = {"token": TOKEN, "expire_time": "99999999999999"}
            return web.json_response({"code": 0, "msg": "", "data": data})
        return await self.handler(request)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[[Handler], Awaitable[Hostile]]]:
    servers: list[Hostile] = []

    async def make(handler: Handler) -> Hostile:
        server = Hostile(handler)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


def client_for(server: Hostile, **overrides: Any) -> GetuiClient:
    values: dict[str, Any] = {
        "credentials": Credentials(app_id=APP_ID, app_key="k", master_secret="s"),
        "base_url": server.url + "/v2",
        "retry": RetrySettings(zero_waits=True),
        "request_timeout_s": 5.0,
    }
    values.update(overrides)
    return GetuiClient(Settings(**values))


def envelope(data: Any = None, *, code: int = 0, msg: str = "") -> web.Response:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return web.Response(body=_json.dumps(body), content_type="application/json")


def answering(data: Any = None, *, code: int = 0, msg: str = "") -> Handler:
    """A handler that answers every request with the same envelope."""

    async def handle(request: web.Request) -> web.Response:
        return envelope(data, code=code, msg=msg)

    return handle


# --- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_never_followed_and_the_token_stays_home(hostile, status) -> None:
    """A 3xx with Location fails the attempt; the other host never sees a request, let alone the token."""
    elsewhere = await hostile(answering({"t": {"c": "successed_online"}}))

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{elsewhere.url}/v2/{APP_ID}/x"})

    server = await hostile(redirect)
    async with client_for(server) as client:
        with pytest.raises(TransportError) as caught:
            await client.push_single_cid("c", MSG, request_id="r" * 20)
    assert caught.value.http_status == status
    assert "redirect" in caught.value.msg
    assert elsewhere.seen == []
    assert TOKEN not in str(caught.value)


# --- reply size ---------------------------------------------------------------------------------------


async def test_a_reply_announced_too_large_is_refused_unread(hostile) -> None:
    """A Content-Length above the cap fails the attempt before a byte of the body is read."""

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 100 * 1024 * 1024
        await resp.prepare(request)
        await resp.write(b'{"code":0,')
        return resp

    server = await hostile(huge)
    async with client_for(server) as client:
        with pytest.raises(TransportError, match="larger than"):
            await client.push_single_cid("c", MSG, request_id="r" * 20)


async def test_a_chunked_reply_past_the_cap_is_cut_off(hostile) -> None:
    """A reply without a length is read only up to the cap, then the attempt fails and the server stops."""
    written: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b" " * 65536
        try:
            for _ in range(1024):  # at most 64 MiB, bounded
                await resp.write(chunk)
                written.append(len(chunk))
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    server = await hostile(endless)
    async with client_for(server, max_reply_bytes=256 * 1024) as client:
        with pytest.raises(TransportError, match=r"larger than 0\.25 MiB"):
            await client.push_single_cid("c", MSG, request_id="r" * 20)
    assert sum(written) < 64 * 1024 * 1024


async def test_a_compressed_reply_is_capped_after_decompression(hostile) -> None:
    """A small gzip body that inflates past the cap is refused (a zip bomb cannot fill memory)."""
    bomb = gzip.compress(b'{"code":0,"msg":"' + b"a" * (8 * 1024 * 1024) + b'"}')

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    server = await hostile(zipped)
    async with client_for(server, max_reply_bytes=1024 * 1024) as client:
        with pytest.raises(TransportError, match="larger than 1 MiB"):
            await client.push_single_cid("c", MSG, request_id="r" * 20)


# --- slow drip --------------------------------------------------------------------------------------


async def test_a_slow_drip_ends_at_the_attempt_deadline(hostile) -> None:
    """A reply dripping a byte at a time (each within sock_read) still ends at the total deadline."""

    async def drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for _ in range(300):  # bounded: 30 s at most, far past the deadline below
                await resp.write(b" ")
                await asyncio.sleep(0.1)
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    server = await hostile(drip)
    async with client_for(server, request_timeout_s=0.5, attempt_timeout_s=0.6) as client:
        with pytest.raises(TransportError, match=r"within 0\.6 s"):
            await client.push_single_cid("c", MSG, request_id="r" * 20)


# --- code 0 with the wrong data ---------------------------------------------------------------------

WRONG_DATA = ["ok", [1, 2], 5, True, {"RASS_1": "successed_online"}, {"RASS_1": {"c": 1}}, {"RASS_1": {}}]


@pytest.mark.parametrize("data", WRONG_DATA, ids=repr)
async def test_a_single_push_reply_of_the_wrong_shape_is_unconfirmed(hostile, data) -> None:
    """code 0 whose data is not {taskid: {cid: status}} says 'unconfirmed', never 'already taken'."""
    server = await hostile(answering(data))
    async with client_for(server) as client:
        result = await client.push_single_cid("c", MSG, request_id="r" * 20)
    assert result.unconfirmed
    assert "c" not in result.statuses


@pytest.mark.parametrize("data", [None, {}])
async def test_an_empty_single_push_reply_is_already_taken_not_unconfirmed(hostile, data) -> None:
    """code 0 with no data (Getui's answer to a repeated request_id) is not 'unconfirmed'."""
    server = await hostile(answering(data))
    async with client_for(server) as client:
        result = await client.push_single_cid("c", MSG, request_id="r" * 20)
    assert (result.unconfirmed, dict(result.statuses)) == (False, {})


@pytest.mark.parametrize("data", WRONG_DATA, ids=repr)
async def test_batch_and_list_replies_of_the_wrong_shape_are_unconfirmed(hostile, data) -> None:
    """The same for batch and list pushes: the flag tells a malformed reply from a missing recipient."""

    async def answer(request: web.Request) -> web.Response:
        if request.path.endswith("/push/list/message"):
            return envelope({"taskid": "RASL-1"})
        return envelope(data)

    server = await hostile(answer)
    async with client_for(server) as client:
        batch = await client.push_batch_cid([Push("c", "r" * 20, MSG)])
        taskid = await client.create_list_message(MSG)
        listed = await client.push_list_cid(["c"], taskid=taskid)
    assert batch.unconfirmed
    assert "c" not in batch.by_cid()
    assert listed.unconfirmed


async def test_well_formed_replies_are_confirmed(hostile) -> None:
    """The documented shapes are not flagged."""

    async def answer(request: web.Request) -> web.Response:
        if request.path.endswith("/push/list/message"):
            return envelope({"taskid": "RASL-1"})
        if request.path.endswith("/push/list/cid"):
            return envelope({"RASL-1": {"c": "successed_offline"}})
        return envelope({"RASS_1": {"c": "successed_online"}})

    server = await hostile(answer)
    async with client_for(server) as client:
        single = await client.push_single_cid("c", MSG, request_id="r" * 20)
        batch = await client.push_batch_cid([Push("c", "r" * 20, MSG)])
        listed = await client.push_list_cid(["c"], taskid=await client.create_list_message(MSG))
    assert [single.unconfirmed, batch.unconfirmed, listed.unconfirmed] == [False, False, False]
    assert listed.statuses == {"c": "successed_offline"}


# --- error text ---------------------------------------------------------------------------------------


async def test_an_html_error_page_becomes_plain_words(hostile) -> None:
    """A 502 HTML page (even one echoing the token) leaves only 'HTTP 502 Bad Gateway' in the error."""

    async def page(request: web.Request) -> web.Response:
        html = f"<html><body><h1>502</h1><pre>{request.headers.get('token')}</pre></body></html>"
        return web.Response(status=502, text=html, content_type="text/html")

    server = await hostile(page)
    async with client_for(server) as client:
        with pytest.raises(ServerError) as caught:
            await client.push_single_cid("c", MSG, request_id="r" * 20)
    assert caught.value.http_status == 502
    assert caught.value.msg == "HTTP 502 Bad Gateway, not a Getui reply"


async def test_a_huge_markup_msg_in_an_envelope_is_trimmed(hostile) -> None:
    """An envelope msg full of markup and newlines is one plain line of at most 200 characters."""
    msg = "<b>bad</b>\n" + "x" * 5000
    server = await hostile(answering(code=20001, msg=msg))
    async with client_for(server) as client:
        with pytest.raises(ApiError) as caught:
            await client.push_single_cid("c", MSG, request_id="r" * 20)
    text = caught.value.msg
    assert len(text) <= 200
    assert "<" not in text
    assert "\n" not in text
