"""Settings as data (:mod:`.settings`) and how the command line layers them (:mod:`.layers`).

The package root re-exports only the frozen settings, which import nothing but the error tree, so the
engine can import ``getui_async.config`` without pulling in the flag, environment and file layering.
"""

from __future__ import annotations

from .settings import (
    AUTH_CALLS_PER_MIN,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_LIST_CHUNK,
    DEFAULT_MAX_REPLY_BYTES,
    ENV_APP_ID,
    ENV_APP_KEY,
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    MAX_BATCH_SIZE,
    MAX_LIST_CHUNK,
    CampaignSettings,
    Credentials,
    Mode,
    PaceSettings,
    ProbeSettings,
    RetrySettings,
    Secret,
    Settings,
    SignCredentials,
    UsageError,
    check_base_url,
    is_loopback_host,
)

__all__ = [
    "AUTH_CALLS_PER_MIN",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_LIST_CHUNK",
    "DEFAULT_MAX_REPLY_BYTES",
    "ENV_APP_ID",
    "ENV_APP_KEY",
    "ENV_BASE_URL",
    "ENV_MASTER_SECRET",
    "MAX_BATCH_SIZE",
    "MAX_LIST_CHUNK",
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
