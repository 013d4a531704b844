"""Getui's field rules: the one table of length limits, the value ranges, and the structure checks.

Every check of a message's shape reads this module, whether the message comes from the typed builders
or from a ``--message`` file (docs/getui-api.md §3). Each checker adds to ``required`` the dotted paths
of strings that must not be empty once rendered, for the compiler to enforce per recipient.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from getui_async.errors import MessageError

_NOTE: Final = "push_message.notification"
_ANDROID: Final = "push_channel.android"
_UPS_NOTE: Final = "push_channel.android.ups.notification"
_IOS: Final = "push_channel.ios"

#: Getui's maximum length, in characters (Python ``len``), of every limited field, by dotted path.
LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        f"{_NOTE}.title": 50,
        f"{_NOTE}.body": 256,
        f"{_NOTE}.big_text": 512,
        f"{_NOTE}.big_image": 1024,
        f"{_NOTE}.logo": 64,
        f"{_NOTE}.logo_url": 256,
        f"{_NOTE}.channel_id": 64,
        f"{_NOTE}.channel_name": 64,
        f"{_NOTE}.url": 1024,
        f"{_NOTE}.intent": 4096,
        f"{_NOTE}.payload": 3072,
        "push_message.transmission": 3072,
        f"{_UPS_NOTE}.title": 50,
        f"{_UPS_NOTE}.body": 256,
        f"{_UPS_NOTE}.url": 1024,
        f"{_UPS_NOTE}.intent": 4096,
        f"{_UPS_NOTE}.payload": 3072,
        "push_channel.android.ups.transmission": 3072,
        "push_channel.harmony.transmission": 3072,
        f"{_IOS}.apns-collapse-id": 64,
        # UNCERTAIN: no source states a limit for the iOS payload; we assume the transmission limit.
        f"{_IOS}.payload": 3072,
        "group_name": 100,
    }
)
NOTIFY_ID_MAX: Final = 2_147_483_647
TTL_MIN_MS: Final = -1
TTL_MAX_MS: Final = 259_200_000
_STRATEGY_MIN, _STRATEGY_MAX = 1, 4
_IOS_TYPES: Final = ("notify", "voip", "liveactivity")
_MESSAGE_KEYS: Final = ("push_message", "push_channel", "settings", "group_name")
# UNCERTAIN: the docs say "digits, letters, - and _"; we read "letters" as ASCII letters.
_GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")


class ClickType(str, enum.Enum):
    """What tapping a notification does; each value but startapp/none needs its own field."""

    INTENT = "intent"
    URL = "url"
    PAYLOAD = "payload"
    PAYLOAD_CUSTOM = "payload_custom"
    STARTAPP = "startapp"
    NONE = "none"


#: The field each click_type requires (None: nothing).
CLICK_FIELD: Final[Mapping[ClickType, str | None]] = MappingProxyType(
    {
        ClickType.INTENT: "intent",
        ClickType.URL: "url",
        ClickType.PAYLOAD: "payload",
        ClickType.PAYLOAD_CUSTOM: "payload",
        ClickType.STARTAPP: None,
        ClickType.NONE: None,
    }
)

# ---------------------------------------------------------------------------------------------------
# Structure rules: one function per section, shared by the builders and MessageTemplate.from_dict.
# Each adds to ``required`` the dotted paths of strings that must not be empty once rendered.
# ---------------------------------------------------------------------------------------------------

_Checker: TypeAlias = Callable[[Any, str, set[str]], None]


def _show(value: Any) -> str:
    """A short description of a bad value: message text can be long, so never echo it whole."""
    return repr(value) if isinstance(value, (int, float)) or value is None else type(value).__name__


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        raise MessageError(path, "is required")
    if not isinstance(value, Mapping):
        raise MessageError(path, f"must be an object, got {_show(value)}")
    return value


def _check_int(value: Any, path: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MessageError(path, f"must be an integer from {low} to {high}, got {_show(value)}")


_DIGITS: Final = re.compile(r"[0-9]{1,10}")

#: Notification fields Getui's Java SDK declares ``String`` (so sends as JSON strings) although they
#: hold numbers; each takes an integer or a string of ASCII digits, in this range, sent on as written.
NUMERIC_FIELDS: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "notify_id": (0, NOTIFY_ID_MAX),
        "channel_level": (0, 4),
        # UNCERTAIN: Getui lists badge_add_num without a range; Huawei's badge add_num (which it feeds)
        # must be > 0 and < 100 (dcloudio/unidocs-zh uni-cloud-push/options.md).
        "badge_add_num": (1, 99),
    }
)


def _check_number(value: Any, path: str, low: int, high: int) -> None:
    """An integer, or a numeric string as Getui's own SDK sends it: both are checked for range."""
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
            raise MessageError(path, f"must be an integer (or a string of digits) from {low} to {high}")
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MessageError(
            path, f"must be an integer (or a string of digits) from {low} to {high}, got {_show(value)}"
        )


def _check_numbers(note: Mapping[str, Any], path: str) -> None:
    for key, (low, high) in NUMERIC_FIELDS.items():
        if note.get(key) is not None:
            _check_number(note[key], f"{path}.{key}", low, high)


