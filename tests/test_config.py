"""Settings: credentials from the environment, validation, and secrets that never show."""

from __future__ import annotations

import pickle

import pytest

from getui_async.config import (
    CampaignSettings,
    Credentials,
    Mode,
    RetrySettings,
    Secret,
    Settings,
    check_base_url,
)
from getui_async.errors import ConfigError

ENV = {
    "GETUI_APP_ID": "app-1",
    "GETUI_APP_KEY": "key-very-secret-1",
    "GETUI_MASTER_SECRET": "master-very-secret-2",
}


def test_from_env_reads_credentials_and_base_url() -> None:
    """Settings.from_env takes the GETUI_* variables; keywords override."""
    s = Settings.from_env({**ENV, "GETUI_BASE_URL": "http://127.0.0.1:8080/v2/"}, request_timeout_s=3)
    assert s.credentials.app_id == "app-1"
    assert s.credentials.app_key.reveal() == "key-very-secret-1"
    assert s.base_url == "http://127.0.0.1:8080/v2"
    assert s.request_timeout_s == 3


def test_default_base_url() -> None:
    """Without GETUI_BASE_URL the official endpoint is used."""
    assert Settings.from_env(ENV).base_url == "https://restapi.getui.com/v2"


@pytest.mark.parametrize("missing", ["GETUI_APP_ID", "GETUI_APP_KEY", "GETUI_MASTER_SECRET"])
def test_missing_or_empty_credentials_name_the_variable(missing: str) -> None:
    """A missing or blank credential raises ConfigError naming the variable."""
    for env in ({k: v for k, v in ENV.items() if k != missing}, {**ENV, missing: "  "}):
        with pytest.raises(ConfigError, match=missing):
            Credentials.from_env(env)


def test_secrets_never_show() -> None:
    """repr/str/format of settings and Secret never contain the secret values."""
    s = Settings.from_env(ENV)
    texts = [
        repr(s),
        str(s),
        repr(s.credentials),
        f"{s.credentials.app_key}",
        str(s.credentials.master_secret),
    ]
    for text in texts:
        assert "very-secret" not in text
    assert "app-1" in repr(s.credentials)


def test_secret_cannot_be_pickled() -> None:
    """Pickling (e.g. to a process pool or a cache) would write the secret out in clear."""
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_secret_equality_compares_values() -> None:
    """Two Secrets with the same value are equal; different ones are not."""
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")


@pytest.mark.parametrize(
    "url",
    ["http://getui.example.com/v2", "ftp://127.0.0.1/v2", "restapi.getui.com", "https://x/v2?q=1"],
)
def test_bad_base_urls(url: str) -> None:
    """Plain http to a non-loopback host, other schemes and query strings are refused."""
    with pytest.raises(ConfigError):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://restapi.getui.com/v2/", "http://127.0.0.1:9/v2", "http://localhost/v2", "http://[::1]:80/v2"],
)
def test_good_base_urls(url: str) -> None:
    """https anywhere and http on loopback are accepted, without a trailing slash."""
    assert not check_base_url(url).endswith("/")


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after construction."""
    s = Settings.from_env(ENV)
    with pytest.raises(AttributeError):
        s.base_url = "https://other/v2"  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [{"concurrency": 0}, {"batch_size": 201}, {"list_chunk": 1001}, {"rate_per_s": 0}, {"campaign_id": " "}],
)
def test_campaign_settings_validation(kwargs: dict[str, object]) -> None:
    """Out-of-range campaign settings raise ConfigError."""
    with pytest.raises(ConfigError):
        CampaignSettings(**kwargs)  # type: ignore[arg-type]


def test_mode_accepts_strings() -> None:
    """--mode values become the Mode enum."""
    assert CampaignSettings(mode="batch").mode is Mode.BATCH  # type: ignore[arg-type]


def test_retry_settings_validation() -> None:
    """At least one attempt is required."""
    with pytest.raises(ConfigError):
        RetrySettings(max_attempts=0)


def test_attempt_deadline_defaults_to_the_request_timeout() -> None:
    """Without attempt_timeout_s, one attempt may take request_timeout_s in total (--timeout-s bounds it)."""
    assert Settings.from_env(ENV, request_timeout_s=7).attempt_deadline_s == 7
    assert Settings.from_env(ENV, request_timeout_s=7, attempt_timeout_s=20).attempt_deadline_s == 20


@pytest.mark.parametrize(
    ("field", "value"), [("attempt_timeout_s", 0), ("attempt_timeout_s", -1), ("max_reply_bytes", 100)]
)
def test_transport_guards_are_validated(field: str, value: float) -> None:
    """A non-positive attempt deadline or a reply cap under 1 KiB is a ConfigError naming the setting."""
    with pytest.raises(ConfigError, match=field):
        Settings.from_env(ENV, **{field: value})


def test_reply_cap_default_is_a_few_mib() -> None:
    """Replies are capped at 4 MiB by default."""
    assert Settings.from_env(ENV).max_reply_bytes == 4 * 1024 * 1024
