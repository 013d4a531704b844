"""``GetuiClient``: one method per Getui REST v2 endpoint over one pooled session.

::

    async with GetuiClient(Settings.from_env()) as client:
        result = await client.push_single_cid("cid-1", template.shared(), request_id=rid)
        result.statuses   # {"cid-1": Status.SUCCESSED_ONLINE.value}

The client attaches the token, decodes Getui's ``{code, msg, data}`` envelope into typed results or the
mapped :mod:`~getui_async.errors` exception, and settles two things itself: a ``10001`` reply refreshes
the token (once for any number of concurrent callers) and replays the request once; a ``301`` reply
moves the client to the host Getui names and replays once.

Called directly, each method retries transient failures (network, 5xx, busy, per-minute limits) with
:mod:`~getui_async.retry`'s policy, so one 502 is not a traceback; ``retry=False`` turns that off. A call
made inside another retry layer (the engine's request path, ``check``) is one attempt of that layer: never
two layers. A list push carries no request_id, so after a lost reply it is never sent again by the
client (only a refusal from before Getui took it is retried). Concurrency and rate are the engine's
(:mod:`~getui_async.throttle`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import quote

from . import _json
from .auth import Token, TokenManager
from .config import RetrySettings, Settings, check_base_url
from .errors import (
    ConfigError,
    FatalApiError,
    HostChangedError,
    TokenExpiredError,
)
from .events import HostSwitched, Observer, Observers
from .messages import Rendered, batch_body, list_message_body, list_push_body, single_body
from .outcome import Kind
from .replies import (
    STATUSES,
    BatchResult,
    CidCheck,
    ListResult,
    Push,
    PushLike,
    PushResult,
    batch_result,
    envelope_data,
    list_result,
    push_result,
)
from .retry import call_with_retry, in_retry_layer
from .transport import JSON_CONTENT_TYPE, USER_AGENT, AiohttpTransport, Transport

__all__ = [
    "STATUSES",
    "BatchResult",
    "CidCheck",
    "GetuiClient",
    "Kind",
    "ListResult",
    "Push",
    "PushLike",
    "PushResult",
]

log = logging.getLogger(__name__)


MAX_BATCH: Final = 200
MAX_USER_QUERY: Final = 1000
MAX_REPORT_TASKS: Final = 200
_PLAIN_HEADERS: Final = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT}


class GetuiClient:
    """Async client for one Getui app. Use as ``async with``; a closed client cannot be reopened.

    ``transport`` replaces the network (tests pass a :class:`~getui_async.transport.MockTransport`); the
    client closes only a transport it created, unless ``transport_owner=True`` hands one over (as aiohttp's
    ``connector_owner`` does);
    ``observers`` receive :mod:`~getui_async.events` (token refreshed, host switched).
    ``retry``: True (the default) retries transient failures with ``settings.retry``, a
    :class:`~getui_async.config.RetrySettings` with that policy, False not at all.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        transport_owner: bool = False,
        observers: Iterable[Observer] | Observers = (),
        token_manager_options: Mapping[str, Any] | None = None,
        retry: RetrySettings | bool = True,
    ) -> None:
        self.settings = settings
        #: The policy a direct call retries with (None: one attempt).
        self.retry_policy: RetrySettings | None = (
            retry if isinstance(retry, RetrySettings) else settings.retry if retry else None
        )
        self._transport_arg = transport
        self._owns_transport = transport is None or transport_owner
        self._transport: Transport | None = None
        self._observers = observers if isinstance(observers, Observers) else Observers(observers)
        self._token_options = dict(token_manager_options or {})
        self._tokens: TokenManager | None = None
        self._base_url = settings.base_url
        self._prefix = f"{self._base_url}/{settings.credentials.app_id}"
        self._headers_for: tuple[int, dict[str, str]] | None = None
        self._domain_hash: str | None = None  # of the last 301 host switch followed
        self._state: Literal["new", "open", "closed"] = "new"

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> GetuiClient:
        self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def open(self) -> None:
        """Create the transport and token manager inside the running loop (``async with`` does this)."""
        if self._state == "closed":
            raise RuntimeError("this GetuiClient is closed; create a new one")
        if self._state == "open":
            return
        self._transport = self._transport_arg or AiohttpTransport(self.settings)
        self._tokens = _token_manager(self.settings, self._post_auth, self._observers, self._token_options)
        self._state = "open"

    async def aclose(self) -> None:
        """Close the transport if this client owns it (and revoke the token if ``delete_token_on_close``).

        Idempotent. A transport handed in without ``transport_owner`` stays open for its owner.
        """
        if self._state != "open":
            self._state = "closed"
            return
        self._state = "closed"
        assert self._transport is not None
        assert self._tokens is not None
        try:
            token = self._tokens.current
            if self.settings.delete_token_on_close and token is not None:
                try:
                    path = f"/auth/{quote(token.value.reveal(), safe='')}"
                    await self._send_raw("DELETE", path, None, self._token_headers(token))
                except Exception as exc:  # best effort: closing must not fail because of it
                    log.warning("could not revoke the token on close: %s", type(exc).__name__)
                self._tokens.invalidate()
        finally:
            if self._owns_transport:
                await self._transport.aclose()

    @property
    def base_url(self) -> str:
        """The base URL in use (it changes after a ``301`` reply)."""
        return self._base_url

    @property
    def tokens(self) -> TokenManager:
        """The token manager (for its counters and for tests)."""
        if self._tokens is None:
            raise RuntimeError("use the client inside 'async with'")
        return self._tokens

    # -- the core exchange ----------------------------------------------------------------------------

    async def call(
        self, method: str, path: str, payload: bytes | None = None, *, idempotent: bool = True
    ) -> Any:
        """Send one authenticated request and return the envelope's ``data`` (or raise the mapped error).

        ``payload`` is the JSON body, already encoded (the :mod:`~getui_async.messages` builders).
        A ``10001`` refreshes the token and replays once; a ``301`` switches host and replays once.
        Transient failures are retried per :attr:`retry_policy`; ``idempotent=False`` (a request without
        a request_id) is never sent again after a lost reply.
        """
        return await self._retried(lambda: self._call_once(method, path, payload), idempotent=idempotent)

    async def _retried(self, attempt: Callable[[], Awaitable[Any]], *, idempotent: bool = True) -> Any:
        """The retry layer of a direct call; none inside another retry layer (never two)."""
        policy = self.retry_policy
        if policy is None or in_retry_layer():
            return await attempt()
        window_s = self.settings.throttle_window_s
        return await call_with_retry(attempt, policy, window_s=window_s, idempotent=idempotent)

    async def _call_once(self, method: str, path: str, payload: bytes | None) -> Any:
        """One attempt: the token header, and the 10001 and 301 replays."""
        tokens = self._tokens
        if self._state != "open" or tokens is None:
            raise RuntimeError("use the client inside 'async with' (it is not open)")
        token = await tokens.get()
        token_replayed = host_replayed = False
        while True:
            try:
                return await self._send_raw(method, path, payload, self._token_headers(token))
            except TokenExpiredError:
                if token_replayed:
                    raise
                token_replayed = True
                token = await tokens.refresh(token)
            except HostChangedError as exc:
                if host_replayed:
                    raise
                host_replayed = True
                self._switch_host(exc)  # or, like the SDK, replay once on the same host

    def _token_headers(self, token: Token) -> Mapping[str, str]:
        """The request headers for ``token``, built once per token generation."""
        cached = self._headers_for
        if cached is None or cached[0] != token.generation:
            cached = (
                token.generation,
                {"token": token.value.reveal(), "Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT},
            )
            self._headers_for = cached
        return cached[1]

    async def _send_raw(
        self, method: str, path: str, payload: bytes | None, headers: Mapping[str, str] | None = None
    ) -> Any:
        assert self._transport is not None
        resp = await self._transport.request(
            method,
            self._prefix + path,
            headers=headers or _PLAIN_HEADERS,
            body=payload,
        )
        return envelope_data(resp.status, resp.body)

    async def _post_auth(self, body: Mapping[str, Any]) -> Any:
        return await self._send_raw("POST", "/auth", _json.dumps(body))

    def _switch_host(self, exc: HostChangedError) -> None:
        """Move to the host a 301 names (:func:`_moved_to`); without a new hash, replay on the same host."""
        base = _moved_to(exc, self._domain_hash)
        if base is None:
            return
        self._domain_hash = exc.domain_hash
        if base != self._base_url:
            log.info("Getui moved this app to %s", base)
            self._base_url = base
            self._prefix = f"{base}/{self.settings.credentials.app_id}"
            self._observers.emit(HostSwitched(base))

    # -- push endpoints --------------------------------------------------------------------------------

    async def push_single_cid(self, cid: str, message: Rendered, *, request_id: str) -> PushResult:
        """``POST /push/single/cid``: one message to one cid."""
        data = await self.call("POST", "/push/single/cid", single_body(request_id, "cid", cid, message))
        return push_result(data)

    async def push_single_alias(self, alias: str, message: Rendered, *, request_id: str) -> PushResult:
        """``POST /push/single/alias``: one message to the (up to 10) cids bound to an alias."""
        data = await self.call("POST", "/push/single/alias", single_body(request_id, "alias", alias, message))
        return push_result(data)

    async def push_batch_cid(self, pushes: Sequence[PushLike], *, is_async: bool = False) -> BatchResult:
        """``POST /push/single/batch/cid``: up to 200 different messages in one request."""
        return await self._push_batch("cid", pushes, is_async)

    async def push_batch_alias(self, pushes: Sequence[PushLike], *, is_async: bool = False) -> BatchResult:
        """``POST /push/single/batch/alias``: up to 200 different messages to aliases."""
        return await self._push_batch("alias", pushes, is_async)

    async def _push_batch(self, kind: Kind, pushes: Sequence[PushLike], is_async: bool) -> BatchResult:
        if not 1 <= len(pushes) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1..{MAX_BATCH} messages, got {len(pushes)}")
        items = [single_body(p.request_id, kind, p.target, p.message) for p in pushes]
        data = await self.call("POST", f"/push/single/batch/{kind}", batch_body(items, is_async=is_async))
        return batch_result(data, is_async)

    async def create_list_message(self, message: Rendered, *, request_id: str | None = None) -> str:
        """``POST /push/list/message``: store a message once; returns the taskid for list pushes.

        A fresh random request_id by default: creating a task delivers nothing, and a retried create must
        not be dropped as a repeat (that would leave us without a taskid).
        """

        def attempt() -> Awaitable[Any]:  # a fresh request_id per attempt, unless one was given
            rid = request_id or secrets.token_hex(16)
            return self._call_once("POST", "/push/list/message", list_message_body(rid, message))

        data = await self._retried(attempt)
        taskid = data.get("taskid") if isinstance(data, Mapping) else None
        if not isinstance(taskid, str) or not taskid:
            raise FatalApiError("Getui created a list message but returned no taskid")
        return taskid

    async def push_list_cid(self, cids: Sequence[str], *, taskid: str, is_async: bool = False) -> ListResult:
        """``POST /push/list/cid``: the stored message to a chunk of cids (chunk size: the caller's)."""
        body = list_push_body(taskid, "cid", cids, is_async=is_async)
        data = await self.call("POST", "/push/list/cid", body, idempotent=False)
        return list_result(taskid, data, is_async)

    async def push_list_alias(
        self,
        aliases: Sequence[str],
        *,
        taskid: str,
        is_async: bool = False,
        need_alias_detail: bool = True,
    ) -> ListResult:
        """``POST /push/list/alias``; with ``need_alias_detail`` statuses are ``{alias: {cid: status}}``."""
        body = list_push_body(
            taskid, "alias", aliases, is_async=is_async, need_alias_detail=need_alias_detail and not is_async
        )
        data = await self.call("POST", "/push/list/alias", body, idempotent=False)
        return list_result(taskid, data, is_async)

    async def stop_task(self, taskid: str) -> None:
        """``DELETE /task/{taskid}``: stop a list task's undelivered messages."""
        await self.call("DELETE", f"/task/{quote(taskid, safe='')}")

    # -- users and reports ------------------------------------------------------------------------------

    async def user_status(self, cids: Sequence[str]) -> dict[str, Any]:
        """``GET /user/status/{cids}``: ``{cid: {"status": "online"|"offline", "last_login_time": ms}}``."""
        data = await self.call("GET", f"/user/status/{_join(cids, MAX_USER_QUERY)}")
        return dict(data) if isinstance(data, Mapping) else {}

    async def user_detail(self, cids: Sequence[str]) -> CidCheck:
        """``GET /user/detail/{cids}``: pre-validate cids before a campaign."""
        data = await self.call("GET", f"/user/detail/{_join(cids, MAX_USER_QUERY)}")
        data = data if isinstance(data, Mapping) else {}
        valid = data.get("validCids")
        invalid = data.get("invalidCids")
        return CidCheck(
            valid=dict(valid) if isinstance(valid, Mapping) else {},
            invalid=[c for c in invalid if isinstance(c, str)] if isinstance(invalid, list) else [],
        )

    async def invalid_cids(self, cids: Sequence[str]) -> set[str]:
        """The cids ``user/detail`` names invalid, asking for at most 1000 at a time.

        For list recipients a sync reply did not name: an invalid one failed (20001 "target user is
        invalid"); any other was accepted by Getui, and must not be re-sent (list pushes carry no
        request_id, so a re-send would deliver it twice).
        """
        unique = list(dict.fromkeys(cids))
        invalid: set[str] = set()
        for start in range(0, len(unique), MAX_USER_QUERY):
            invalid.update((await self.user_detail(unique[start : start + MAX_USER_QUERY])).invalid)
        return invalid

    async def report_push_task(self, taskids: Sequence[str]) -> dict[str, Any]:
        """``GET /report/push/task/{taskids}``: ``{taskid: {"total"|"gt"|vendor: {msg_num, target_num,
        receive_num, display_num, click_num}}}`` for list and app tasks (not single pushes)."""
        data = await self.call("GET", f"/report/push/task/{_join(taskids, MAX_REPORT_TASKS)}")
        return dict(data) if isinstance(data, Mapping) else {}

    async def report_push_task_group(self, group_name: str) -> dict[str, Any]:
        """``GET /report/push/task_group/{group_name}``: the counts of every task sent with that group_name.

        Shaped like :meth:`report_push_task`, keyed by the group name.
        """
        if not group_name:
            raise ValueError("give a group_name")
        data = await self.call("GET", f"/report/push/task_group/{quote(group_name, safe='')}")
        return dict(data) if isinstance(data, Mapping) else {}

    async def report_push_count(self) -> dict[str, Any]:
        """``GET /report/push/count``: ``{"gt": {"app"|"list"|...: {total_num, remain_num, push_num,
        limit}}, vendor: {...}}``, today's quotas and what was used (poll rarely: it is rate-limited)."""
        data = await self.call("GET", "/report/push/count")
        return dict(data) if isinstance(data, Mapping) else {}


def _join(ids: Sequence[str], limit: int) -> str:
    if not 1 <= len(ids) <= limit:
        raise ValueError(f"give 1..{limit} ids, got {len(ids)}")
    return ",".join(quote(i, safe="") for i in ids)


def _moved_to(exc: HostChangedError, followed_hash: str | None) -> str | None:
    """The base URL a 301 moves the app to, or None to replay once on the same host.

    As the Java SDK does: switch only when ``domain_hash`` is present and differs from the last one
    followed; the new host must pass the base-URL rule (https unless loopback).
    """
    if exc.domain_hash is None or exc.domain_hash == followed_hash:
        log.info("Getui answered 301 without a new domain_hash: replaying on the same host")
        return None
    if not exc.base_url:
        raise FatalApiError("Getui answered 301 without a host to switch to", code=exc.code)
    try:
        return check_base_url(exc.base_url)
    except ConfigError as bad:
        raise FatalApiError(f"refusing Getui's 301 host change: {bad}", code=exc.code) from None


def _token_manager(
    settings: Settings,
    post_auth: Callable[[Mapping[str, Any]], Awaitable[Any]],
    observers: Observers,
    overrides: Mapping[str, Any],
) -> TokenManager:
    """The client's token manager: the settings' margin and /auth budget, unless ``overrides`` says."""
    options: dict[str, Any] = {
        "refresh_margin_s": settings.token_refresh_margin_s,
        "calls_per_min": settings.auth_calls_per_min,
        "observers": observers,
    }
    options.update(overrides)
    return TokenManager(settings.credentials, post_auth, **options)
