"""The mock's routes and the one path every request takes through them.

Request flow (:meth:`Router.dispatch`)::

    count -> [latency, 301, 5xx, reset/hang "before", throttle, busy] -> appid -> token -> body
          -> endpoint (validate, dedupe, quota, deliver) -> [reset/hang "after"] -> envelope

Bracketed steps apply to push/user/report routes (and to /auth with ``faults_on_auth``). Endpoint
handlers are synchronous: all state changes happen between two awaits of one event loop, so no locks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from .faults import Faults
from .pushes import Pushes
from .queries import Queries
from .state import Live
from .tokens import TokenDesk
from .validate import Invalid
from .wire import ALT_PREFIX, NO_DATA, PRIMARY_PREFIX, Call, Refusal, Reply, envelope, read_json

__all__ = ["Handler", "Route", "RouteKind", "Router", "getui_routes"]

#: ``auth``: /auth (no token); ``api``: token-checked Getui endpoints; ``control``: the mock's /_mock.
RouteKind = Literal["auth", "api", "control"]
Handler = Callable[[Call], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # relative to /v2/{appid} (or absolute for control routes)
    handler: Handler
    kind: RouteKind
    has_body: bool

    @property
    def name(self) -> str:
        return self.path.lstrip("/")

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


class Router:
    """Mounts routes on an app and carries each request through faults, appid, token and body checks."""

    __slots__ = ("_faults", "_live", "_tokens")

    def __init__(self, live: Live, faults: Faults, tokens: TokenDesk) -> None:
        self._live = live
        self._faults = faults
        self._tokens = tokens

    def mount(self, app: web.Application, routes: list[Route]) -> None:
        """Getui's routes under both API prefixes (``/v2`` and the 301 target); control routes as they are."""
        for route in routes:
            if route.kind == "control":
                app.router.add_route(route.method, route.path, self._handler(route))
                continue
            for prefix in (PRIMARY_PREFIX, ALT_PREFIX):
                app.router.add_route(route.method, f"{prefix}/{{appid}}{route.path}", self._handler(route))

    def _handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if route.kind == "control":
                return await self._control(request, route)
            return await self.dispatch(request, route)

        return handle

    async def dispatch(self, request: web.Request, route: Route) -> web.StreamResponse:
        """One Getui request, in the order the module docstring draws."""
        live = self._live
        cfg = live.config
        live.counters.requests[route.key] += 1
        faultable = route.kind == "api" or cfg.faults_on_auth
        if faultable:
            early = await self._faults.before(request)
            if early is not None:
                return early
        try:
            if request.match_info["appid"] != cfg.app_id:
                raise Refusal(404, "appId is invalid")
            now = live.clock()
            if route.kind == "api":
                self._tokens.check(request.headers.get("token"), now)
            body = await read_json(request) if route.has_body else None
            code, msg, data = route.handler(Call(request.match_info, body, now, route.name))
            if route.has_body and code == 0 and route.kind == "api":  # never /auth: it carries the app key
                live.requests.add(route.name, body)
        except Refusal as refusal:
            code, msg, data = refusal.code, refusal.msg, refusal.data
        except Invalid as invalid:
            code, msg, data = 20001, invalid.msg, NO_DATA
        if faultable:
            lost = await self._faults.after(request)
            if lost is not None:
                return lost
        return envelope(code, msg, data, rejections=live.counters.rejections)

    async def _control(self, request: web.Request, route: Route) -> web.StreamResponse:
        """A ``/_mock`` request: no faults, no counting, query parameters merged into ``params``."""
        try:
            body = await read_json(request) if route.has_body else None
            params = {**request.match_info, **request.query}
            code, msg, data = route.handler(Call(params, body, self._live.clock(), route.name))
        except Refusal as refusal:
            code, msg, data = refusal.code, refusal.msg, refusal.data
        return envelope(code, msg, data)


def getui_routes(sign_in: Handler, tokens: TokenDesk, pushes: Pushes, queries: Queries) -> list[Route]:
    """Getui's endpoints the mock serves, relative to ``/v2/{appid}``; ``sign_in`` answers ``POST /auth``."""
    table: list[tuple[str, str, Handler, RouteKind]] = [
        ("POST", "/auth", sign_in, "auth"),
        ("DELETE", "/auth/{token}", tokens.sign_out, "auth"),
        ("POST", "/push/single/cid", pushes.single_cid, "api"),
        ("POST", "/push/single/alias", pushes.single_alias, "api"),
        ("POST", "/push/single/batch/cid", pushes.batch_cid, "api"),
        ("POST", "/push/single/batch/alias", pushes.batch_alias, "api"),
        ("POST", "/push/list/message", pushes.list_message, "api"),
        ("POST", "/push/list/cid", pushes.list_cid, "api"),
        ("POST", "/push/list/alias", pushes.list_alias, "api"),
        ("DELETE", "/task/{taskid}", pushes.task_stop, "api"),
        ("GET", "/user/status/{cids}", queries.user_status, "api"),
        ("GET", "/user/detail/{cids}", queries.user_detail, "api"),
        ("GET", "/report/push/task/{taskids}", queries.report_tasks, "api"),
        ("GET", "/report/push/task_group/{group_name}", queries.report_group, "api"),
        ("GET", "/report/push/count", queries.report_count, "api"),
    ]
    return [
        Route(method, path, handler, kind, has_body=method == "POST") for method, path, handler, kind in table
    ]
