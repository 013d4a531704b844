"""The exported names are a promise: this test fails when one disappears or appears unannounced."""

from __future__ import annotations

import getui_async

EXPECTED = {
    "Action", "AndroidChannel", "ApiError", "BadRecord", "BatchResult", "Campaign", "CampaignSettings",
    "CidCheck", "ClickType", "ConfigError", "Credentials", "DuplicateRequestError", "FatalApiError",
    "GetuiClient", "GetuiError", "HostChangedError", "InputError", "InvalidTargetError", "IosChannel",
    "ListResult", "Message", "MessageError", "MessageTemplate", "Mode", "Notification", "PaceSettings",
    "Push", "PushChannel", "PushResult", "PushSettings", "QuotaExceededError", "RateLimitedError", "Record",
    "RecordSource", "RejectedError", "Rendered", "ResultsFileError", "RetrySettings", "RetryableError",
    "Secret", "ServerBusyError", "ServerError", "Settings", "SourceOptions", "Status", "Summary",
    "TokenExpiredError", "TransportError", "__version__", "open_source", "run_campaign",
}  # fmt: skip


def test_all_is_pinned() -> None:
    """__all__ lists exactly the public names."""
    assert set(getui_async.__all__) == EXPECTED


def test_every_exported_name_exists() -> None:
    """Every name in __all__ is importable from the package."""
    missing = [name for name in getui_async.__all__ if not hasattr(getui_async, name)]
    assert missing == []


def test_typed_marker_ships() -> None:
    """py.typed is in the package, so type checkers use our hints."""
    from importlib.resources import files

    assert files("getui_async").joinpath("py.typed").is_file()
