"""Getui's wire as the mock speaks it: paths, the reply envelope, and the call a handler receives.

Every part of the server answers in this one shape, so a handler only returns ``(code, msg, data)`` or
raises :class:`Refusal`; turning that into HTTP (status from Getui's code table, JSON body) happens here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from getui_async import _json

__all__ = [
    "ALT_PREFIX",
    "BEIJING_OFFSET_S",
    "CONTROL_PREFIX",
    "MAX_REQUEST_LINE",
    "MESSAGES",
    "NO_DATA",
    "PRIMARY_PREFIX",
    "Call",
    "Refusal",
    "Reply",
    "drop",
    "envelope",
    "http_status",
    "read_json",
]

PRIMARY_PREFIX: Final = "/v2"
ALT_PREFIX: Final = "/alt/v2"
CONTROL_PREFIX: Final = "/_mock"
BEIJING_OFFSET_S: Final = 8 * 3600  # quota days and task-id dates follow Getui's clock (UTC+8)
#: The longest request line the mock reads (a 1,000-cid user/detail path, with room to spare).
MAX_REQUEST_LINE: Final = 64 * 1024
#: An envelope without a ``data`` key (``None`` would be sent as ``"data": null``).
NO_DATA: Final[Any] = object()
MESSAGES: Final = {
    10001: "token is invalid or expired",
    10003: "auth calls per minute over limit",
    10005: "request frequency over limit",
    30008: "list push count over the daily total",
    30009: "push count over the daily total",
    30015: "list push per minute over limit",
    30019: "system busy, please retry later",
}

_JSON_HEADERS: Final = {"Content-Type": "application/json;charset=UTF-8"}

Reply = tuple[int, str, Any]


class Refusal(Exception):
    """A non-zero envelope raised from deep inside a handler."""

    def __init__(self, code: int, msg: str | None = None, data: Any = NO_DATA) -> None:
        super().__init__(code)
        self.code = code
        self.msg = msg if msg is not None else MESSAGES.get(code, "request refused")
        self.data = data


@dataclass(slots=True)
class Call:
    """What an endpoint handler gets."""

    params: Mapping[str, str]
    body: Any
    now: float
    endpoint: str


def http_status(code: int) -> int:
    """Getui's code table: 0/1/2/301 -> 200, 1xxxx -> 401, 2xxxx -> 400, 3xxxx -> 403, else the code."""
    if code in (0, 1, 2, 301):
        return 200
    return {1: 401, 2: 400, 3: 403}.get(code // 10_000, code if 100 <= code < 600 else 400)


def envelope(
    code: int, msg: str, data: Any = NO_DATA, *, rejections: Counter[int] | None = None
) -> web.Response:
    """The JSON reply ``{code, msg[, data]}``; a non-zero code is counted in ``rejections`` when given."""
    if code and rejections is not None:
        rejections[code] += 1
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not NO_DATA:
        body["data"] = data
    return web.Response(body=_json.dumps(body), status=http_status(code), headers=_JSON_HEADERS)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a body that is not JSON is Getui's code 1."""
    raw = await request.read()
    try:
        return _json.loads(raw)
    except _json.JSONDecodeError:
        raise Refusal(1, "body is not json") from None


def drop(request: web.Request) -> web.Response:
    """Close the connection with no reply; aiohttp then fails quietly to write the returned response."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response()
