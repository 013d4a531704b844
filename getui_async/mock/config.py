"""The mock server's settings: one frozen dataclass, patchable at runtime with ``dataclasses.replace``.

Units are in the names (``_ms``, ``_s``); rates are probabilities in [0, 1]. ``Literal`` fields are
checked against their choices, so a JSON patch or a CLI flag cannot set an unknown policy.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

__all__ = [
    "DEMO_APP_ID",
    "DEMO_APP_KEY",
    "DEMO_MASTER_SECRET",
    "FIXED_AT_START",
    "MockConfig",
    "Phase",
    "choices_of",
]

DEMO_APP_ID: Final = "demo-app"
DEMO_APP_KEY: Final = "demo-app-key"
DEMO_MASTER_SECRET: Final = "demo-master-secret"  # a public demo value, not a secret

#: Settings that cannot change once the server listens (the receipt sender is made at start).
FIXED_AT_START: Final = frozenset(
    {"host", "port", "receipts_url", "receipts_vendor_failed", "receipts_lost", "receipts_bad_sign"}
)

Phase = Literal["before", "after"]

_RATES: Final = (
    "http_5xx_rate",
    "reset_rate",
    "hang_rate",
    "busy_rate",
    "online_ratio",
    "ignore_ratio",
    "display_ratio",
    "click_ratio",
    "receipts_vendor_failed",
    "receipts_lost",
    "receipts_bad_sign",
)
_POSITIVE: Final = ("token_lifetime_s", "auth_per_minute", "list_chunk_limit", "throttle_window_s")
_NON_NEGATIVE: Final = (
    "latency_ms",
    "latency_jitter_ms",
    "hang_s",
    "auth_max_skew_s",
    "list_task_ttl_s",
    "record_bodies",
    "quota_reset_s",
)
_POSITIVE_OR_NONE: Final = ("throttle_per_window", "daily_quota", "revoke_tokens_every_s")


@dataclass(frozen=True, kw_only=True)
class MockConfig:
    """How the mock behaves: credentials, limits, reply policies and fault injection (all seeded).

    Faults apply to push/user/report routes, and to /auth only with ``faults_on_auth``. Phase
    ``"before"`` means the request is not processed; ``"after"`` means it is processed (delivered) and
    then the reply is lost: the hard case for exactly-once.
    """

    # listening and identity (credentials are demo values; repr hides them anyway)
    host: str = "127.0.0.1"
    port: int = 0
    app_id: str = DEMO_APP_ID
    app_key: str = field(default=DEMO_APP_KEY, repr=False)
    master_secret: str = field(default=DEMO_MASTER_SECRET, repr=False)
    seed: int = 0

    # auth
    token_lifetime_s: float = 86_400.0
    auth_per_minute: int = 100
    auth_max_skew_s: float = 600.0

    # behaviours the docs leave open (docs/getui-api.md §9): one setting each
    list_chunk_limit: int = 1000
    list_task_ttl_s: float = 7200.0
    duplicate_reply: Literal["empty", "error"] = "empty"
    batch_invalid_item: Literal["fail_batch", "drop_item"] = "fail_batch"
    list_invalid_cid: Literal["drop", "fail"] = "drop"
    #: A revoke naming a task that never delivered to the cid: accepted as a no-op (and counted), or 20001.
    revoke_unmatched: Literal["accept", "refuse"] = "accept"
    invalid_cid_prefix: str = "invalid"
    invalid_cids: frozenset[str] = frozenset()
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    online_ratio: float = 0.70
    ignore_ratio: float = 0.03
    # reports: share of received pushes displayed, and of displayed ones clicked (seeded per cid)
    display_ratio: float = 0.80
    click_ratio: float = 0.10
    # the last N accepted request bodies kept per endpoint (GET /_mock/requests); 0 keeps none
    record_bodies: int = 20
    #: Where receipt lines for what the mock delivers are POSTed, as Getui's callbacks are (None: no
    #: receipts). Displayed and clicked follow ``display_ratio`` and ``click_ratio``; the shares below
    #: are of offline deliveries a vendor refuses, and of lines lost or sent with a bad sign on purpose.
    receipts_url: str | None = None
    receipts_vendor_failed: float = 0.05
    receipts_lost: float = 0.0
    receipts_bad_sign: float = 0.0

    # faults
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    http_5xx_rate: float = 0.0
    reset_rate: float = 0.0
    reset_phase: Phase = "after"
    hang_rate: float = 0.0
    hang_phase: Phase = "after"
    hang_s: float = 30.0
    throttle_per_window: int | None = None
    throttle_window_s: float = 60.0
    throttle_code: int = 10005
    busy_rate: float = 0.0
    revoke_tokens_every_s: float | None = None
    daily_quota: int | None = None
    #: When the quota day begins, in seconds after midnight Beijing time (Getui: 0); lets a test put
    #: the reset a few seconds ahead.
    quota_reset_s: float = 0.0
    quota_code: int = 30009
    list_quota_code: int = 30008
    host_change: bool = False
    faults_on_auth: bool = False

    def __post_init__(self) -> None:
        # JSON patches and CLI values arrive as lists and dicts: freeze them.
        object.__setattr__(self, "invalid_cids", frozenset(self.invalid_cids))
        frozen_aliases = {str(alias): tuple(cids) for alias, cids in dict(self.aliases).items()}
        object.__setattr__(self, "aliases", MappingProxyType(frozen_aliases))
        for name, choices in choices_of(MockConfig).items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of: {', '.join(choices)}")
        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.online_ratio + self.ignore_ratio > 1.0:
            raise ValueError("online_ratio + ignore_ratio must not exceed 1")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in _POSITIVE_OR_NONE:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")

    def fault_settings(self) -> dict[str, Any]:
        """The runtime-patchable settings as JSON values (``GET``/``POST /_mock/faults``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in FIXED_AT_START or not f.repr:
                continue
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Mapping):
                value = {alias: list(cids) for alias, cids in value.items()}
            out[f.name] = value
        return out


@functools.cache
def choices_of(cls: type[Any]) -> dict[str, tuple[str, ...]]:
    """``{field: choices}`` for every ``Literal``-typed field (used for validation and CLI choices)."""
    hints = typing.get_type_hints(cls)
    return {name: typing.get_args(hint) for name, hint in hints.items() if typing.get_origin(hint) is Literal}
