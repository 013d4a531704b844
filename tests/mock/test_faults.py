"""The mock's fault injection: seeded, runtime-configurable, before or after the endpoint."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import FakeClock, single_body

pytestmark = pytest.mark.integration

PUSH = "/push/single/cid"


async def test_http_5xx_is_not_json_and_not_processed(make_mock, getui_http):
    """http_5xx_rate=1: a 500/502/503 with a non-JSON body, and nothing delivered."""
    mock = await make_mock(http_5xx_rate=1.0)
    api = await getui_http(mock)  # /auth is exempt from faults by default
    reply = await api.post(PUSH, single_body())
    assert reply.status in (500, 502, 503)
    assert isinstance(reply.body, str)
    assert mock.deliveries == {}
    assert mock.stats().faults["http_5xx"] == 1


async def test_faults_on_auth_applies_faults_to_auth(make_mock, getui_http):
    """With faults_on_auth the /auth route gets the same faults."""
    mock = await make_mock(http_5xx_rate=1.0, faults_on_auth=True)
    api = await getui_http(mock, login=False)
    assert (await api.auth()).status in (500, 502, 503)


@pytest.mark.parametrize(("phase", "delivered"), [("before", {}), ("after", {"cid-0001": 1})])
async def test_reset_closes_the_connection_without_a_reply(make_mock, getui_http, phase, delivered):
    """reset_rate=1: the client sees a disconnect; 'after' has delivered first, 'before' has not."""
    mock = await make_mock(reset_rate=1.0, reset_phase=phase)
    api = await getui_http(mock)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post(PUSH, single_body())
    assert dict(mock.deliveries) == delivered
    assert mock.stats().faults[f"reset_{phase}"] == 1


@pytest.mark.parametrize(("phase", "delivered"), [("before", {}), ("after", {"cid-0001": 1})])
async def test_hang_outlasts_the_client_timeout(make_mock, getui_http, phase, delivered):
    """hang_rate=1: no reply within the client's timeout; 'after' has delivered, 'before' has not."""
    mock = await make_mock(hang_rate=1.0, hang_phase=phase, hang_s=30.0)
    api = await getui_http(mock)
    with pytest.raises(asyncio.TimeoutError):
        await api.post(PUSH, single_body(), timeout_s=0.2)
    assert dict(mock.deliveries) == delivered
    assert mock.stats().faults[f"hang_{phase}"] == 1


async def test_stop_releases_hanging_requests(make_mock, getui_http):
    """Stopping the server does not wait out hang_s."""
    mock = await make_mock(hang_rate=1.0, hang_s=60.0)
    api = await getui_http(mock)
    pending = asyncio.ensure_future(api.post(PUSH, single_body()))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(mock.stop(), timeout=10)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pending


async def test_throttle_refuses_requests_beyond_the_window(make_mock, getui_http):
    """throttle_per_window=N: request N+1 in a wall-clock-aligned window gets throttle_code, unprocessed."""
    clock = FakeClock(now=1_795_000_000.5)  # mid-window: the window ends at the next whole second
    mock = await make_mock(clock=clock, throttle_per_window=2, throttle_window_s=1.0)
    api = await getui_http(mock)
    codes = [(await api.post(PUSH, single_body(request_id=f"req-throttle-{n}"))).code for n in range(3)]
    assert codes == [0, 0, 10005]
    clock.advance(0.5)
    assert (await api.post(PUSH, single_body(request_id="req-throttle-2"))).code == 0
    assert (mock.stats().throttled, len(mock.deliveries)) == (1, 1)
    assert mock.stats().deliveries == 3


async def test_throttle_code_is_configurable(make_mock, getui_http):
    """throttle_code=30015 answers with 403, as the code table says."""
    mock = await make_mock(throttle_per_window=1, throttle_code=30015)
    api = await getui_http(mock)
    await api.post(PUSH, single_body(request_id="req-throttle-0"))
    reply = await api.post(PUSH, single_body(request_id="req-throttle-1"))
    assert (reply.status, reply.code) == (403, 30015)


async def test_busy_is_403_30019_and_not_processed(make_mock, getui_http):
    """busy_rate=1: 403/30019 and nothing delivered."""
    mock = await make_mock(busy_rate=1.0)
    api = await getui_http(mock)
    reply = await api.post(PUSH, single_body())
    assert (reply.status, reply.code) == (403, 30019)
    assert mock.deliveries == {}


async def test_host_change_answers_301_and_serves_the_alternate_host(make_mock, getui_http):
    """host_change: /v2/ answers 301 with host_list -> /alt/v2, where the same token and API work."""
    mock = await make_mock(host_change=True)
    api = await getui_http(mock)
    moved = await api.post(PUSH, single_body())
    assert (moved.status, moved.code) == (200, 301)
    [host] = moved.data["host_list"]
    assert host["domain_list"] == [mock.alt_base_url]
    assert moved.data["domain_hash"]
    assert mock.deliveries == {}
    served = await api.post(PUSH, single_body(), base=host["domain_list"][0])
    assert served.code == 0
    assert mock.stats().faults["host_change"] == 1


async def test_latency_delays_the_reply(make_mock, getui_http):
    """latency_ms holds every reply back at least that long."""
    mock = await make_mock(latency_ms=50)
    api = await getui_http(mock)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.post(PUSH, single_body())
    assert loop.time() - started >= 0.05


async def test_faults_are_seeded(make_mock, getui_http):
    """The same seed and the same request sequence inject the same faults."""

    async def pattern(seed: int) -> list[int]:
        api = await getui_http(await make_mock(seed=seed, http_5xx_rate=0.5))
        return [
            (await api.post(PUSH, single_body(request_id=f"req-seeded-{n:03d}"))).status for n in range(24)
        ]

    first = await pattern(7)
    assert first == await pattern(7)
    assert 200 in first
    assert set(first) - {200}  # some faults, some successes
