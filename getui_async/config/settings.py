"""Frozen settings: credentials, client behaviour and campaign runs, with units in every name.

Settings are plain data: built once from keyword arguments, the environment or a TOML file, validated
in ``__post_init__``, never mutated. Secrets are held in :class:`Secret`, whose ``repr``/``str`` never
shows the value, so a stray log line or traceback cannot leak the app key, master secret or token.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from getui_async.errors import ConfigError
from getui_async.shard import Shard

__all__ = [
    "DEFAULT_BASE_URL",
    "CampaignSettings",
    "Credentials",
    "Mode",
    "PaceSettings",
    "ProbeSettings",
    "RetrySettings",
    "Secret",
    "Settings",
    "SignCredentials",
    "UsageError",
    "check_base_url",
    "is_loopback_host",
]

DEFAULT_BASE_URL: Final = "https://restapi.getui.com/v2"
ENV_APP_ID: Final = "GETUI_APP_ID"
ENV_APP_KEY: Final = "GETUI_APP_KEY"
ENV_MASTER_SECRET: Final = "GETUI_MASTER_SECRET"
ENV_BASE_URL: Final = "GETUI_BASE_URL"

#: Getui limits we build against (docs/getui-api.md §2 and §6).
MAX_BATCH_SIZE: Final = 200
MAX_LIST_CHUNK: Final = 1000
DEFAULT_LIST_CHUNK: Final = 200  # the cap is UNCERTAIN (200 or 1000): default to the safe one
DEFAULT_CONCURRENCY: Final = 64
AUTH_CALLS_PER_MIN: Final = 100
#: Getui's largest documented reply (a 1000-cid status map) is far below this.
DEFAULT_MAX_REPLY_BYTES: Final = 4 * 1024 * 1024

_REDACTED: Final = "********"


class UsageError(ConfigError):
    """A bad flag value or combination of flags (exit 2); the message names the flag."""


class Secret:
    """A string that hides itself from ``repr``, ``str`` and formatting; ``reveal()`` gets it back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value: call only where it goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_REDACTED}')"

    def __str__(self) -> str:
        return _REDACTED

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Validate an API base URL and return it without a trailing slash.

    TLS is mandatory for real endpoints; plain ``http://`` is accepted only for loopback hosts
    (the bundled mock server), so credentials never cross a network in clear text.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {url!r} is not an http(s) URL with a host")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"base URL {url!r} uses plain http: only https is allowed, except for loopback hosts"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {url!r} must not have a query or fragment")
    return url.strip().rstrip("/")


