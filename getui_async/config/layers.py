"""Settings layered from three sources: a command-line flag, then ``GETUI_*`` variables, then a TOML file.

The file is ``--config FILE``, else the first of ``./getui-push.toml`` and
``$XDG_CONFIG_HOME/getui-push/config.toml`` (``~/.config`` when the variable is unset). Its keys are flat
and typed by :data:`CONFIG_SCHEMA`, checked on load, so a quoted number or a typo'd choice is refused by
name instead of misread. Value rules live in the settings classes; this module only picks the layer.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from getui_async._suggest import closest
from getui_async.errors import ConfigError
from getui_async.messages import ClickType
from getui_async.messages.vendors import VendorClass
from getui_async.schedule import Schedule, parse_zone
from getui_async.shard import ENV_SHARD, Shard, parse_shard
from getui_async.sources import FORMATS

from .settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LIST_CHUNK,
    ENV_APP_ID,
    ENV_APP_KEY,
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    CampaignSettings,
    Credentials,
    Mode,
    PaceSettings,
    RetrySettings,
    Settings,
    SignCredentials,
    UsageError,
)

__all__ = [
    "CONFIG_NAME",
    "CONFIG_SCHEMA",
    "ENV_XM_CHANNEL_ID",
    "config_for",
    "find_config",
    "has_credentials",
    "load_config",
    "pick",
    "resolve_options",
    "resolve_pace",
    "resolve_settings",
    "resolve_shard",
    "resolve_sign_credentials",
    "resolve_vendor",
]

#: Where a config file is looked for without ``--config``, in order (the first that exists is used).
CONFIG_NAME: Final = "getui-push.toml"
ENV_XM_CHANNEL_ID: Final = "GETUI_XM_CHANNEL_ID"
#: The ledger (a file or a postgresql:// URL), below ``--ledger`` and above the config file.
ENV_LEDGER: Final = "GETUI_LEDGER"
CLICK_TYPES: Final = tuple(click.value for click in ClickType)
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
MODES: Final = tuple(m.value for m in Mode)
VENDOR_CLASSES: Final = tuple(c.value for c in VendorClass)

#: Keys a config file may hold (flat) and what each must be: a TOML type or a choice list.
CONFIG_SCHEMA: Final[Mapping[str, str | tuple[str, ...]]] = {
    "app_id": "string", "app_key": "string", "master_secret": "string", "base_url": "string",
    "format": FORMATS, "title": "string", "body": "string", "click_type": CLICK_TYPES, "url": "string",
    "intent": "string", "payload": "string", "message": "string", "mode": MODES, "concurrency": "integer",
    "rate": "number", "list_chunk": "integer", "max_attempts": "integer", "timeout_s": "number",
    "campaign": "string", "drain_timeout_s": "number", "log_level": LOG_LEVELS, "async": "boolean",
    "vendor_class": VENDOR_CLASSES, "vendor_category": "string", "xm_channel_id": "string",
    # pacing
    "window": "string", "tz": "string", "no_wait": "boolean", "wait_quota": "boolean",
    "quota_reset": "string", "deadline": "string", "exclude": "array", "ledger": "string",
    "max_per_day": "integer", "ledger_tz": "string", "no_suppress": "boolean",
    # metrics
    "metrics_port": "integer", "metrics_host": "string", "pushgateway": "string", "push_interval_s": "number",
}  # fmt: skip
CONFIG_KEYS: Final = frozenset(CONFIG_SCHEMA)
_TOML_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
}
_TOML_NAMES: Final[Mapping[type, str]] = {
    str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"
}  # fmt: skip

log = logging.getLogger(__name__)


def find_config(environ: Mapping[str, str], cwd: Path | None = None) -> str | None:
    """The config file used without ``--config``: ./getui-push.toml, else the XDG one; None if neither."""
    xdg = environ.get("XDG_CONFIG_HOME", "").strip()
    home = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".config"
    for candidate in ((cwd or Path.cwd()) / CONFIG_NAME, home / "getui-push" / "config.toml"):
        if candidate.is_file():
            return str(candidate)
    return None


def config_for(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """The config file a command uses: ``--config``, else the one :func:`find_config` finds."""
    return load_config(getattr(args, "config", None) or find_config(environ))


def load_config(path: str | None) -> dict[str, Any]:
    """The TOML config file as a flat dict; unknown keys are an error naming them."""
    if path is None:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415
    else:  # pragma: no cover
        import tomli as tomllib  # noqa: PLC0415
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {_unknown_key(unknown[0])}")
    for key, value in data.items():
        problem = _config_value_problem(CONFIG_SCHEMA[key], value)
        if problem:
            raise ConfigError(f"{path}: setting {key!r} {problem}")
    if {"app_key", "master_secret"} & set(data) and file.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s holds secrets but is readable by other users (chmod 600 it)", path)
    return data


def _unknown_key(key: str) -> str:
    """An unknown key with its closest known one (a list of every key hides the answer), else the list."""
    close = closest(key, sorted(CONFIG_KEYS))
    hint = f"did you mean {close}?" if close else f"known: {', '.join(sorted(CONFIG_KEYS))}"
    return f"unknown setting {key!r}; {hint}"


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _toml_type(value: Any) -> str:
    return _a(_TOML_NAMES.get(type(value), "date/time"))


def _config_value_problem(expected: str | tuple[str, ...], value: Any) -> str | None:
    """Why ``value`` does not fit ``expected``, or None. Never shows the value itself: it may be a secret."""
    if isinstance(expected, tuple):
        if isinstance(value, str) and value in expected:
            return None
        shown = repr(value) if isinstance(value, str) else _toml_type(value)
        return f"must be one of {', '.join(expected)}; got {shown}"
    if type(value) in _TOML_TYPES[expected]:  # exact types: TOML true is not the integer 1
        return None
    return f"must be {_a(expected)}; got {_toml_type(value)}"


def pick(args: argparse.Namespace, config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """The flag ``name`` when given (not None, not False), else the config file's, else ``default``."""
    value = getattr(args, name, None)
    if value is not None and value is not False:
        return value
    return config.get(name, default)


