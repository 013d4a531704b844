"""One exception tree, split by what the caller does next.

::

    GetuiError
     ├── ConfigError            bad settings or missing credentials            (fix, then rerun)
     ├── MessageError           a message/template breaks a Getui rule         (reject the record)
     ├── InputError             the recipients file cannot be read at all      (fix, then rerun)
     ├── ResultsFileError       the results file belongs to another run        (fix, then rerun)
     ├── PaceStop               stop sending now, the rest resumable (exit 3)
     │    ├── OutsideWindow         --no-wait: a request was due outside the send window
     │    ├── DeadlinePassed        a window or quota wait would end after --deadline
     │    └── WaitInterrupted       a stop signal arrived during a wait
     └── ApiError               Getui answered code != 0, or no usable answer
          ├── RetryableError        back off and try again         Action.RETRY
          │    ├── TransportError       no reply: connect/reset/timeout
          │    │    └── ConnectError        no connection: the request was never written
          │    ├── ServerError          HTTP 5xx without a Getui code
          │    └── ServerBusyError      code 2 (starting), 30019 (busy)
          ├── TokenExpiredError     refresh the token, replay once Action.REFRESH_TOKEN   (10001)
          ├── HostChangedError      switch host, replay once       Action.SWITCH_HOST     (301)
          ├── RateLimitedError      pause all until next window    Action.WAIT_WINDOW
          ├── QuotaExceededError    stop the campaign, resumable   Action.STOP_QUOTA
          ├── FatalApiError         stop: nothing will succeed     Action.STOP_FATAL
          └── RejectedError         this request will never pass   Action.REJECT
               ├── InvalidTargetError  20001 "target user is invalid"
               └── DuplicateRequestError  20001 "request_id cannot be repeat" (already taken)

Every code in ``docs/getui-api.md`` §5 has a row in :data:`CODE_TABLE`; a test parses that document and
fails when one is missing. Messages never carry credentials or tokens: only Getui's ``code``/``msg``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Final

from .safetext import printable

if TYPE_CHECKING:
    from .events import WaitReason

__all__ = [
    "CODE_TABLE",
    "Action",
    "ApiError",
    "CodeInfo",
    "ConfigError",
    "ConnectError",
    "DeadlinePassed",
    "DuplicateRequestError",
    "FatalApiError",
    "GetuiError",
    "HostChangedError",
    "InputError",
    "InvalidTargetError",
    "MessageError",
    "OutsideWindow",
    "PaceStop",
    "QuotaExceededError",
    "RateLimitedError",
    "RejectedError",
    "ResultsFileError",
    "RetryableError",
    "ServerBusyError",
    "ServerError",
    "TokenExpiredError",
    "TransportError",
    "WaitInterrupted",
    "error_for_reply",
    "error_for_status",
]


class Action(str, enum.Enum):
    """What to do about an error; the engine and retry policy switch on this, not on codes."""

    RETRY = "retry"
    REFRESH_TOKEN = "refresh_token"
    SWITCH_HOST = "switch_host"
    WAIT_WINDOW = "wait_window"
    STOP_QUOTA = "stop_quota"
    STOP_FATAL = "stop_fatal"
    REJECT = "reject"


class GetuiError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(GetuiError, ValueError):
    """Settings are invalid or credentials are missing."""


class MessageError(GetuiError, ValueError):
    """A message, template or rendered field breaks a documented Getui rule.

    ``field`` is the dotted path of the offending field (``push_message.notification.title``) or a
    template variable name, so the caller can name it in a rejected result line.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InputError(GetuiError):
    """The recipients file as a whole is unusable (missing, unreadable, no header, wrong format)."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class ResultsFileError(GetuiError):
    """The results file cannot be used: it exists without ``--resume``, or belongs to another run."""


class PaceStop(GetuiError):
    """The campaign must stop sending now, leaving the rest resumable (exit 3)."""


class OutsideWindow(PaceStop):
    """``--no-wait``: a request was due outside the send window."""

    def __init__(self, opens_at: datetime, text: str) -> None:
        super().__init__(f"outside the send window ({text}); --no-wait given")
        self.opens_at = opens_at


class DeadlinePassed(PaceStop):
    """A wait would end after ``--deadline``."""

    def __init__(self, reason: WaitReason, until: datetime, deadline: str) -> None:
        what = "the send window opens" if reason == "window" else "the daily quota resets"
        super().__init__(f"{what} at {until:%Y-%m-%d %H:%M:%S} UTC, after the deadline {deadline}")
        self.reason = reason
        self.until = until


class WaitInterrupted(PaceStop):
    """A stop signal arrived during a wait."""


class ApiError(GetuiError):
    """Getui answered with a non-zero code, or the exchange produced no usable answer."""

    action: ClassVar[Action] = Action.REJECT

    def __init__(self, msg: str = "", *, code: int | None = None, http_status: int | None = None) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        parts = [f"code {code}" if code is not None else None]
        parts.append(f"HTTP {http_status}" if http_status is not None else None)
        label = ", ".join(p for p in parts if p)
        # Its text is what callers log and print: Getui's msg with its control characters shown, not obeyed.
        super().__init__(printable(f"{msg} ({label})" if label else msg))


class RetryableError(ApiError):
    """Transient: the same request may succeed later (network, 5xx, busy)."""

    action = Action.RETRY


class TransportError(RetryableError):
    """No HTTP reply: connection refused or reset, DNS, TLS, or a timeout.

    The request may or may not have reached Getui; resending is safe because request_ids are
    deterministic and Getui drops a repeated one.
    """


class ConnectError(TransportError):
    """No connection was made (refused, DNS, connect timeout): Getui cannot have seen the request."""


class ServerError(RetryableError):
    """HTTP 5xx (or a garbled reply) without a usable Getui envelope."""


class ServerBusyError(RetryableError):
    """Getui says it is starting (2) or busy (30019)."""


class TokenExpiredError(ApiError):
    """10001: the token is wrong or expired. The client refreshes once and replays the request."""

    action = Action.REFRESH_TOKEN


class HostChangedError(ApiError):
    """301: this app lives in another data centre; ``base_url`` is the host to use instead."""

    action = Action.SWITCH_HOST

    def __init__(
        self,
        msg: str = "",
        *,
        code: int | None = None,
        http_status: int | None = None,
        base_url: str | None = None,
        domain_hash: str | None = None,
    ) -> None:
        super().__init__(msg, code=code, http_status=http_status)
        self.base_url = base_url
        self.domain_hash = domain_hash


class RateLimitedError(ApiError):
    """A per-minute limit was hit: everyone pauses until the next window, then goes on slower."""

    action = Action.WAIT_WINDOW


class QuotaExceededError(ApiError):
    """A daily quota is used up: stop sending; the rest can be resumed tomorrow."""

    action = Action.STOP_QUOTA


class FatalApiError(ApiError):
    """Nothing will succeed with these credentials or this base URL (blacklisted, bad sign, 404)."""

    action = Action.STOP_FATAL


class RejectedError(ApiError):
    """Getui refuses this request as it stands (bad parameter, no permission for this call)."""

    action = Action.REJECT


class InvalidTargetError(RejectedError):
    """20001 ``target user is invalid``: the cid is unknown, malformed or belongs to another app."""


class DuplicateRequestError(RejectedError):
    """20001 ``request_id cannot be repeat``: Getui already took a request with this request_id.

    Not a failure of delivery: the earlier request carried the same message to the same recipient.
    Whether Getui answers a repeat this way or with an empty success is UNCERTAIN (api §3).
    """


@dataclass(frozen=True)
class CodeInfo:
    """One documented Getui return code: its HTTP status, meaning and the error class we raise."""

    http_status: int | None
    meaning: str
    error: type[ApiError]

    @property
    def action(self) -> Action:
        return self.error.action


_R, _T, _H = RetryableError, TokenExpiredError, HostChangedError
_W, _Q, _F, _X = RateLimitedError, QuotaExceededError, FatalApiError, RejectedError

#: Every non-zero code of docs/getui-api.md §5, with the error that carries its action.
CODE_TABLE: Final[dict[int, CodeInfo]] = {
    1: CodeInfo(200, "failure; request body is not valid JSON", _X),
    2: CodeInfo(200, "service is starting", ServerBusyError),
    301: CodeInfo(200, "wrong domain for this appId's data centre", _H),
    404: CodeInfo(404, "bad URL", _F),
    405: CodeInfo(405, "method not allowed", _F),
    10001: CodeInfo(401, "token wrong or expired", _T),
    10002: CodeInfo(401, "appId or IP blacklisted", _F),
    10003: CodeInfo(401, "/auth per-minute limit exceeded", _W),
    10004: CodeInfo(401, "no permission for message-detail query", _X),
    10005: CodeInfo(401, "per-minute call frequency exceeded", _W),
    20001: CodeInfo(400, "invalid parameter", _X),
    21001: CodeInfo(None, "push failed: invalid user or strategy parameter", _X),
    22001: CodeInfo(400, "scheduled task already executed, cannot delete", _X),
    22002: CodeInfo(400, "invalid task or invalid schedule time", _X),
    23001: CodeInfo(400, "tag operation failed", _X),
    30000: CodeInfo(403, "no fast_custom_tag permission", _X),
    30001: CodeInfo(403, "no permission to modify or delete custom_tag", _X),
    30002: CodeInfo(403, "no scheduled-push permission", _X),
    30003: CodeInfo(403, "no app/tag permission, or invalid tag", _X),
    30004: CodeInfo(403, "tag daily total exceeded", _Q),
    30005: CodeInfo(403, "tag too long", _X),
    30006: CodeInfo(403, "fast_custom_tag daily total exceeded", _Q),
    30007: CodeInfo(403, "push/all daily count exceeded", _Q),
    30008: CodeInfo(403, "list-push daily total exceeded", _Q),
    30009: CodeInfo(403, "push count over the daily total", _Q),
    30010: CodeInfo(403, "push/tag daily count exceeded", _Q),
    30011: CodeInfo(403, "daily tag-setting count exceeded", _Q),
    30012: CodeInfo(403, "tag modify/delete per-minute limit", _W),
    30013: CodeInfo(403, "fast_custom_tag per-minute limit", _W),
    30014: CodeInfo(403, "app push per-minute limit", _W),
    30015: CodeInfo(403, "list push per-minute limit", _W),
    30016: CodeInfo(403, "push/tag: too many tags", _X),
    30017: CodeInfo(403, "no permission for the single-push real-time report", _X),
    30018: CodeInfo(403, "single-push real-time report per-minute limit", _W),
    30019: CodeInfo(403, "system busy, retry later", ServerBusyError),
    # Not a server code: the Java/PHP SDKs' own code for a network failure. We raise
    # TransportError for those; the row exists so a reply carrying 5000 is still understood.
    5000: CodeInfo(None, "client-side network failure or timeout (SDK code)", TransportError),
}

_TARGET_INVALID = "target user is invalid"


def _refine_20001(msg: str) -> type[ApiError]:
    low = msg.lower()
    if _TARGET_INVALID in low:
        return InvalidTargetError
    if "request_id" in low and "repeat" in low:
        return DuplicateRequestError
    return RejectedError


def error_for_reply(code: int, msg: str, *, http_status: int | None = None, data: Any = None) -> ApiError:
    """The exception for a Getui envelope with ``code != 0``.

    Unknown codes are classified by their HTTP status (the documented bands: 401 auth, 400 parameter,
    403 plan/quota, 5xx server) and otherwise treated as a rejection, never silently as success.
    """
    info = CODE_TABLE.get(code)
    if info is None:
        cls: type[ApiError] = _class_for_status(http_status) if http_status else RejectedError
        if cls is RetryableError:
            cls = ServerError
    elif code == 20001:
        cls = _refine_20001(msg)
    else:
        cls = info.error
    msg = plain_text(msg)
    if cls is HostChangedError:
        return HostChangedError(
            msg,
            code=code,
            http_status=http_status,
            base_url=_first_host(data),
            domain_hash=_domain_hash(data),
        )
    return cls(msg, code=code, http_status=http_status)


def error_for_status(http_status: int) -> ApiError:
    """The exception for an HTTP reply that carried no readable Getui envelope.

    Its text is the status in words only: the body (an HTML error page, or whatever a hostile server
    echoes back, such as the token header) never reaches a message, a log line or a results file.
    """
    cls = _class_for_status(http_status)
    if cls is RetryableError:
        cls = ServerError
    try:
        phrase = f" {HTTPStatus(http_status).phrase}"
    except ValueError:
        phrase = ""
    return cls(f"HTTP {http_status}{phrase}, not a Getui reply", http_status=http_status)


_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
MAX_MSG_CHARS: Final = 200


def plain_text(msg: str) -> str:
    """Getui's ``msg`` fit for a results line: markup dropped, one line, at most 200 characters."""
    if len(msg) <= MAX_MSG_CHARS and msg.isprintable() and "<" not in msg:
        return msg  # the usual short message: no copies
    text = _SPACE.sub(" ", _TAG.sub(" ", msg)).strip()
    return text if len(text) <= MAX_MSG_CHARS else text[: MAX_MSG_CHARS - 1] + "…"


def _class_for_status(http_status: int) -> type[ApiError]:
    """Like the Java SDK: every status but 200/400/401/403/404 is worth another try (405 is final too).

    A 2xx whose body is not a Getui envelope was garbled or cut short on the way; 5xx, 408, a 3xx
    without Location and the like are passing faults of some hop between us and Getui.
    """
    if http_status == 429:
        return RateLimitedError
    if http_status in (404, 405):
        return FatalApiError
    if http_status == 401:
        return TokenExpiredError
    if http_status in (400, 403):
        return RejectedError
    return RetryableError


def _domain_hash(data: Any) -> str | None:
    """``domain_hash`` of a 301 reply: the SDK switches host only when it is present and changed."""
    value = data.get("domain_hash") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _first_host(data: Any) -> str | None:
    """``host_list[0].domain_list[0]`` of a 301 reply (Java SDK ``RasDomainBO``), if present."""
    try:
        host = data["host_list"][0]["domain_list"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return host if isinstance(host, str) and host else None
