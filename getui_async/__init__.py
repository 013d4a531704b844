"""getui_async: push campaigns through the Getui (个推) REST API v2, fast and exactly once.

The public surface (pinned by ``tests/test_public_api.py``)::

    async with GetuiClient(Settings.from_env()) as client:          # one pooled aiohttp session
        result = await client.push_single_cid(cid, template.shared(), request_id=rid)

    summary = await run_campaign("recipients.csv", MessageTemplate.simple(title="Hi {name}", body="..."),
                                 Settings.from_env(), CampaignSettings(mode=Mode.AUTO), out="results.jsonl")
"""

from __future__ import annotations

from ._version import __version__
from .client import BatchResult, CidCheck, GetuiClient, ListResult, Push, PushResult
from .config import CampaignSettings, Credentials, Mode, PaceSettings, RetrySettings, Secret, Settings
from .engine import Campaign, Summary, run_campaign
from .errors import (
    Action,
    ApiError,
    ConfigError,
    DuplicateRequestError,
    FatalApiError,
    GetuiError,
    HostChangedError,
    InputError,
    InvalidTargetError,
    MessageError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    ResultsFileError,
    RetryableError,
    ServerBusyError,
    ServerError,
    TokenExpiredError,
    TransportError,
)
from .messages import (
    AndroidChannel,
    ClickType,
    IosChannel,
    Message,
    MessageTemplate,
    Notification,
    PushChannel,
    PushSettings,
    Rendered,
)
from .results import Status
from .sources import BadRecord, Record, RecordSource, SourceOptions, open_source

__all__ = [
    "Action",
    "AndroidChannel",
    "ApiError",
    "BadRecord",
    "BatchResult",
    "Campaign",
    "CampaignSettings",
    "CidCheck",
    "ClickType",
    "ConfigError",
    "Credentials",
    "DuplicateRequestError",
    "FatalApiError",
    "GetuiClient",
    "GetuiError",
    "HostChangedError",
    "InputError",
    "InvalidTargetError",
    "IosChannel",
    "ListResult",
    "Message",
    "MessageError",
    "MessageTemplate",
    "Mode",
    "Notification",
    "PaceSettings",
    "Push",
    "PushChannel",
    "PushResult",
    "PushSettings",
    "QuotaExceededError",
    "RateLimitedError",
    "Record",
    "RecordSource",
    "RejectedError",
    "Rendered",
    "ResultsFileError",
    "RetrySettings",
    "RetryableError",
    "Secret",
    "ServerBusyError",
    "ServerError",
    "Settings",
    "SourceOptions",
    "Status",
    "Summary",
    "TokenExpiredError",
    "TransportError",
    "__version__",
    "open_source",
    "run_campaign",
]