def _exactly_one(section: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> str:
    present = [key for key in keys if section.get(key) is not None]
    if len(present) != 1:
        raise MessageError(
            path, f"needs exactly one of {', '.join(keys)}, got {', '.join(present) or 'none'}"
        )
    return present[0]


def _require(section: Mapping[str, Any], key: str, path: str, required: set[str], why: str = "") -> None:
    if section.get(key) is None:
        raise MessageError(f"{path}.{key}", f"is required{why}")
    required.add(f"{path}.{key}")


def _click_type(value: Any, path: str) -> ClickType:
    if value is None:
        raise MessageError(path, "is required")
    try:
        return ClickType(value)
    except ValueError:
        choices = ", ".join(c.value for c in ClickType)
        raise MessageError(path, f"must be one of {choices}") from None


def _check_notification(value: Any, path: str, required: set[str]) -> None:
    note = _obj(value, path)
    _require(note, "title", path, required)
    _require(note, "body", path, required)
    click = _click_type(note.get("click_type"), f"{path}.click_type")
    field = CLICK_FIELD[click]
    if field is not None:
        _require(note, field, path, required, f" when click_type is '{click.value}'")
    _check_numbers(note, path)
    if note.get("big_text") is not None and note.get("big_image") is not None:
        raise MessageError(f"{path}.big_image", "cannot be combined with big_text")


def _check_payload_section(value: Any, path: str, required: set[str]) -> None:
    """A push_message or an android ups: exactly one of notification, transmission, revoke."""
    section = _obj(value, path)
    kind = _exactly_one(section, path, ("notification", "transmission", "revoke"))
    if kind == "notification":
        _check_notification(section[kind], f"{path}.notification", required)
    elif kind == "transmission":
        required.add(f"{path}.transmission")
    else:
        _require(_obj(section[kind], f"{path}.revoke"), "old_task_id", f"{path}.revoke", required)


def _check_android(value: Any, path: str, required: set[str]) -> None:
    android = _obj(value, path)
    _check_payload_section(android.get("ups"), f"{path}.ups", required)
    note = android["ups"].get("notification")
    if isinstance(note, Mapping) and note.get("click_type") in _UPS_NO_CLICKS:
        raise MessageError(
            f"{path}.ups.notification.click_type",
            f"'{note['click_type']}' is not available on vendor channels (use payload or startapp)",
        )
    if android["ups"].get("options") is not None:
        _obj(android["ups"]["options"], f"{path}.ups.options")


#: Vendor (ups) notifications cannot "not launch the app" (docs/getui-api.md §3 push_channel).
_UPS_NO_CLICKS: Final = frozenset({"payload_custom"})


def _check_ios(value: Any, path: str, required: set[str]) -> None:
    ios = _obj(value, path)
    if ios.get("type", "notify") not in _IOS_TYPES:
        raise MessageError(f"{path}.type", f"must be one of {', '.join(_IOS_TYPES)}")
    if ios.get("aps") is not None:
        aps = _obj(ios["aps"], f"{path}.aps")
        if aps.get("content-available") is not None:
            _check_int(aps["content-available"], f"{path}.aps.content-available", 0, 1)


def _check_harmony(value: Any, path: str, required: set[str]) -> None:
    """Only the numeric fields: the rest of Harmony's notification is Getui's to check."""
    harmony = _obj(value, path)
    if harmony.get("notification") is not None:
        _check_numbers(_obj(harmony["notification"], f"{path}.notification"), f"{path}.notification")


def _check_push_channel(value: Any, path: str, required: set[str]) -> None:
    channel = _obj(value, path)
    if channel.get("harmony") is not None:
        _check_harmony(channel["harmony"], f"{path}.harmony", required)
    if channel.get("android") is not None:
        _check_android(channel["android"], f"{path}.android", required)
    if channel.get("ios") is not None:
        _check_ios(channel["ios"], f"{path}.ios", required)


def _check_settings(value: Any, path: str, required: set[str]) -> None:
    settings = _obj(value, path)
    if settings.get("ttl") is not None:
        _check_int(settings["ttl"], f"{path}.ttl", TTL_MIN_MS, TTL_MAX_MS)
    if settings.get("strategy") is not None:
        for key, level in _obj(settings["strategy"], f"{path}.strategy").items():
            _check_int(level, f"{path}.strategy.{key}", _STRATEGY_MIN, _STRATEGY_MAX)


def _check_message(value: Any, path: str, required: set[str]) -> None:
    message = _obj(value, path or "message")
    unknown = sorted(set(message) - set(_MESSAGE_KEYS))
    if unknown:
        raise MessageError(unknown[0], f"is not a message key (expected {', '.join(_MESSAGE_KEYS)})")
    _check_payload_section(message.get("push_message"), "push_message", required)
    if message.get("push_channel") is not None:
        _check_push_channel(message["push_channel"], "push_channel", required)
    if message.get("settings") is not None:
        _check_settings(message["settings"], "settings", required)


def _plain(value: Any, path: str) -> Any:
    """A private deep copy as plain JSON types (dict/list/str/...); None-valued keys are dropped."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MessageError(path or "message", "is not valid Unicode text (a lone surrogate)") from None
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MessageError(path or "message", f"has a key that is not a string: {_show(key)}")
            if item is not None:
                out[key] = _plain(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}.{index}") for index, item in enumerate(value)]
    raise MessageError(path or "message", f"is a {type(value).__name__}, not a JSON value")


def _lookup(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}