def _first(config: Mapping[str, Any], environ: Mapping[str, str], env: str, key: str) -> str:
    """A credential or URL: the environment variable ``env`` when set, else the config file's ``key``."""
    return environ.get(env, "").strip() or str(config.get(key, "") or "")


def resolve_settings(
    args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str]
) -> Settings:
    """Credentials and client settings: flag > environment > config file."""
    first = functools.partial(_first, config, environ)
    credentials = Credentials(
        app_id=first(ENV_APP_ID, "app_id"),
        app_key=first(ENV_APP_KEY, "app_key"),
        master_secret=first(ENV_MASTER_SECRET, "master_secret"),
    )
    base_url = getattr(args, "base_url", None) or first(ENV_BASE_URL, "base_url") or None
    kwargs: dict[str, Any] = {"credentials": credentials}
    if base_url:
        kwargs["base_url"] = base_url
    timeout = pick(args, config, "timeout_s")
    if timeout is not None:
        kwargs["request_timeout_s"] = float(timeout)
    attempts = pick(args, config, "max_attempts")
    if attempts is not None:
        kwargs["retry"] = RetrySettings(max_attempts=int(attempts))
    return Settings(**kwargs)


def resolve_sign_credentials(config: Mapping[str, Any], environ: Mapping[str, str]) -> SignCredentials:
    """The app id and master secret (environment > config file): all that checks receipt signs."""
    first = functools.partial(_first, config, environ)
    return SignCredentials(
        app_id=first(ENV_APP_ID, "app_id"), master_secret=first(ENV_MASTER_SECRET, "master_secret")
    )


