"""Shared fixtures: the bundled mock Getui server, and a plain aiohttp caller for the mock's own tests.

``mock_getui`` is a started mock with the default config; ``make_mock(**config)`` starts more (all are
stopped at teardown), optionally on a :class:`FakeClock`. The mock's own tests talk to it through
:class:`GetuiHttp`, raw aiohttp and hand-built bodies, never through our client.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from getui_async import _json
from getui_async.mock import MockConfig, MockGetui
from tests.cli_harness import ThreadedMock
from tests.components import Postgres, Pushgateway, postgres_server, pushgateway_server
from tests.results_file import read_results

MakeMock = Callable[..., Awaitable[MockGetui]]


class FakeClock:
    """A wall clock (seconds since the epoch) that moves only when a test says so."""

    def __init__(self, now: float = 1_795_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def mock_getui() -> AsyncIterator[MockGetui]:
    """A started mock on 127.0.0.1 (a free port) with the default config."""
    async with MockGetui(MockConfig()) as mock:
        yield mock


@pytest.fixture
async def make_mock() -> AsyncIterator[MakeMock]:
    """``await make_mock(clock=None, **config)`` starts a mock; every one is stopped at teardown."""
    started: list[MockGetui] = []

    async def make(*, clock: Callable[[], float] | None = None, **config: Any) -> MockGetui:
        mock = MockGetui(MockConfig(**config), clock=clock or time.time)
        await mock.start()
        started.append(mock)
        return mock

    yield make
    for mock in started:
        await mock.stop()


@pytest.fixture
def served() -> Iterator[ThreadedMock]:
    """A default mock served from its own thread, for in-process and subprocess CLI runs."""
    with ThreadedMock() as served:
        yield served


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where a CLI test writes its results file."""
    return tmp_path / "results.jsonl"


@pytest.fixture
def results_lines() -> Callable[[Path], list[dict[str, Any]]]:
    """The shared reader of a results file (see :mod:`tests.results_file`), as a fixture."""
    return read_results


# --- a plain HTTP caller for the mock's tests ---------------------------------------------------------


def sign(app_key: str, timestamp: str, master_secret: str) -> str:
    """Getui's auth signature: lowercase hex sha256(appkey + timestamp + mastersecret)."""
    return hashlib.sha256((app_key + timestamp + master_secret).encode()).hexdigest()


@dataclass
class Reply:
    """An HTTP reply: status, content type and the decoded envelope (or the text when not JSON)."""

    status: int
    content_type: str
    body: Any

    @property
    def code(self) -> int:
        return int(self.body["code"])

    @property
    def msg(self) -> str:
        return str(self.body["msg"])

    @property
    def data(self) -> Any:
        return self.body["data"]


class GetuiHttp:
    """Raw calls to a mock: ``await api.post("/push/single/cid", body)`` -> :class:`Reply`."""

    def __init__(self, session: aiohttp.ClientSession, mock: MockGetui) -> None:
        self.session = session
        self.mock = mock
        self.base = mock.base_url
        self.token: str | None = None

    async def auth(self, *, now_ms: int | None = None, **overrides: Any) -> Reply:
        """POST /auth with a correct signature (unless overridden); keeps the token on success."""
        ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
        body = {"sign": sign(self.mock.app_key, ts, self.mock.master_secret), "timestamp": ts}
        body["appkey"] = self.mock.app_key
        body.update(overrides)
        reply = await self.call("POST", "/auth", body, token=None)
        if isinstance(reply.body, dict) and reply.code == 0:
            self.token = reply.data["token"]
        return reply

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | bool | None = True,
        raw: bytes | None = None,
        base: str | None = None,
        timeout_s: float = 10.0,
    ) -> Reply:
        """One request under ``{base}/{app_id}``; ``token=True`` sends the kept token."""
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        sent = self.token if token is True else token
        if isinstance(sent, str):
            headers["token"] = sent
        data = raw if raw is not None else (None if body is None else _json.dumps(body))
        url = f"{base or self.base}/{self.mock.app_id}{path}"
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with self.session.request(method, url, data=data, headers=headers, timeout=timeout) as resp:
            return await _reply(resp)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.call("POST", path, body, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def control(self, method: str, path: str, body: Any = None) -> Reply:
        """A call to the mock's control API (``/_mock/...``)."""
        data = None if body is None else _json.dumps(body)
        async with self.session.request(method, f"{self.mock.url}/_mock{path}", data=data) as resp:
            return await _reply(resp)


async def _reply(resp: aiohttp.ClientResponse) -> Reply:
    raw = await resp.read()
    try:
        body = _json.loads(raw)
    except _json.JSONDecodeError:
        body = raw.decode(errors="replace")
    return Reply(resp.status, resp.headers.get("Content-Type", ""), body)


@pytest.fixture
async def getui_http() -> AsyncIterator[Callable[..., Awaitable[GetuiHttp]]]:
    """``api = await getui_http(mock, login=True)``: a raw caller, authenticated unless told not to."""
    async with aiohttp.ClientSession() as session:

        async def make(mock: MockGetui, *, login: bool = True) -> GetuiHttp:
            api = GetuiHttp(session, mock)
            if login:
                reply = await api.auth(now_ms=int(mock.clock() * 1000))
                assert reply.code == 0, reply.body
            return api

        yield make


# --- hand-built request bodies (from docs/getui-api.md, not from our client) ----------------------------


def notification(**overrides: Any) -> dict[str, Any]:
    """A valid ``push_message.notification``."""
    return {"title": "Hello", "body": "World", "click_type": "startapp", **overrides}


def single_body(cid: str = "cid-0001", request_id: str = "req-000000001", **overrides: Any) -> dict[str, Any]:
    """A valid ``/push/single/cid`` body."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "audience": {"cid": [cid]},
        "push_message": {"notification": notification()},
    }
    body.update(overrides)
    return body


def alias_body(alias: str, request_id: str = "req-alias-0001") -> dict[str, Any]:
    """A valid ``/push/single/alias`` body."""
    return single_body(request_id=request_id, audience={"alias": [alias]})


def list_message_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``/push/list/message`` body."""
    body: dict[str, Any] = {"request_id": "list-msg-0001", "push_message": {"notification": notification()}}
    body.update(overrides)
    return body


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``GETUI_TEST_NO_SKIP=1`` (``.ci/run`` sets it) a skipped test fails: CI must run every test.

    A test skips locally when a real component it starts (Chromium, PostgreSQL, a Pushgateway) is missing,
    saying how to get it; CI installs them all, so a skip there means something is wrong.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("GETUI_TEST_NO_SKIP") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but GETUI_TEST_NO_SKIP=1 forbids skips: {reason}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session (Debian's package, in a temporary directory)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    """A real Prometheus Pushgateway for one test (Debian's package, on a free port)."""
    with pushgateway_server() as server:
        yield server
