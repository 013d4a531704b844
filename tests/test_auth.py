"""Token manager: signing, single-flight refresh, proactive refresh, auth rate, clear failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from getui_async.auth import TokenManager
from getui_async.client import GetuiClient
from getui_async.config import Credentials
from getui_async.errors import FatalApiError, RateLimitedError, TransportError
from getui_async.events import TokenRefreshed
from tests.fakes import APP_ID, APP_KEY, MASTER_SECRET, Call, FakeGetui, reply, settings

CREDS = Credentials(app_id=APP_ID, app_key=APP_KEY, master_secret=MASTER_SECRET)


class Clock:
    """A wall clock in ms that tests move by hand."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def manager(
    replies: list[dict[str, Any] | Exception], clock: Clock, **kwargs: Any
) -> tuple[TokenManager, list[dict[str, Any]]]:
    """A TokenManager whose /auth answers from ``replies`` in order, recording the bodies."""
    bodies: list[dict[str, Any]] = []

    async def post_auth(body: Any) -> Any:
        bodies.append(dict(body))
        item = replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return TokenManager(CREDS, post_auth, clock_ms=clock, **kwargs), bodies


def token_data(token: str, expires_ms: int) -> dict[str, Any]:
    return {"token": token, "expire_time": str(expires_ms)}


async def test_sign_matches_known_vector() -> None:
    """sign = sha256(appkey + timestamp + mastersecret), checked against a vector made with sha256sum."""
    clock = Clock(1_700_000_000_000)
    tm, bodies = manager([token_data("t1", clock.now_ms + 86_400_000)], clock)
    await tm.get()
    assert bodies == [
        {
            "sign": "d5653b1cd3819075fc3c2e824022bf75e7e1b6eb684e6366ab4b2435ddf8c56d",
            "timestamp": "1700000000000",
            "appkey": APP_KEY,
        }
    ]


async def test_token_is_reused_until_the_margin() -> None:
    """get() returns the same token without /auth until expire_time minus the margin."""
    clock = Clock()
    exp = clock.now_ms + 3_600_000
    tm, bodies = manager(
        [token_data("t1", exp), token_data("t2", exp + 3_600_000)], clock, refresh_margin_s=600
    )
    first = await tm.get()
    clock.now_ms = exp - 600_001
    assert await tm.get() is first
    assert len(bodies) == 1
    clock.now_ms = exp - 599_999  # inside the margin: proactive refresh, before expiry
    second = await tm.get()
    assert second.value.reveal() == "t2"
    assert second.generation == first.generation + 1
    assert len(bodies) == 2


async def test_concurrent_refresh_is_single_flight() -> None:
    """Many coroutines refreshing the same stale generation cause exactly one /auth call."""
    clock = Clock()
    exp = clock.now_ms + 86_400_000
    tm, bodies = manager([token_data("t1", exp), token_data("t2", exp)], clock)
    stale = await tm.get()
    results = await asyncio.gather(*(tm.refresh(stale) for _ in range(500)))
    assert len(bodies) == 2
    assert {r.value.reveal() for r in results} == {"t2"}


async def test_failed_auth_is_a_clear_error_without_secrets() -> None:
    """A refused sign becomes FatalApiError naming what to check, and never the secrets."""
    from getui_async.errors import RejectedError

    clock = Clock()
    tm, _ = manager([RejectedError("sign is invalid", code=20001, http_status=400)], clock)
    with pytest.raises(FatalApiError) as info:
        await tm.get()
    text = str(info.value)
    assert "GETUI_MASTER_SECRET" in text
    assert "sign is invalid" in text
    assert APP_KEY not in text
    assert MASTER_SECRET not in text


async def test_auth_without_token_is_fatal() -> None:
    """An /auth reply without a token is an error, not a None token."""
    tm, _ = manager([{"expire_time": "1"}], Clock())
    with pytest.raises(FatalApiError, match="without a token"):
        await tm.get()


async def test_proactive_failure_keeps_the_valid_token() -> None:
    """If a refresh inside the margin fails, the still-valid token is used and retried later."""
    clock = Clock()
    exp = clock.now_ms + 3_600_000
    tm, bodies = manager(
        [token_data("t1", exp), TransportError("reset"), token_data("t2", exp + 86_400_000)],
        clock,
        refresh_margin_s=600,
    )
    first = await tm.get()
    clock.now_ms = exp - 300_000
    assert await tm.get() is first  # refresh failed; old token still valid
    assert await tm.get() is first  # no new /auth call right away
    assert len(bodies) == 2
    clock.now_ms += 31_000
    assert (await tm.get()).value.reveal() == "t2"


