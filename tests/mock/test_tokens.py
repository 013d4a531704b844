"""The mock's /auth: signing, timestamp skew, the per-minute limit, token expiry and revocation."""

from __future__ import annotations

import pytest

from getui_async.mock import MockConfig
from tests.conftest import FakeClock, sign, single_body

pytestmark = pytest.mark.integration


async def test_auth_issues_a_token_that_expires_after_its_lifetime(make_mock, getui_http):
    """A signed /auth returns a token and expire_time = now + token_lifetime_s, in ms, as a string."""
    clock = FakeClock()
    mock = await make_mock(clock=clock, token_lifetime_s=3600)
    api = await getui_http(mock, login=False)
    reply = await api.auth(now_ms=int(clock.now * 1000))
    assert (reply.status, reply.code) == (200, 0)
    assert reply.data["expire_time"] == str(int((clock.now + 3600) * 1000))
    assert reply.content_type == "application/json;charset=UTF-8"
    assert mock.stats().tokens_issued == 1


async def test_auth_accepts_the_timestamp_as_a_json_number(mock_getui, getui_http):
    """The Java SDK sends the timestamp as a number; the signature covers its decimal digits."""
    api = await getui_http(mock_getui, login=False)
    ts = str(int(mock_getui.clock() * 1000))
    reply = await api.auth(timestamp=int(ts), sign=_sign(mock_getui, ts))
    assert reply.code == 0


def _sign(mock, ts: str) -> str:
    return sign(mock.app_key, ts, mock.master_secret)


@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        ({"sign": "0" * 64}, "sign is invalid"),
        ({"sign": None}, "sign is invalid"),
        ({"appkey": "other-key"}, "appkey is invalid"),
        ({"timestamp": "17950000000"}, "timestamp is invalid"),
        ({"timestamp": "abc"}, "timestamp is invalid"),
        ({"extra": 1}, "extra is invalid"),
    ],
)
async def test_auth_refuses_a_bad_request_with_20001(mock_getui, getui_http, overrides, msg):
    """A wrong signature, app key, malformed timestamp or unknown key is 400/20001 and issues nothing."""
    api = await getui_http(mock_getui, login=False)
    reply = await api.auth(**overrides)
    assert (reply.status, reply.code, reply.msg) == (400, 20001, msg)
    assert mock_getui.stats().tokens_issued == 0


async def test_auth_signature_must_be_lowercase_hex(mock_getui, getui_http):
    """An upper-case rendering of the right digest is refused: Getui signs in lowercase hex."""
    api = await getui_http(mock_getui, login=False)
    ts = str(int(mock_getui.clock() * 1000))
    reply = await api.auth(now_ms=int(ts), sign=_sign(mock_getui, ts).upper())
    assert reply.msg == "sign is invalid"


async def test_auth_refuses_a_timestamp_beyond_the_allowed_skew(make_mock, getui_http):
    """A correctly signed timestamp more than auth_max_skew_s away from now is 'timestamp is invalid'."""
    clock = FakeClock()
    mock = await make_mock(clock=clock, auth_max_skew_s=600)
    api = await getui_http(mock, login=False)
    assert (await api.auth(now_ms=int((clock.now - 599) * 1000))).code == 0
    late = await api.auth(now_ms=int((clock.now - 601) * 1000))
    assert (late.code, late.msg) == (20001, "timestamp is invalid")
    early = await api.auth(now_ms=int((clock.now + 601) * 1000))
    assert early.msg == "timestamp is invalid"


async def test_auth_over_the_per_minute_limit_is_10003_until_the_next_minute(make_mock, getui_http):
    """The (N+1)th /auth in one minute window is 401/10003; the next window allows N again."""
    clock = FakeClock(now=1_795_000_050.0)  # 30 s into a minute
    mock = await make_mock(clock=clock, auth_per_minute=2)
    api = await getui_http(mock, login=False)
    now_ms = int(clock.now * 1000)
    assert [(await api.auth(now_ms=now_ms)).code for _ in range(3)] == [0, 0, 10003]
    refused = await api.auth(now_ms=now_ms)
    assert refused.status == 401
    clock.advance(30)  # the next minute boundary, not 60 s after the first call
    assert (await api.auth(now_ms=int(clock.now * 1000))).code == 0
    assert mock.stats().auth_calls == 5
    assert mock.stats().rejections[10003] == 2


async def test_calls_without_a_live_token_are_401_10001(mock_getui, getui_http):
    """A missing or unknown token header is refused with 10001 before the body is looked at."""
    api = await getui_http(mock_getui)
    missing = await api.post("/push/single/cid", single_body(), token=None)
    unknown = await api.post("/push/single/cid", single_body(), token="not-a-token")
    assert (missing.status, missing.code) == (401, 10001)
    assert unknown.code == 10001
    assert mock_getui.deliveries == {}


async def test_a_token_stops_working_when_it_expires(make_mock, getui_http):
    """A token is live until now >= expire_time, then every call gets 10001."""
    clock = FakeClock()
    mock = await make_mock(clock=clock, token_lifetime_s=100)
    api = await getui_http(mock)
    clock.advance(99)
    assert (await api.post("/push/single/cid", single_body(request_id="req-live-0001"))).code == 0
    clock.advance(1)
    assert (await api.post("/push/single/cid", single_body(request_id="req-dead-0001"))).code == 10001


async def test_delete_auth_revokes_the_token(mock_getui, getui_http):
    """DELETE /auth/{token} answers 0 and the token is refused afterwards."""
    api = await getui_http(mock_getui)
    reply = await api.call("DELETE", f"/auth/{api.token}")
    assert (reply.code, "data" in reply.body) == (0, False)
    assert (await api.post("/push/single/cid", single_body())).code == 10001


async def test_tokens_are_revoked_at_each_period_boundary(make_mock, getui_http):
    """revoke_tokens_every_s kills every live token at each multiple of the period; new ones work."""
    clock = FakeClock(now=1_795_000_000.0)  # a multiple of 100 s
    mock = await make_mock(clock=clock, revoke_tokens_every_s=100)
    api = await getui_http(mock)
    clock.advance(99)
    assert (await api.post("/push/single/cid", single_body(request_id="req-before-01"))).code == 0
    clock.advance(1)
    assert (await api.post("/push/single/cid", single_body(request_id="req-after-001"))).code == 10001
    assert mock.stats().faults["tokens_revoked"] == 1
    await api.auth(now_ms=int(clock.now * 1000))
    assert (await api.post("/push/single/cid", single_body(request_id="req-after-001"))).code == 0


async def test_secrets_never_appear_in_replies_stats_or_repr(mock_getui, getui_http):
    """The app key and master secret are absent from every reply, the stats and the config repr."""
    api = await getui_http(mock_getui)
    bad = await api.auth(sign="0" * 64)
    stats, faults = await api.control("GET", "/stats"), await api.control("GET", "/faults")
    assert (bad.code, stats.code, faults.code) == (20001, 0, 0)
    assert faults.data["app_id"] == mock_getui.app_id
    texts = [str(bad.body), str(stats.body), str(faults.body), repr(mock_getui.config), repr(MockConfig())]
    for text in texts:
        assert mock_getui.app_key not in text
        assert mock_getui.master_secret not in text
