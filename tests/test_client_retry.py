"""GetuiClient's own retry layer: on by default for direct calls, off inside another retry layer, and
never after a lost reply of a list push (no request_id for Getui to drop a repeat by)."""

from __future__ import annotations

import pytest

from getui_async.client import GetuiClient
from getui_async.config import RetrySettings
from getui_async.errors import ConnectError, ServerError, TransportError
from getui_async.messages import Rendered
from getui_async.mock import MockGetui
from getui_async.retry import call_with_retry, is_retryable, reply_lost
from getui_async.settle import _failure_text
from getui_async.transport import Response
from tests.conftest import MakeMock
from tests.fakes import FakeGetui, reply, settings
from tests.integration.conftest import settings_for

NOTE = {"notification": {"title": "Hi", "body": "There", "click_type": "startapp"}}
MSG = Rendered(
    push_message=NOTE, push_channel=None, settings={"ttl": 7_200_000}, group_name=None, shared=True
)
CIDS = [f"{i:032x}" for i in range(3)]


async def test_user_detail_survives_5xx_by_default(make_mock: MakeMock) -> None:
    """One 5xx from user/detail is retried by the client itself: no traceback for a library user."""
    mock: MockGetui = await make_mock(seed=1, http_5xx_rate=0.5)
    async with GetuiClient(settings_for(mock, attempts=12)) as client:
        for _ in range(4):
            await client.user_detail(CIDS)
    assert mock.stats().faults["http_5xx"] >= 1


async def test_retry_false_is_one_attempt(make_mock: MakeMock) -> None:
    """``retry=False`` hands the first 5xx to the caller."""
    mock = await make_mock(http_5xx_rate=1.0)
    async with GetuiClient(settings_for(mock), retry=False) as client:
        with pytest.raises(ServerError):
            await client.user_detail(CIDS)
    assert mock.stats().faults["http_5xx"] == 1


async def test_list_push_with_a_lost_reply_is_not_retried(make_mock: MakeMock) -> None:
    """A list chunk whose reply is lost after delivery is sent once: each cid delivered once."""
    mock = await make_mock(seed=2)
    async with GetuiClient(settings_for(mock, attempts=8)) as client:
        taskid = await client.create_list_message(MSG)
        mock.configure(reset_rate=1.0, reset_phase="after")
        with pytest.raises(TransportError):
            await client.push_list_cid(CIDS, taskid=taskid)
    assert mock.stats().faults["reset_after"] == 1
    assert {cid: mock.deliveries[cid] for cid in CIDS} == dict.fromkeys(CIDS, 1)


async def test_no_second_retry_layer_inside_call_with_retry() -> None:
    """Inside the engine's retry layer the client makes one attempt per call: never two layers."""
    fake = FakeGetui()
    answers = iter([Response(502, b"<html>bad gateway</html>"), reply(data={"validCids": {}})])
    fake.routes[("GET", f"/user/detail/{CIDS[0]}")] = lambda call: next(answers)
    async with GetuiClient(settings(), transport=fake.transport()) as client:
        with pytest.raises(ServerError):
            await call_with_retry(lambda: client.user_detail(CIDS[:1]), RetrySettings(max_attempts=1))
        # the same call made directly retries by itself
        assert (await client.user_detail(CIDS[:1])).invalid == []


def test_only_lost_replies_block_a_non_idempotent_retry() -> None:
    """Connect errors and Getui's own refusals are retried for a list push; lost replies are not."""
    lost = [
        TransportError("ServerDisconnectedError"),
        ServerError("HTTP 502, not a Getui reply", http_status=502),
    ]
    for exc in lost:
        assert reply_lost(exc)
        assert is_retryable(exc)
        assert not is_retryable(exc, idempotent=False)
    refused = [ConnectError("refused"), ServerError("busy", code=30019, http_status=500)]
    for exc in refused:
        assert not reply_lost(exc)
        assert is_retryable(exc, idempotent=False)


def test_an_oversized_reply_is_named_on_the_line() -> None:
    """The line for a reply over the cap says so, not 'HTTP 200 from Getui'."""
    exc = TransportError("reply larger than 4 MiB refused (POST)", http_status=200)
    assert _failure_text(exc) == "reply larger than 4 MiB refused (POST)"
