"""A scriptable fake of Getui for unit tests through :class:`~getui_async.transport.MockTransport`.

It issues tokens on ``/auth``, refuses unknown tokens with ``10001``, and answers every other path from a
per-test route table. Every request is recorded with its decoded JSON body, so tests assert exact bodies.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from getui_async import _json
from getui_async.auth import wall_clock_ms
from getui_async.config import Credentials, RetrySettings, Settings
from getui_async.transport import MockTransport, Request, Response

APP_ID = "unit-app"
APP_KEY = "unit-app-key-7f3a9c"
MASTER_SECRET = "unit-master-secret-51bd02"
BASE = "https://restapi.example.test/v2"
PREFIX = f"{BASE}/{APP_ID}"

Route = Callable[["Call"], "Response | Awaitable[Response]"]


def settings(**overrides: Any) -> Settings:
    """Settings for the fake app, with zero retry waits."""
    values: dict[str, Any] = {
        "credentials": Credentials(app_id=APP_ID, app_key=APP_KEY, master_secret=MASTER_SECRET),
        "base_url": BASE,
        "retry": RetrySettings(zero_waits=True),
    }
    values.update(overrides)
    return Settings(**values)


def reply(code: int = 0, msg: str = "success", data: Any = None, *, status: int | None = None) -> Response:
    """A Getui envelope with the HTTP status of the code table unless given."""
    if status is None:
        status = 200 if code in (0, 1, 2, 301) else {1: 401, 2: 400, 3: 403}.get(code // 10000, 400)
    env: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        env["data"] = data
    return Response(status, _json.dumps(env))


@dataclass
class Call:
    """One recorded request: method, path after the app prefix, token header, decoded body."""

    method: str
    path: str
    token: str | None
    body: Any
    url: str


@dataclass
class FakeGetui:
    """Route table + token issuing. ``routes[(method, path)]`` answers that exact path."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    auth_calls: int = 0
    auth_delay_s: float = 0.0
    auth_reply: Callable[[Call], Response] | None = None
    expire_in_ms: int = 86_400_000
    now_ms: Callable[[], int] = wall_clock_ms
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def transport(self) -> MockTransport:
        return MockTransport(self)

    def path_calls(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    async def __call__(self, request: Request) -> Response:
        _, _, path = request.url.partition(f"/{APP_ID}")
        body = _json.loads(request.body) if request.body else None
        call = Call(request.method, path, request.headers.get("token"), body, request.url)
        self.calls.append(call)
        if path == "/auth" and request.method == "POST":
            return await self._auth(call)
        if call.token not in self.valid_tokens:
            return reply(10001, "token expired or invalid")
        route = self.routes.get((request.method, path))
        if route is None:
            return Response(404, b"not found")
        result = route(call)
        if not isinstance(result, Response):
            result = await result
        return result

    async def _auth(self, call: Call) -> Response:
        self.auth_calls += 1
        if self.auth_delay_s:
            await asyncio.sleep(self.auth_delay_s)
        if self.auth_reply is not None:
            return self.auth_reply(call)
        token = f"tok-{next(self._counter)}-{'x' * 20}"
        self.valid_tokens.add(token)
        return reply(data={"expire_time": str(self.now_ms() + self.expire_in_ms), "token": token})

    def revoke_all(self) -> None:
        self.valid_tokens.clear()