def has_credentials(config: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """True when an app id is set in the environment or the config file (a command may then ask Getui)."""
    return bool(environ.get(ENV_APP_ID, "").strip() or config.get("app_id"))


def resolve_vendor(
    args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str | None, str | None]:
    """``(vendor_class, vendor_category, xm_channel_id)``: flag > environment > config file."""
    vendor_class = pick(args, config, "vendor_class", VendorClass.MARKETING.value)
    category = pick(args, config, "vendor_category")
    xm_channel_id = environ.get(ENV_XM_CHANNEL_ID, "").strip() or config.get("xm_channel_id") or None
    return vendor_class, category, xm_channel_id


def resolve_options(args: argparse.Namespace, config: Mapping[str, Any]) -> CampaignSettings:
    """The campaign run's settings (flag > config file)."""
    kwargs: dict[str, Any] = {
        "mode": pick(args, config, "mode", Mode.AUTO.value),
        "concurrency": int(pick(args, config, "concurrency", DEFAULT_CONCURRENCY)),
        "list_chunk": int(pick(args, config, "list_chunk", DEFAULT_LIST_CHUNK)),
        "campaign_id": pick(args, config, "campaign"),
        "is_async": bool(args.is_async if args.is_async is not None else config.get("async", False)),
        "dry_run": bool(args.dry_run),
        "test": bool(getattr(args, "test", False)),
    }
    rate = pick(args, config, "rate")
    if rate is not None:
        kwargs["rate_per_s"] = float(rate)
    drain = pick(args, config, "drain_timeout_s")
    if drain is not None:
        kwargs["drain_timeout_s"] = float(drain)
    if hasattr(args, "window"):  # send (demo has no pacing flags)
        kwargs["pace"] = resolve_pace(args, config)
    return CampaignSettings(**kwargs)


def resolve_shard(args: argparse.Namespace, environ: Mapping[str, str]) -> Shard | None:
    """``--shard``, else ``GETUI_SHARD``, as a Shard (None: the whole input); a bad spec is exit 2."""
    flag = getattr(args, "shard", None)
    if flag is not None:
        return parse_shard(flag, origin="--shard", environ=environ)
    env = environ.get(ENV_SHARD, "").strip()
    return parse_shard(env, origin=ENV_SHARD, environ=environ) if env else None


def resolve_pace(
    args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> PaceSettings:
    """The pacing flags (flag > config file; the ledger also ``GETUI_LEDGER``), checked now: a bad value
    is exit 2 before anything is sent."""
    exclude = getattr(args, "exclude", None) or config.get("exclude") or []
    if not all(isinstance(path, str) and path for path in exclude):
        raise UsageError("exclude: each entry must be a file name (a non-empty string)")
    for path in exclude:
        if not Path(path).is_file():
            raise UsageError(f"--exclude {path}: no such file (or not a regular file)")
    ledger = getattr(args, "ledger", None) or environ.get(ENV_LEDGER, "").strip() or config.get("ledger")
    if ledger is not None and Path(ledger).is_dir():
        raise UsageError(f"--ledger {ledger}: is a directory; give the path of a ledger file")
    pace = PaceSettings(
        window=pick(args, config, "window"),
        tz=pick(args, config, "tz", PaceSettings.tz),
        no_wait=bool(pick(args, config, "no_wait", False)),
        wait_quota=bool(pick(args, config, "wait_quota", False)),
        quota_reset=pick(args, config, "quota_reset", PaceSettings.quota_reset),
        deadline=pick(args, config, "deadline"),
        exclude=tuple(exclude),
        ledger=ledger,
        ledger_tz=pick(args, config, "ledger_tz"),
        no_suppress=bool(pick(args, config, "no_suppress", False)),
        max_per_day=pick(args, config, "max_per_day"),
    )
    if pace.ledger_tz is not None:
        parse_zone(pace.ledger_tz, "--ledger-tz")
    # ScheduleError (exit 2) names the flag and the value.
    Schedule.from_flags(window=pace.window, tz=pace.tz, quota_reset=pace.quota_reset, deadline=pace.deadline)
    return pace
