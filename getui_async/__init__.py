"""getui_async: push campaigns through the Getui (个推) REST API v2, fast and exactly once.

Public surface (pinned by ``tests/test_public_api.py``)::

    async with GetuiClient(Settings.from_env()) as client:   # one pooled aiohttp session
        result = await client.push_single_cid(...)
    summary = await run_campaign(source, template, settings)  # the engine behind `getui-push send`
"""

from __future__ import annotations

from ._version import __version__
from .config import CampaignSettings, Credentials, Mode, RetrySettings, Secret, Settings
from .errors import (
    Action,
    ApiError,
    ConfigError,
    FatalApiError,
    GetuiError,
    HostChangedError,
    InputError,
    InvalidTargetError,
    MessageError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    TokenExpiredError,
    TransportError,
)

__all__ = [
    "Action",
    "ApiError",
    "CampaignSettings",
    "ConfigError",
    "Credentials",
    "FatalApiError",
    "GetuiError",
    "HostChangedError",
    "InputError",
    "InvalidTargetError",
    "MessageError",
    "Mode",
    "QuotaExceededError",
    "RateLimitedError",
    "RejectedError",
    "RetrySettings",
    "RetryableError",
    "Secret",
    "Settings",
    "TokenExpiredError",
    "TransportError",
    "__version__",
]
