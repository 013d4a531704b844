"""The mock Getui REST v2 server: strict validation, observable deliveries and seeded fault injection.

Request flow (one place, :meth:`MockGetui._dispatch`)::

    count -> [latency, 301, 5xx, reset/hang "before", throttle, busy] -> appid -> token -> body
          -> endpoint (validate, dedupe, quota, deliver) -> [reset/hang "after"] -> envelope

Bracketed steps apply to push/user/report routes (and to /auth with ``faults_on_auth``). Endpoint
handlers are synchronous: all state changes happen between two awaits of one event loop, so no locks.
It imports nothing from getui_async but ``_json``, so it cannot share a bug with our client.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import itertools
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiohttp import web

from getui_async import _json

from .config import FIXED_AT_START, MockConfig
from .reports import VENDOR_CHANNELS, Figures
from .state import Counters, Delivery, DeliveryStore, MockStats, RequestLog, pack_delivery
from .validate import (
    Invalid,
    Message,
    validate_batch,
    validate_list_message,
    validate_list_push,
    validate_single,
)

__all__ = ["MockGetui"]

PRIMARY_PREFIX: Final = "/v2"
ALT_PREFIX: Final = "/alt/v2"
CONTROL_PREFIX: Final = "/_mock"
USER_QUERY_LIMIT: Final = 1000
REPORT_QUERY_LIMIT: Final = 200
BEIJING_OFFSET_S: Final = 8 * 3600  # quota days and task-id dates follow Getui's clock (UTC+8)

_JSON_HEADERS: Final = {"Content-Type": "application/json;charset=UTF-8"}
_NO_DATA: Final[Any] = object()
#: The longest request line the mock reads (a 1,000-cid user/detail path, with room to spare).
MAX_REQUEST_LINE: Final = 64 * 1024
_STATUSES: Final = ("successed_online", "successed_offline", "successed_ignore")
_MESSAGES: Final = {
    10001: "token is invalid or expired",
    10003: "auth calls per minute over limit",
    10005: "request frequency over limit",
    30008: "list push count over the daily total",
    30009: "push count over the daily total",
    30015: "list push per minute over limit",
    30019: "system busy, please retry later",
}

Kind = Literal["auth", "api", "control"]
Reply = tuple[int, str, Any]


class _Refusal(Exception):
    """A non-zero envelope raised from deep inside a handler."""

    def __init__(self, code: int, msg: str | None = None, data: Any = _NO_DATA) -> None:
        super().__init__(code)
        self.code = code
        self.msg = msg if msg is not None else _MESSAGES.get(code, "request refused")
        self.data = data


@dataclass(slots=True)
class _Call:
    """What an endpoint handler gets."""

    params: Mapping[str, str]
    body: Any
    now: float
    endpoint: str


@dataclass(slots=True)
class _ListTask:
    """A list message (``/push/list/message``) reusable until ``expires_at`` or a stop."""

    message: Message
    expires_at: float
    stopped: bool = False
    records: dict[str, bytes] = field(default_factory=dict)  # endpoint -> shared delivery record
    figures: Figures = field(default_factory=Figures)


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    path: str  # relative to /v2/{appid} (or absolute for control routes)
    handler: Callable[[_Call], Reply]
    kind: Kind
    has_body: bool

    @property
    def name(self) -> str:
        return self.path.lstrip("/")

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def http_status(code: int) -> int:
    """Getui's code table: 0/1/2/301 -> 200, 1xxxx -> 401, 2xxxx -> 400, 3xxxx -> 403, else the code."""
    if code in (0, 1, 2, 301):
        return 200
    return {1: 401, 2: 400, 3: 403}.get(code // 10_000, code if 100 <= code < 600 else 400)


class MockGetui:
    """A local Getui on 127.0.0.1: ``async with MockGetui(MockConfig(...)) as mock: mock.base_url``.

    ``clock`` (seconds since the epoch) drives token expiry, auth skew, rate windows, token revocation,
    quota days and list-task lifetimes, so tests can move time without sleeping.
    """

    def __init__(self, config: MockConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._config = config if config is not None else MockConfig()
        self._clock = clock
        self._rng = random.Random(self._config.seed)
        self._hash_key = _hash_key(self._config.seed)
        self._nonce = secrets.token_hex(4)
        self._seq = itertools.count(1)
        self._store = DeliveryStore()
        self._counters = Counters()
        self._tokens: dict[str, float] = {}  # token -> expiry (clock seconds)
        self._tasks: dict[str, _ListTask] = {}
        self._seen_request_ids: set[str] = set()
        self._auth_window = (0, 0)  # (minute index, calls)
        self._throttle_window = (0, 0)  # (window index, requests)
        self._revoke_epoch: int | None = None
        self._quota = (0, 0)  # (day index, recipients used)
        self._pushed: Counter[str] = Counter()  # today's recipients by kind ("app", "list")
        self._groups: dict[str, Figures] = {}  # group_name -> figures of every push in it
        self._requests = RequestLog(self._config.record_bodies)
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None  # made in start(), inside the running loop
        self._port: int | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; the port is known once this returns."""
        if self._runner is not None:
            raise RuntimeError("the mock server is already started")
        cfg = self._config
        self._closing = asyncio.Event()
        host = cfg.host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, cfg.port), family=family, backlog=1024)
        self._port = sock.getsockname()[1]
        app = web.Application(client_max_size=16 * 1024 * 1024)
        self._add_routes(app)
        # A user/detail path names up to 1,000 cids (~33 KB): aiohttp's 8 KiB request-line default
        # would answer 400 where Getui answers the look-up.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, max_line_size=MAX_REQUEST_LINE)
        await runner.setup()
        try:
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; hanging requests are released at once. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._closing is not None:
            self._closing.set()
        await runner.cleanup()

    async def __aenter__(self) -> MockGetui:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- public view ----------------------------------------------------------------------------

    @property
    def config(self) -> MockConfig:
        return self._config

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the mock's time rules follow (seconds since the epoch)."""
        return self._clock

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the mock server is not started")
        return self._port

    @property
    def url(self) -> str:
        """The server root (the control endpoints live under ``/_mock``)."""
        host = self._config.host.strip("[]")
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The client's base URL; the client calls ``{base_url}/{app_id}/...``."""
        return self.url + PRIMARY_PREFIX

    @property
    def alt_base_url(self) -> str:
        """Where the API is also served: the target of the ``host_change`` 301."""
        return self.url + ALT_PREFIX

    @property
    def app_id(self) -> str:
        return self._config.app_id

    @property
    def app_key(self) -> str:
        return self._config.app_key

    @property
    def master_secret(self) -> str:
        return self._config.master_secret

    @property
    def deliveries(self) -> Mapping[str, int]:
        """``cid -> number of deliveries`` (a live read-only view)."""
        return self._store.counts()

    def delivery_log(self, cid: str) -> list[Delivery]:
        """Every delivery to ``cid``, oldest first."""
        return self._store.log(cid)

    def accepted_bodies(self, endpoint: str) -> list[Any]:
        """The last ``record_bodies`` bodies ``endpoint`` (``"push/single/cid"``) accepted, oldest first."""
        return self._requests.bodies(endpoint)

    def stats(self) -> MockStats:
        return self._counters.snapshot(self._store, self._quota[1])

    def configure(self, **changes: Any) -> MockConfig:
        """Change settings at runtime (faults, policies, limits); validated like the constructor."""
        fixed = FIXED_AT_START & changes.keys()
        if fixed and self._runner is not None:
            raise ValueError(f"{', '.join(sorted(fixed))} cannot change while serving")
        old, new = self._config, dataclasses.replace(self._config, **changes)
        self._config = new
        if new.seed != old.seed:
            self._rng = random.Random(new.seed)
            self._hash_key = _hash_key(new.seed)
        if new.revoke_tokens_every_s != old.revoke_tokens_every_s:
            self._revoke_epoch = None
        if new.record_bodies != old.record_bodies:
            self._requests = RequestLog(new.record_bodies)
        return new

    def reset(self) -> None:
        """Forget deliveries, seen request_ids, counters and rate/quota usage (tokens and tasks stay)."""
        self._store.clear()
        self._counters = Counters()
        self._seen_request_ids.clear()
        self._auth_window = self._throttle_window = self._quota = (0, 0)
        self._pushed.clear()
        self._groups.clear()
        for task in self._tasks.values():
            task.figures.clear()
        self._requests = RequestLog(self._config.record_bodies)

    # --- routing --------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        api: list[tuple[str, str, Callable[[_Call], Reply], Kind]] = [
            ("POST", "/auth", self._auth, "auth"),
            ("DELETE", "/auth/{token}", self._auth_delete, "auth"),
            ("POST", "/push/single/cid", self._single_cid, "api"),
            ("POST", "/push/single/alias", self._single_alias, "api"),
            ("POST", "/push/single/batch/cid", self._batch_cid, "api"),
            ("POST", "/push/single/batch/alias", self._batch_alias, "api"),
            ("POST", "/push/list/message", self._list_message, "api"),
            ("POST", "/push/list/cid", self._list_cid, "api"),
            ("POST", "/push/list/alias", self._list_alias, "api"),
            ("DELETE", "/task/{taskid}", self._task_stop, "api"),
            ("GET", "/user/status/{cids}", self._user_status, "api"),
            ("GET", "/user/detail/{cids}", self._user_detail, "api"),
            ("GET", "/report/push/task/{taskids}", self._report_tasks, "api"),
            ("GET", "/report/push/task_group/{group_name}", self._report_group, "api"),
            ("GET", "/report/push/count", self._report_count, "api"),
        ]
        for method, path, handler, kind in api:
            route = _Route(method, path, handler, kind, has_body=method == "POST")
            for prefix in (PRIMARY_PREFIX, ALT_PREFIX):
                app.router.add_route(method, f"{prefix}/{{appid}}{path}", self._handler(route))
        control: list[tuple[str, str, Callable[[_Call], Reply]]] = [
            ("GET", "/stats", lambda call: (0, "", self.stats().as_dict())),
            ("POST", "/reset", self._control_reset),
            ("GET", "/faults", lambda call: (0, "", self._config.fault_settings())),
            ("POST", "/faults", self._control_faults),
            ("GET", "/deliveries", lambda call: (0, "", dict(self.deliveries))),
            ("GET", "/requests", self._control_requests),
        ]
        for method, path, handler in control:
            route = _Route(
                method,
                CONTROL_PREFIX + path,
                handler,
                "control",
                has_body=(method, path) == ("POST", "/faults"),
            )
            app.router.add_route(method, route.path, self._handler(route))

    def _handler(self, route: _Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._dispatch(request, route)

        return handle

    async def _dispatch(self, request: web.Request, route: _Route) -> web.StreamResponse:
        cfg = self._config
        if route.kind == "control":
            return await self._control(request, route)
        self._counters.requests[route.key] += 1
        faultable = route.kind == "api" or cfg.faults_on_auth
        if faultable:
            early = await self._faults_before(request)
            if early is not None:
                return early
        try:
            if request.match_info["appid"] != cfg.app_id:
                raise _Refusal(404, "appId is invalid")
            now = self._clock()
            if route.kind == "api":
                self._check_token(request.headers.get("token"), now)
            body = await _read_json(request) if route.has_body else None
            code, msg, data = route.handler(_Call(request.match_info, body, now, route.name))
            if route.has_body and code == 0 and route.kind == "api":  # never /auth: it carries the app key
                self._requests.add(route.name, body)
        except _Refusal as refusal:
            code, msg, data = refusal.code, refusal.msg, refusal.data
        except Invalid as invalid:
            code, msg, data = 20001, invalid.msg, _NO_DATA
        if faultable:
            lost = await self._faults_after(request)
            if lost is not None:
                return lost
        return self._envelope(code, msg, data)

    async def _control(self, request: web.Request, route: _Route) -> web.StreamResponse:
        try:
            body = await _read_json(request) if route.has_body else None
            params = {**request.match_info, **request.query}
            code, msg, data = route.handler(_Call(params, body, self._clock(), route.name))
        except _Refusal as refusal:
            code, msg, data = refusal.code, refusal.msg, refusal.data
        return _response(code, msg, data)

    def _envelope(self, code: int, msg: str, data: Any = _NO_DATA) -> web.Response:
        if code:
            self._counters.rejections[code] += 1
        return _response(code, msg, data)

    # --- faults ---------------------------------------------------------------------------------

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    async def _faults_before(self, request: web.Request) -> web.StreamResponse | None:
        cfg, faults = self._config, self._counters.faults
        delay_ms = cfg.latency_ms + (
            self._rng.uniform(0, cfg.latency_jitter_ms) if cfg.latency_jitter_ms else 0
        )
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if cfg.host_change and request.path.startswith(PRIMARY_PREFIX + "/"):
            faults["host_change"] += 1
            return self._envelope(301, "domain changed", self._host_list(request))
        if self._chance(cfg.http_5xx_rate):
            faults["http_5xx"] += 1
            status = self._rng.choice((500, 502, 503))
            return web.Response(
                status=status, text=f"<html><h1>{status}</h1>mock fault</html>", content_type="text/html"
            )
        if cfg.reset_phase == "before" and self._chance(cfg.reset_rate):
            faults["reset_before"] += 1
            return _drop(request)
        if cfg.hang_phase == "before" and self._chance(cfg.hang_rate):
            faults["hang_before"] += 1
            return await self._hang(request)
        if cfg.throttle_per_window is not None and self._throttled(cfg.throttle_per_window):
            self._counters.throttled += 1
            return self._envelope(cfg.throttle_code, _MESSAGES.get(cfg.throttle_code, "frequency over limit"))
        if self._chance(cfg.busy_rate):
            faults["busy"] += 1
            return self._envelope(30019, _MESSAGES[30019])
        return None

    async def _faults_after(self, request: web.Request) -> web.StreamResponse | None:
        cfg, faults = self._config, self._counters.faults
        if cfg.reset_phase == "after" and self._chance(cfg.reset_rate):
            faults["reset_after"] += 1
            return _drop(request)
        if cfg.hang_phase == "after" and self._chance(cfg.hang_rate):
            faults["hang_after"] += 1
            return await self._hang(request)
        return None

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Answer nothing for ``hang_s`` (or until the server stops), then drop the connection."""
        assert self._closing is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self._config.hang_s)
        return _drop(request)

    def _throttled(self, limit: int) -> bool:
        window = int(self._clock() // self._config.throttle_window_s)
        index, count = self._throttle_window
        count = count + 1 if index == window else 1
        self._throttle_window = (window, count)
        return count > limit

    def _host_list(self, request: web.Request) -> dict[str, Any]:
        domain = f"http://{request.host}{ALT_PREFIX}"
        domain_hash = hashlib.sha256(domain.encode()).hexdigest()[:16]
        return {"host_list": [{"domain_list": [domain], "priority_gap": 0}], "domain_hash": domain_hash}

    # --- tokens ---------------------------------------------------------------------------------

    def _sweep_revocations(self, now: float) -> None:
        """``revoke_tokens_every_s``: every token dies at each period boundary (checked lazily)."""
        period = self._config.revoke_tokens_every_s
        if period is None:
            return
        epoch = int(now // period)
        if self._revoke_epoch is not None and epoch != self._revoke_epoch and self._tokens:
            self._tokens.clear()
            self._counters.faults["tokens_revoked"] += 1
        self._revoke_epoch = epoch

    def _check_token(self, token: str | None, now: float) -> None:
        self._sweep_revocations(now)
        expiry = self._tokens.get(token) if token else None
        if expiry is None or now >= expiry:
            if token:
                self._tokens.pop(token, None)
            raise _Refusal(10001)

    # --- endpoints: auth ------------------------------------------------------------------------

    def _auth(self, call: _Call) -> Reply:
        cfg, now = self._config, call.now
        self._counters.auth_calls += 1
        minute = int(now // 60)
        index, calls = self._auth_window
        calls = calls + 1 if index == minute else 1
        self._auth_window = (minute, calls)
        if calls > cfg.auth_per_minute:
            raise _Refusal(10003)
        body = call.body
        if not isinstance(body, dict):
            raise Invalid("body type error")
        for key in body:
            if key not in ("sign", "timestamp", "appkey"):
                raise Invalid(f"{key} is invalid")
        timestamp = body.get("timestamp")
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not isinstance(timestamp, str) or len(timestamp) != 13 or not timestamp.isdigit():
            raise Invalid("timestamp is invalid")
        appkey, sign = body.get("appkey"), body.get("sign")
        if not isinstance(appkey, str) or not hmac.compare_digest(appkey.encode(), cfg.app_key.encode()):
            raise Invalid("appkey is invalid")
        expected = hashlib.sha256((cfg.app_key + timestamp + cfg.master_secret).encode()).hexdigest()
        if not isinstance(sign, str) or not hmac.compare_digest(sign.encode(), expected.encode()):
            raise Invalid("sign is invalid")
        if abs(now * 1000 - int(timestamp)) > cfg.auth_max_skew_s * 1000:
            raise Invalid("timestamp is invalid")
        self._sweep_revocations(now)
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = secrets.token_hex(32)
        expires = now + cfg.token_lifetime_s
        self._tokens[token] = expires
        self._counters.tokens_issued += 1
        return 0, "success", {"expire_time": str(int(expires * 1000)), "token": token}

    def _auth_delete(self, call: _Call) -> Reply:
        self._tokens.pop(call.params["token"], None)
        return 0, "", _NO_DATA

    # --- endpoints: single and batch pushes ---------------------------------------------------------

    def _single_cid(self, call: _Call) -> Reply:
        return self._single(call, "cid")

    def _single_alias(self, call: _Call) -> Reply:
        return self._single(call, "alias")

    def _batch_cid(self, call: _Call) -> Reply:
        return self._batch(call, "cid")

    def _batch_alias(self, call: _Call) -> Reply:
        return self._batch(call, "alias")

    def _single(self, call: _Call, target_key: str) -> Reply:
        push = validate_single(call.body, target_key)
        cids = self._resolve(push.target, target_key)
        if self._is_duplicate(push.request_id):
            if self._config.duplicate_reply == "error":
                raise Invalid("request_id cannot be repeat.")
            return 0, "", {}
        self._take_quota(len(cids), self._config.quota_code, call.now, "app")
        taskid, statuses = self._deliver_single(push.request_id, push.message, cids, call)
        return 0, "", {taskid: statuses}

    def _batch(self, call: _Call, target_key: str) -> Reply:
        cfg = self._config
        is_async, items = validate_batch(call.body)
        accepted: list[tuple[str, Message, list[str]]] = []
        in_this_batch: set[str] = set()
        for item in items:
            try:
                push = validate_single(item, target_key)
                cids = self._resolve(push.target, target_key)
                if self._is_duplicate(push.request_id, in_this_batch):
                    if cfg.duplicate_reply == "error":
                        raise Invalid("request_id cannot be repeat.")
                    continue
            except Invalid:
                if cfg.batch_invalid_item == "fail_batch":
                    raise
                self._counters.invalid_items_dropped += 1
                continue
            in_this_batch.add(push.request_id)
            accepted.append((push.request_id, push.message, cids))
        self._take_quota(sum(len(cids) for _, _, cids in accepted), cfg.quota_code, call.now, "app")
        data: dict[str, dict[str, str]] = {}
        for request_id, message, cids in accepted:
            taskid, statuses = self._deliver_single(request_id, message, cids, call)
            data[taskid] = statuses
        return (0, "", _NO_DATA) if is_async else (0, "", data)

    def _is_duplicate(self, request_id: str, pending: set[str] | None = None) -> bool:
        """A request_id seen in an accepted single/batch push is dropped: Getui loses the repeat."""
        if request_id in self._seen_request_ids or (pending is not None and request_id in pending):
            self._counters.duplicates_dropped += 1
            return True
        return False

    def _deliver_single(
        self, request_id: str, message: Message, cids: list[str], call: _Call
    ) -> tuple[str, dict[str, str]]:
        self._seen_request_ids.add(request_id)
        taskid = self._taskid("RASS_", call.now)
        record = pack_delivery(taskid, request_id, message.notify_id, message.title, call.endpoint)
        reports = [] if message.group_name is None else [self._group(message.group_name)]
        return taskid, self._deliver(cids, record, reports)

    # --- endpoints: list pushes ---------------------------------------------------------------------

    def _list_message(self, call: _Call) -> Reply:
        created = validate_list_message(call.body)
        ttl_s = (
            created.ttl_ms / 1000 if created.ttl_ms and created.ttl_ms > 0 else self._config.list_task_ttl_s
        )
        taskid = self._taskid("RASL-", call.now)
        self._tasks[taskid] = _ListTask(created.message, call.now + ttl_s)
        return 0, "", {"taskid": taskid}

    def _list_cid(self, call: _Call) -> Reply:
        return self._list_push(call, "cid")

    def _list_alias(self, call: _Call) -> Reply:
        return self._list_push(call, "alias")

    def _list_push(self, call: _Call, target_key: str) -> Reply:
        """No request_id here: a cid sent twice is delivered twice (at-least-once), and recorded so."""
        cfg = self._config
        push = validate_list_push(call.body, target_key, cfg.list_chunk_limit)
        task = self._live_task(push.taskid, call.now)
        resolved = [(target, self._resolve_listed(target, target_key)) for target in push.targets]
        resolved = [(target, cids) for target, cids in resolved if cids]
        self._take_quota(sum(len(cids) for _, cids in resolved), cfg.list_quota_code, call.now, "list")
        record = task.records.get(call.endpoint)
        if record is None:
            record = pack_delivery(
                push.taskid, None, task.message.notify_id, task.message.title, call.endpoint
            )
            task.records[call.endpoint] = record
        reports = [task.figures]
        if task.message.group_name is not None:
            reports.append(self._group(task.message.group_name))
        for figures in reports:
            figures.targeted_invalid(len(push.targets) - len(resolved))
        detail: dict[str, dict[str, str]] = {}
        for target, cids in resolved:
            detail[target] = self._deliver(cids, record, reports)
        if push.is_async:
            return 0, "", _NO_DATA
        if target_key == "alias" and push.need_alias_detail:
            return 0, "", {push.taskid: detail}
        flat = {cid: status for statuses in detail.values() for cid, status in statuses.items()}
        return 0, "", {push.taskid: flat}

    def _group(self, name: str) -> Figures:
        figures = self._groups.get(name)
        if figures is None:
            figures = self._groups[name] = Figures()
        return figures

    def _live_task(self, taskid: str, now: float) -> _ListTask:
        task = self._tasks.get(taskid)
        if task is None or task.stopped or now >= task.expires_at:
            raise Invalid("taskid is invalid")
        return task

    def _task_stop(self, call: _Call) -> Reply:
        self._live_task(call.params["taskid"], call.now).stopped = True
        return 0, "", _NO_DATA

    # --- endpoints: user and report ---------------------------------------------------------------

    def _user_status(self, call: _Call) -> Reply:
        now_ms = int(call.now * 1000)
        data: dict[str, dict[str, Any]] = {}
        for cid in _path_list(call.params["cids"], "cid", USER_QUERY_LIMIT):
            if self._is_invalid(cid):
                continue
            share = self._share(cid)
            online = share < self._config.online_ratio
            ago_ms = int(share * 3_600_000) if online else 86_400_000 + int(share * 2_592_000_000)
            data[cid] = {"last_login_time": now_ms - ago_ms, "status": "online" if online else "offline"}
        return 0, "", data

    def _user_detail(self, call: _Call) -> Reply:
        cids = _path_list(call.params["cids"], "cid", USER_QUERY_LIMIT)
        valid = [cid for cid in cids if not self._is_invalid(cid)]
        detail = {"client_app_id": self._config.app_id, "package_name": "com.getui.mock", "device_token": ""}
        data = {
            "validCids": {cid: {**detail, "phone_type": 1, "notification_switch": True} for cid in valid},
            "invalidCids": [cid for cid in cids if self._is_invalid(cid)],
        }
        return 0, "", data

    def _report_tasks(self, call: _Call) -> Reply:
        """``{taskid: {"total": F, "gt": F, vendor: F}}`` of list tasks; single pushes have no task report."""
        data: dict[str, Any] = {}
        for taskid in _path_list(call.params["taskids"], "taskid", REPORT_QUERY_LIMIT):
            task = self._tasks.get(taskid)
            if task is not None:
                data[taskid] = task.figures.as_dict()
        return 0, "", data

    def _report_group(self, call: _Call) -> Reply:
        """``{group_name: {"total": F, ...}}`` over every push (single, batch, list) sent in that group."""
        name = call.params["group_name"]
        figures = self._groups.get(name)
        return 0, "", {} if figures is None else {name: figures.as_dict()}

    def _report_count(self, call: _Call) -> Reply:
        """Today's quota as the SDK's ``PushCountDTO``; the mock has one pool for every kind of push."""
        quota, used = self._config.daily_quota, self._used_quota(call.now)
        remain = -1 if quota is None else max(quota - used, 0)

        def entry(kind: str) -> dict[str, Any]:
            return {
                "total_num": -1 if quota is None else quota,
                "remain_num": remain,
                "push_num": self._pushed[kind],
                "limit": quota is not None,
            }

        return 0, "", {"gt": {"app": entry("app"), "list": entry("list")}}

    # --- control endpoints ------------------------------------------------------------------------

    def _control_requests(self, call: _Call) -> Reply:
        """``GET /_mock/requests[?endpoint=push/single/cid]``: the last accepted bodies per endpoint."""
        endpoint = call.params.get("endpoint")
        if endpoint is not None:
            return 0, "", {endpoint: self._requests.bodies(endpoint)}
        return 0, "", self._requests.as_dict()

    def _control_reset(self, call: _Call) -> Reply:
        self.reset()
        return 0, "", _NO_DATA

    def _control_faults(self, call: _Call) -> Reply:
        if not isinstance(call.body, dict):
            raise _Refusal(20001, "body type error")
        try:
            new = self.configure(**call.body)
        except (TypeError, ValueError) as exc:
            raise _Refusal(20001, str(exc)) from None
        return 0, "", new.fault_settings()

    # --- shared helpers ---------------------------------------------------------------------------

    def _is_invalid(self, target: str) -> bool:
        cfg = self._config
        return target in cfg.invalid_cids or target.startswith(cfg.invalid_cid_prefix)

    def _resolve(self, target: str, target_key: str) -> list[str]:
        """The cids behind a cid or alias; an unknown alias is the synthetic cid ``alias:{alias}``."""
        if self._is_invalid(target):
            raise Invalid("target user is invalid")
        if target_key == "cid":
            return [target]
        cids = [
            cid for cid in self._config.aliases.get(target, ("alias:" + target,)) if not self._is_invalid(cid)
        ]
        if not cids:
            raise Invalid("target user is invalid")
        return cids

    def _resolve_listed(self, target: str, target_key: str) -> list[str]:
        """Like :meth:`_resolve`, but an invalid target of a list push is dropped (``[]``) by default."""
        try:
            return self._resolve(target, target_key)
        except Invalid:
            if self._config.list_invalid_cid == "fail":
                raise
            return []

    def _hash(self, cid: str) -> int:
        """A seeded, uniform-looking 64-bit number fixed per cid."""
        digest = hashlib.blake2b(cid.encode(), digest_size=8, key=self._hash_key).digest()
        return int.from_bytes(digest, "big")

    def _share(self, cid: str) -> float:
        """A seeded, uniform-looking number in [0, 1) fixed per cid."""
        return self._hash(cid) / 2**64

    def _deliver(self, cids: list[str], record: bytes, reports: list[Figures]) -> dict[str, str]:
        """Deliver ``record`` to each cid: ``{cid: status}``, and the deliveries counted in ``reports``.

        One hash per cid decides everything: its top bits the status (``online_ratio``/``ignore_ratio``),
        other bits the vendor an offline delivery goes through and whether it is displayed and clicked.
        Online and ignored deliveries count under Getui's own channel, ``gt``.
        """
        cfg = self._config
        online, ignore_from = cfg.online_ratio, 1.0 - cfg.ignore_ratio
        display_cut, click_cut = int(cfg.display_ratio * 65_536), int(cfg.click_ratio * 65_536)
        rows: dict[str, list[int]] = {}
        out: dict[str, str] = {}
        for cid in cids:
            self._store.add(cid, record)
            h = self._hash(cid)
            share = h / 2**64
            if share < online:
                status, channel = _STATUSES[0], "gt"
            elif share >= ignore_from:
                status, channel = _STATUSES[2], "gt"
            else:
                status, channel = _STATUSES[1], VENDOR_CHANNELS[((h >> 32) & 0xFF) % len(VENDOR_CHANNELS)]
            out[cid] = status
            if reports:
                row = rows.get(channel)
                if row is None:
                    row = rows[channel] = [0, 0, 0, 0, 0]
                received = status is not _STATUSES[2]
                displayed = received and (h & 0xFFFF) < display_cut
                row[0] += 1
                row[1] += 1
                row[2] += received
                row[3] += displayed
                row[4] += displayed and ((h >> 16) & 0xFFFF) < click_cut
        for figures in reports:
            figures.merge(rows)
        return out

    def _used_quota(self, now: float) -> int:
        day = int((now + BEIJING_OFFSET_S - self._config.quota_reset_s) // 86_400)
        if self._quota[0] != day:
            self._quota = (day, 0)
            self._pushed.clear()
        return self._quota[1]

    def _take_quota(self, recipients: int, code: int, now: float, kind: str) -> None:
        """Refuse a push that would take the day's recipients over ``daily_quota`` (it resets daily)."""
        used, quota = self._used_quota(now), self._config.daily_quota
        if quota is not None and used + recipients > quota:
            self._counters.quota_refusals += 1
            raise _Refusal(code)
        self._quota = (self._quota[0], used + recipients)
        self._pushed[kind] += recipients

    def _taskid(self, prefix: str, now: float) -> str:
        """``RASS_MMdd_<32 hex>`` / ``RASL-MMdd_<32 hex>``: unique per server, dated in Beijing time."""
        return f"{prefix}{_mmdd(int((now + BEIJING_OFFSET_S) // 86_400))}_{self._nonce}{next(self._seq):024x}"


@functools.lru_cache(maxsize=4)
def _mmdd(day: int) -> str:
    return time.strftime("%m%d", time.gmtime(day * 86_400))


def _hash_key(seed: int) -> bytes:
    return str(seed).encode()[:64]


def _path_list(value: str, name: str, limit: int) -> list[str]:
    items = [item for item in value.split(",") if item]
    if not items:
        raise Invalid(f"{name} can not be empty")
    if len(items) > limit:
        raise Invalid(f"{name} size over limit")
    return items


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return _json.loads(raw)
    except _json.JSONDecodeError:
        raise _Refusal(1, "body is not json") from None


def _response(code: int, msg: str, data: Any) -> web.Response:
    envelope: dict[str, Any] = {"code": code, "msg": msg}
    if data is not _NO_DATA:
        envelope["data"] = data
    return web.Response(body=_json.dumps(envelope), status=http_status(code), headers=_JSON_HEADERS)


def _drop(request: web.Request) -> web.Response:
    """Close the connection with no reply; aiohttp then fails quietly to write the returned response."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response()