def _as_secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """The app's identity: ``app_id`` is public (it is in every URL); key and secret are not."""

    app_id: str
    app_key: Secret
    master_secret: Secret

    def __init__(self, *, app_id: str, app_key: str | Secret, master_secret: str | Secret) -> None:
        object.__setattr__(self, "app_id", (app_id or "").strip())
        object.__setattr__(self, "app_key", _as_secret(app_key))
        object.__setattr__(self, "master_secret", _as_secret(master_secret))
        _require(
            (ENV_APP_ID, self.app_id),
            (ENV_APP_KEY, self.app_key.reveal().strip()),
            (ENV_MASTER_SECRET, self.master_secret.reveal().strip()),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read ``GETUI_APP_ID``, ``GETUI_APP_KEY`` and ``GETUI_MASTER_SECRET``."""
        env = os.environ if environ is None else environ
        return cls(
            app_id=env.get(ENV_APP_ID, ""),
            app_key=env.get(ENV_APP_KEY, ""),
            master_secret=env.get(ENV_MASTER_SECRET, ""),
        )


def _require(*named: tuple[str, str]) -> None:
    """Refuse missing credentials (naming every missing variable) and an app id that cannot be a path."""
    missing = [env for env, value in named if not value]
    if missing:
        raise ConfigError(
            "missing Getui credentials: set " + ", ".join(missing) + " (empty values do not count)"
        )
    app_id = dict(named).get(ENV_APP_ID, "")
    if "/" in app_id or any(c.isspace() for c in app_id):
        raise ConfigError("GETUI_APP_ID must not contain '/' or white space")


@dataclass(frozen=True, kw_only=True)
class SignCredentials:
    """The app id and master secret alone: what checks Getui's receipt signs (no app key is involved)."""

    app_id: str
    master_secret: Secret

    def __init__(self, *, app_id: str, master_secret: str | Secret) -> None:
        object.__setattr__(self, "app_id", (app_id or "").strip())
        object.__setattr__(self, "master_secret", _as_secret(master_secret))
        _require((ENV_APP_ID, self.app_id), (ENV_MASTER_SECRET, self.master_secret.reveal().strip()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SignCredentials:
        """Read ``GETUI_APP_ID`` and ``GETUI_MASTER_SECRET``."""
        env = os.environ if environ is None else environ
        return cls(app_id=env.get(ENV_APP_ID, ""), master_secret=env.get(ENV_MASTER_SECRET, ""))


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RetrySettings:
    """How hard to try one request: attempts, a deadline, and jittered exponential backoff.

    ``zero_waits`` keeps the same decisions but sleeps 0 s: for tests.
    """

    max_attempts: int = 6
    deadline_s: float = 300.0
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    zero_waits: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        _positive("deadline_s", self.deadline_s)
        _positive("backoff_initial_s", self.backoff_initial_s, allow_zero=True)
        _positive("backoff_max_s", self.backoff_max_s, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a :class:`~getui_async.client.GetuiClient` needs.

    Build with keywords, or with :meth:`from_env` which reads the ``GETUI_*`` variables.
    """

    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    #: How long to wait for Getui's reply (no bytes for this long: the request failed).
    request_timeout_s: float = 15.0
    #: The whole attempt (connect, send, the last byte of the reply) must end within this; ``None``
    #: means ``request_timeout_s``, so a server that drips one byte a second cannot hold a request.
    attempt_timeout_s: float | None = None
    #: A reply body larger than this (after decompression) fails the attempt as a TransportError.
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    connect_timeout_s: float = 5.0
    #: Sockets in the pool; the engine raises it to at least its concurrency.
    connector_limit: int = 100
    keepalive_timeout_s: float = 30.0
    #: Refresh the token this long before its ``expire_time`` (tokens live one day).
    token_refresh_margin_s: float = 600.0
    #: Getui allows 100 /auth calls a minute; we never go above this.
    auth_calls_per_min: int = AUTH_CALLS_PER_MIN
    #: ``DELETE /auth/{token}`` when the client closes.
    delete_token_on_close: bool = False
    #: Length of Getui's per-minute rate windows; a throttle reply pauses until the next one.
    throttle_window_s: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", check_base_url(self.base_url))
        for name in ("request_timeout_s", "connect_timeout_s", "keepalive_timeout_s"):
            _positive(name, getattr(self, name))
        _positive("token_refresh_margin_s", self.token_refresh_margin_s, allow_zero=True)
        _positive("throttle_window_s", self.throttle_window_s)
        if self.attempt_timeout_s is not None:
            _positive("attempt_timeout_s", self.attempt_timeout_s)
        if self.max_reply_bytes < 1024:
            raise ConfigError(f"max_reply_bytes must be >= 1024, got {self.max_reply_bytes!r}")
        if self.connector_limit < 1:
            raise ConfigError(f"connector_limit must be >= 1, got {self.connector_limit!r}")
        if not 1 <= self.auth_calls_per_min <= AUTH_CALLS_PER_MIN:
            raise ConfigError(f"auth_calls_per_min must be 1..{AUTH_CALLS_PER_MIN}")

    @property
    def attempt_deadline_s(self) -> float:
        """The total time one attempt may take (``attempt_timeout_s``, else ``request_timeout_s``)."""
        return self.request_timeout_s if self.attempt_timeout_s is None else self.attempt_timeout_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Credentials and ``GETUI_BASE_URL`` from the environment; keywords override."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if env.get(ENV_BASE_URL, "").strip():
            kwargs["base_url"] = env[ENV_BASE_URL]
        if "credentials" not in overrides:
            kwargs["credentials"] = Credentials.from_env(env)
        kwargs.update(overrides)
        return cls(**kwargs)


class Mode(str, enum.Enum):
    """Which Getui endpoint carries a campaign (``--mode``)."""

    AUTO = "auto"  # identical content -> list task; personalized -> batch of 200
    SINGLE = "single"  # push/single/cid, one recipient per request
    BATCH = "batch"  # push/single/batch/cid, up to 200 per request
    LIST = "list"  # push/list/message once, then push/list/cid chunks


@dataclass(frozen=True, kw_only=True)
class PaceSettings:
    """When and to whom a campaign may send: windows, quota waits, exclusions, caps.

    Times stay text here (``--window``, ``--tz``, ``--quota-reset``, ``--deadline`` as given); the engine
    parses them with :meth:`getui_async.schedule.Schedule.from_flags`, which names the flag at fault.
    """

    window: str | None = None
    tz: str = "Asia/Shanghai"
    #: Outside the window: stop (exit 3, resumable) instead of waiting.
    no_wait: bool = False
    #: A daily-quota reply waits for the quota reset instead of stopping.
    wait_quota: bool = False
    quota_reset: str = "00:00"
    deadline: str | None = None
    exclude: tuple[str, ...] = ()
    #: A SQLite file or a ``postgresql://`` URL (``--ledger``, ``GETUI_LEDGER``).
    ledger: str | None = None
    #: The zone a ledger created by this run counts its days in (None: the default, Asia/Shanghai).
    ledger_tz: str | None = None
    #: Send to recipients the ledger remembers as dead (``--no-suppress``).
    no_suppress: bool = False
    max_per_day: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude", tuple(self.exclude))
        if self.max_per_day is not None:
            if self.max_per_day < 1:
                raise UsageError(f"--max-per-day {self.max_per_day}: must be at least 1")
            if self.ledger is None:
                raise UsageError(f"--max-per-day {self.max_per_day}: needs --ledger PATH")

    @property
    def gated(self) -> bool:
        """True when requests pass a :class:`~getui_async.window.WindowGate` (a window or quota waits)."""
        return self.window is not None or self.wait_quota


#: The breaker's probe: recipients sent and settled before any later record goes (``--halt-after``).
DEFAULT_HALT_AFTER: Final = 1000
#: The share of dead cids in the probe that halts the run (``--halt-dead-ratio``; 0 turns it off).
DEFAULT_HALT_DEAD_RATIO: Final = 0.5


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """Where a run pauses to look at what it sent: a canary's end, and the breaker's probe.

    ``canary``: send this many recipients, then stop (exit 3, resumable). The breaker sends the first
    ``halt_after`` recipients, waits for their outcomes, and halts the run when at least
    ``halt_dead_ratio`` of them are dead cids (the wrong app or environment); it costs about one round
    trip. ``halt_dead_ratio=0`` turns it off.
    """

    canary: int | None = None
    halt_after: int = DEFAULT_HALT_AFTER
    halt_dead_ratio: float = DEFAULT_HALT_DEAD_RATIO

    def __post_init__(self) -> None:
        if self.canary is not None and self.canary < 1:
            raise UsageError(f"--canary {self.canary}: must be at least 1")
        if self.halt_after < 1:
            raise UsageError(f"--halt-after {self.halt_after}: must be at least 1")
        if not 0.0 <= self.halt_dead_ratio <= 1.0:
            raise UsageError(f"--halt-dead-ratio {self.halt_dead_ratio}: must be 0..1 (0 turns it off)")

    @property
    def breaker(self) -> bool:
        """True when the breaker judges the probe (a ratio above 0)."""
        return self.halt_dead_ratio > 0


@dataclass(frozen=True, kw_only=True)
class CampaignSettings:
    """How one campaign run behaves (the ``send`` options)."""

    mode: Mode = Mode.AUTO
    #: Requests in flight at once.
    concurrency: int = DEFAULT_CONCURRENCY
    #: Requests per second across all workers; ``None`` = no fixed limit (adaptive on throttling).
    rate_per_s: float | None = None
    batch_size: int = MAX_BATCH_SIZE
    list_chunk: int = DEFAULT_LIST_CHUNK
    #: Stable id that makes request_ids deterministic; derived from the message when ``None``.
    campaign_id: str | None = None
    #: Ask Getui to accept and deliver asynchronously (no per-cid status; results say ``accepted``).
    is_async: bool = False
    dry_run: bool = False
    #: A send to test devices (``--test``): the summary and the results sidecar say so.
    test: bool = False
    #: After a stop request, how long in-flight requests may take before they are abandoned.
    drain_timeout_s: float = 30.0
    #: Results are flushed at least this often and fsynced at each checkpoint.
    checkpoint_interval_s: float = 1.0
    #: Send windows, quota waits, exclusions and frequency caps (``--window`` ... ``--max-per-day``).
    pace: PaceSettings = field(default_factory=PaceSettings)
    #: With ``retry_failed``: also re-send list recipients whose chunk may have reached Getui (its reply
    #: was lost); a list push has no request_id, so this may deliver twice.
    retry_unconfirmed: bool = False
    #: Send only the recipients this shard owns (``--shard I/N``); None sends the whole input.
    shard: Shard | None = None
    #: A canary's end and the breaker's probe (``--canary``, ``--halt-after``, ``--halt-dead-ratio``).
    probe: ProbeSettings = field(default_factory=ProbeSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        if not 1 <= self.concurrency <= 10_000:
            raise ConfigError(f"concurrency must be 1..10000, got {self.concurrency!r}")
        if self.rate_per_s is not None:
            _positive("rate_per_s", self.rate_per_s)
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch_size must be 1..{MAX_BATCH_SIZE}, got {self.batch_size!r}")
        if not 1 <= self.list_chunk <= MAX_LIST_CHUNK:
            raise ConfigError(f"list_chunk must be 1..{MAX_LIST_CHUNK}, got {self.list_chunk!r}")
        if self.campaign_id is not None and not self.campaign_id.strip():
            raise ConfigError("campaign_id must not be empty")
        _positive("drain_timeout_s", self.drain_timeout_s, allow_zero=True)
        _positive("checkpoint_interval_s", self.checkpoint_interval_s)