async def test_expired_token_refresh_failure_raises() -> None:
    """Past expiry there is nothing to fall back on: the failure propagates."""
    clock = Clock()
    tm, _ = manager(
        [token_data("t1", clock.now_ms + 120_000), TransportError("reset")], clock, refresh_margin_s=0
    )
    await tm.get()
    clock.now_ms += 121_000
    with pytest.raises(TransportError):
        await tm.get()


async def test_token_expiring_at_once_is_still_used_a_while() -> None:
    """A token whose expire_time is already inside the margin (clock skew) is not refreshed per request."""
    clock = Clock()
    tm, bodies = manager([token_data("t1", clock.now_ms - 5000), token_data("t2", clock.now_ms)], clock)
    first = await tm.get()
    clock.now_ms += 59_000
    assert await tm.get() is first
    assert len(bodies) == 1


async def test_auth_rate_is_respected() -> None:
    """The (N+1)th /auth call within a minute waits until the window allows it."""
    clock = Clock()
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        clock.now_ms += int(s * 1000)

    replies: list[dict[str, Any] | Exception] = [
        token_data(f"t{i}", clock.now_ms + 86_400_000) for i in range(4)
    ]
    tm, bodies = manager(replies, clock, calls_per_min=3, sleep=fake_sleep)
    token = await tm.get()
    for _ in range(3):
        clock.now_ms += 1000
        token = await tm.refresh(token)
    assert len(bodies) == 4
    assert slept == [pytest.approx(57.0)]
    stamps = [int(b["timestamp"]) for b in bodies]
    assert stamps[3] - stamps[0] >= 60_000


async def test_rate_limited_auth_propagates() -> None:
    """10003 from /auth is a RateLimitedError (wait for the window), not a credentials failure."""
    tm, _ = manager([RateLimitedError("auth limit", code=10003)], Clock())
    with pytest.raises(RateLimitedError):
        await tm.get()


async def test_200_concurrent_10001_replies_cause_one_auth_call() -> None:
    """N=200 requests all refused with 10001 lead to exactly one /auth call, and all then succeed."""
    fake = FakeGetui()
    events: list[Any] = []
    fake.routes[("GET", "/report/push/count")] = lambda call: reply(data={"ok": call.token})
    async with GetuiClient(settings(), transport=fake.transport(), observers=[events.append]) as client:
        await client.report_push_count()
        assert fake.auth_calls == 1
        fake.revoke_all()  # every request in flight now gets 10001
        fake.auth_delay_s = 0.01
        results = await asyncio.gather(*(client.report_push_count() for _ in range(200)))
    assert fake.auth_calls == 2
    assert len(results) == 200
    assert len({r["ok"] for r in results}) == 1
    refreshed = [e for e in events if isinstance(e, TokenRefreshed)]
    assert [e.generation for e in refreshed] == [1, 2]


async def test_revoked_twice_in_a_row_raises_token_expired() -> None:
    """The client replays a 10001 once; a second 10001 surfaces for the retry policy (here: none)."""
    from getui_async.errors import TokenExpiredError

    fake = FakeGetui()
    fake.routes[("GET", "/report/push/count")] = lambda call: reply(10001, "token expired")
    async with GetuiClient(settings(), transport=fake.transport(), retry=False) as client:
        with pytest.raises(TokenExpiredError):
            await client.report_push_count()
    assert fake.auth_calls == 2


async def test_token_deleted_on_close_when_asked() -> None:
    """delete_token_on_close sends DELETE /auth/{token} with the token."""
    fake = FakeGetui()
    deleted: list[Call] = []
    fake.routes[("GET", "/report/push/count")] = lambda call: reply(data={})

    def delete(call: Call) -> Any:
        deleted.append(call)
        return reply()

    async with GetuiClient(settings(delete_token_on_close=True), transport=fake.transport()) as client:
        await client.report_push_count()
        token = client.tokens.current
        assert token is not None
        fake.routes[("DELETE", f"/auth/{token.value.reveal()}")] = delete
    assert len(deleted) == 1
