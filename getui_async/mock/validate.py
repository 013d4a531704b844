"""Strict request-body validation, written from docs/getui-api.md alone (never from our client's code).

The mock is an oracle: if our body builder breaks a documented rule, the mock must say so, in Getui's
own 20001 message style (``{param} is invalid``, ``can not be empty``, ``size over limit``,
``type error``, ``contains duplicate {param}``). Parameter names are dotted paths from the body's root,
e.g. ``push_message.notification.title size over limit``. Unknown keys are refused wherever the docs
list the keys.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "Invalid",
    "ListMessage",
    "ListPush",
    "Message",
    "SinglePush",
    "validate_batch",
    "validate_list_message",
    "validate_list_push",
    "validate_single",
]

MAX_INT32: Final = 2_147_483_647
MAX_TTL_MS: Final = 259_200_000
MAX_BATCH: Final = 200
CHOOSE_ONE: Final = "please choose one of notification and transmission and revoke"

_GROUP_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_DURATION: Final = re.compile(r"(\d{13})-(\d{13})")
_BADGE: Final = re.compile(r"[+-]?\d+")
_NUMERIC: Final = re.compile(r"[+-]?\d{1,10}")
_STRATEGY_KEYS: Final = frozenset(
    {"default", "ios", "st", "hw", "xm", "vv", "mz", "op", "hx", "hwq", "ho", "hoshw"}
)
#: The optional settings of the Java SDK's ``Settings`` DTO and their JSON types (list = int array).
_SETTINGS_FLAGS: Final[dict[str, type]] = {
    "custom_callback": str,
    "filter_notify_off": bool,
    "active_days": int,
    "need_backup": bool,
    "activate_filter_day": int,
    "activate_filter_type": int,
    "lst": int,
    "active_push": bool,
    "active_push_platform": list,
}
_OPTION_KEYS: Final = frozenset({"ALL", "HW", "XM", "VV", "OP", "MZ", "HO", "UPS"})

#: click_type -> (the field it requires, that field's limit); None = nothing required.
_GT_CLICK: Final[dict[str, tuple[str, int] | None]] = {
    "intent": ("intent", 4096),
    "url": ("url", 1024),
    "payload": ("payload", 3072),
    "payload_custom": ("payload", 3072),
    "startapp": None,
    "none": None,
}
_UPS_CLICK: Final[dict[str, tuple[str, int] | None]] = {
    "intent": ("intent", 4096),
    "url": ("url", 1024),
    "payload": ("payload", 3072),
    "startapp": None,
    "none": None,
}
_HARMONY_CLICK: Final[dict[str, tuple[str, int] | None]] = {
    "want": ("want", 4096),
    "payload": ("payload", 3072),
    "startapp": None,
}
#: Optional string fields of push_message.notification and their limits (None = no documented limit).
_NOTIFICATION_STRINGS: Final[dict[str, int | None]] = {
    "big_text": 512,
    "big_image": 1024,
    "logo": 64,
    "logo_url": 256,
    "channel_id": 64,
    "channel_name": 64,
    "ring_name": None,
    "thread_id": None,
    "category": None,
    "slot_type": None,
    "want": None,
}
_NOTIFICATION_INTS: Final[dict[str, tuple[int, int]]] = {
    "channel_level": (0, 4),
    "badge_add_num": (-MAX_INT32, MAX_INT32),
    "redisplay_freq": (0, MAX_INT32),
    "redisplay_duration": (0, MAX_INT32),
}
#: Numbers the Java SDK sends as JSON strings (``GTNotification``: ``String channelLevel`` ...).
_SDK_STRINGS: Final = frozenset({"channel_level", "badge_add_num", "notify_id"})
_NOTIFICATION_OWN: Final = frozenset({"title", "body", "click_type", "intent", "url", "payload", "notify_id"})
_IOS_ALERT_KEYS: Final = frozenset(
    {"title", "body", "subtitle", "loc-key", "loc-args", "title-loc-key", "title-loc-args"}
    | {"subtitle-loc-key", "subtitle-loc-args", "action-loc-key", "launch-image"}
)
_APS_KEYS: Final = frozenset(
    {"alert", "content-available", "sound", "category", "thread-id", "timestamp", "event"}
    | {"dismissal-date", "content-state"}
)


class Invalid(Exception):
    """A request Getui refuses with code 20001; ``msg`` is Getui's message."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


@dataclass(frozen=True, slots=True)
class Message:
    """What a delivery records about the message: its override id and title, when it has them;
    ``group_name`` is the report group the push counts toward."""

    notify_id: int | None
    title: str | None
    group_name: str | None = None


NO_MESSAGE: Final = Message(None, None)


@dataclass(frozen=True, slots=True)
class SinglePush:
    """A valid single push (one cid or one alias)."""

    request_id: str
    target: str
    message: Message


@dataclass(frozen=True, slots=True)
class ListMessage:
    """A valid ``/push/list/message`` body; ``ttl_ms`` is ``settings.ttl`` when given."""

    request_id: str | None
    message: Message
    ttl_ms: int | None


@dataclass(frozen=True, slots=True)
class ListPush:
    """A valid ``/push/list/cid`` or ``/push/list/alias`` body."""

    taskid: str
    targets: list[str]
    is_async: bool
    need_alias_detail: bool


# --- primitives -------------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{path} type error")
    return value


def _keys(obj: dict[str, Any], allowed: Collection[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise Invalid(f"{_join(path, key)} is invalid")


def _str(
    obj: dict[str, Any], key: str, path: str, limit: int | None, *, required: bool = False
) -> str | None:
    """The string at ``obj[key]``: an empty or missing required one and an over-long one are refused."""
    value = obj.get(key)
    if value.__class__ is str and value and (limit is None or len(value) <= limit):
        return value  # the fast path: names are built only for errors
    if value is None or value == "":
        if required:
            raise Invalid(f"{_join(path, key)} can not be empty")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{_join(path, key)} type error")
    raise Invalid(f"{_join(path, key)} size over limit")


def _int(
    obj: dict[str, Any], key: str, path: str, lo: int, hi: int, *, numeric_string: bool = False
) -> int | None:
    """An int in ``[lo, hi]``; with ``numeric_string`` also a JSON string of decimal digits ("3").

    The official Java SDK declares ``notify_id``, ``channel_level``, ``badge_add_num`` (and the
    vendor/Harmony ``notify_id``) as ``String``, so Getui accepts them as numeric strings.
    """
    value = obj.get(key)
    if value is None:
        return None
    if numeric_string and value.__class__ is str:
        if not _NUMERIC.fullmatch(value):
            raise Invalid(f"{_join(path, key)} is invalid")
        value = int(value)
    elif value.__class__ is not int:  # bool is an int subclass, and not a number here
        raise Invalid(f"{_join(path, key)} type error")
    if not lo <= value <= hi:
        raise Invalid(f"{_join(path, key)} is invalid")
    return int(value)


def _bool(obj: dict[str, Any], key: str, path: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise Invalid(f"{_join(path, key)} type error")
    return value


def _exactly_one(obj: dict[str, Any], keys: tuple[str, ...], msg: str) -> str:
    present = [k for k in keys if obj.get(k) is not None]
    if len(present) != 1:
        raise Invalid(msg)
    return present[0]


@dataclass(frozen=True, slots=True)
class _ClickRule:
    """click_type -> (the field it requires, its limit) or None; ``fields`` = every such field, once."""

    table: dict[str, tuple[str, int] | None]
    fields: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, table: dict[str, tuple[str, int] | None]) -> _ClickRule:
        return cls(table, tuple(dict.fromkeys(v for v in table.values() if v is not None)))


_GT_RULE: Final = _ClickRule.of(_GT_CLICK)
_UPS_RULE: Final = _ClickRule.of(_UPS_CLICK)
_HARMONY_RULE: Final = _ClickRule.of(_HARMONY_CLICK)


def _click(obj: dict[str, Any], path: str, rule: _ClickRule) -> None:
    """``click_type`` is required, one of the rule's, and brings its required field within its limit."""
    click = _str(obj, "click_type", path, None, required=True)
    if click not in rule.table:
        raise Invalid(f"{_join(path, 'click_type')} is invalid")
    needed = rule.table[click]
    if needed is not None:
        _str(obj, needed[0], path, needed[1], required=True)
    for name, limit in rule.fields:
        if name in obj:
            _str(obj, name, path, limit)


def _request_id(body: dict[str, Any], *, required: bool) -> str | None:
    value = body.get("request_id")
    if value is None or value == "":
        if required:
            raise Invalid("request_id can not be empty")
        return None
    if not isinstance(value, str):
        raise Invalid("request_id type error")
    if len(value) > 32:
        raise Invalid("request_id size over limit")
    if len(value) < 10:
        raise Invalid("request_id is invalid")
    return value


# --- message parts ----------------------------------------------------------------------------------


def _notification(n: dict[str, Any], path: str) -> Message:
    title = _str(n, "title", path, 50, required=True)
    _str(n, "body", path, 256, required=True)
    _click(n, path, _GT_RULE)
    for key in n:  # only the keys present: most bodies carry few of the optional fields
        if key in _NOTIFICATION_STRINGS:
            _str(n, key, path, _NOTIFICATION_STRINGS[key])
        elif key in _NOTIFICATION_INTS:
            _int(n, key, path, *_NOTIFICATION_INTS[key], numeric_string=key in _SDK_STRINGS)
        elif key not in _NOTIFICATION_OWN:
            raise Invalid(f"{path}.{key} is invalid")
    if n.get("big_text") and n.get("big_image"):
        raise Invalid(f"{path}.big_text and {path}.big_image cannot setting at same time")
    return Message(_int(n, "notify_id", path, 0, MAX_INT32, numeric_string=True), title)


def _revoke(value: Any, path: str) -> None:
    r = _obj(value, path)
    _keys(r, ("old_task_id", "force"), path)
    _str(r, "old_task_id", path, None, required=True)
    _bool(r, "force", path)


def _push_message(value: Any) -> Message:
    path = "push_message"
    if value is None:
        raise Invalid(f"{path} can not be empty")
    pm = _obj(value, path)
    _keys(pm, ("notification", "transmission", "revoke", "duration", "network_type"), path)
    kind = _exactly_one(pm, ("notification", "transmission", "revoke"), CHOOSE_ONE)
    _int(pm, "network_type", path, 0, 1)
    duration = _str(pm, "duration", path, None)
    if duration is not None:
        match = _DURATION.fullmatch(duration)
        if match is None or int(match[2]) - int(match[1]) <= 600_000:
            raise Invalid(f"{path}.duration is invalid")
    if kind == "notification":
        return _notification(_obj(pm["notification"], f"{path}.notification"), f"{path}.notification")
    if kind == "transmission":
        _str(pm, "transmission", path, 3072, required=True)
    else:
        _revoke(pm["revoke"], f"{path}.revoke")
    return NO_MESSAGE


def _settings(value: Any) -> int | None:
    """Validate ``settings``; return its ttl (ms) when given."""
    if value is None:
        return None
    path = "settings"
    s = _obj(value, path)
    _keys(s, {"ttl", "strategy", *_SETTINGS_FLAGS}, path)  # speed/schedule_time: push/all and tag only
    ttl = _int(s, "ttl", path, -1, MAX_TTL_MS)
    if "strategy" in s:
        strategy = _obj(s["strategy"], f"{path}.strategy")
        _keys(strategy, _STRATEGY_KEYS, f"{path}.strategy")
        for key in strategy:
            _int(strategy, key, f"{path}.strategy", 1, 4)
    for key in _SETTINGS_FLAGS & s.keys():
        kind = _SETTINGS_FLAGS[key]
        if kind is bool:
            _bool(s, key, path)
        elif kind is str:
            _str(s, key, path, None)
        elif kind is int:
            _int(s, key, path, -MAX_INT32, MAX_INT32)
        else:
            _platforms(s[key], f"{path}.{key}")
    return ttl


def _platforms(value: Any, path: str) -> None:
    """``active_push_platform``: the SDK's ``Set<Integer>``: an array of 1 Android, 2 iOS, 3 Harmony."""
    if not isinstance(value, list):
        raise Invalid(f"{path} type error")
    for item in value:
        if item.__class__ is not int:
            raise Invalid(f"{path} type error")
        if item not in (1, 2, 3):
            raise Invalid(f"{path} is invalid")


def _ups(value: Any, path: str) -> Message:
    ups = _obj(value, path)
    _keys(ups, ("notification", "transmission", "revoke", "options"), path)
    if "options" in ups:
        options = _obj(ups["options"], f"{path}.options")
        _keys(options, _OPTION_KEYS, f"{path}.options")
        for key, pairs in options.items():
            _obj(pairs, f"{path}.options.{key}")
    kind = _exactly_one(ups, ("notification", "transmission", "revoke"), CHOOSE_ONE)
    if kind == "transmission":
        _str(ups, "transmission", path, 3072, required=True)
        return NO_MESSAGE
    if kind == "revoke":
        _revoke(ups["revoke"], f"{path}.revoke")
        return NO_MESSAGE
    npath = f"{path}.notification"
    n = _obj(ups["notification"], npath)
    _keys(n, ("title", "body", "click_type", "intent", "url", "payload", "notify_id"), npath)
    title = _str(n, "title", npath, 50, required=True)
    _str(n, "body", npath, 256, required=True)
    _click(n, npath, _UPS_RULE)
    return Message(_int(n, "notify_id", npath, 0, MAX_INT32, numeric_string=True), title)


def _ios(value: Any, path: str) -> str | None:
    """Validate ``push_channel.ios``; return the alert title when there is one."""
    ios = _obj(value, path)
    allowed = ("type", "aps", "auto_badge", "payload", "multimedia", "apns-collapse-id", "laId")
    _keys(ios, allowed, path)
    kind = _str(ios, "type", path, None)
    if kind is not None and kind not in ("notify", "voip", "liveactivity"):
        raise Invalid(f"{path}.type is invalid")
    badge = _str(ios, "auto_badge", path, None)
    if badge is not None and not _BADGE.fullmatch(badge):
        raise Invalid(f"{path}.auto_badge is invalid")
    _str(ios, "payload", path, None)
    _str(ios, "apns-collapse-id", path, 64)
    _multimedia(ios.get("multimedia"), f"{path}.multimedia")
    if "aps" not in ios:
        return None
    aps = _obj(ios["aps"], f"{path}.aps")
    _keys(aps, _APS_KEYS, f"{path}.aps")
    _int(aps, "content-available", f"{path}.aps", 0, 1)
    for key in ("sound", "category", "thread-id"):
        _str(aps, key, f"{path}.aps", None)
    if "alert" not in aps:
        return None
    apath = f"{path}.aps.alert"
    alert = _obj(aps["alert"], apath)
    _keys(alert, _IOS_ALERT_KEYS, apath)
    for key, item in alert.items():
        ok = isinstance(item, str) or (key.endswith("-args") and isinstance(item, list))
        if not ok:
            raise Invalid(f"{apath}.{key} type error")
    return _str(alert, "title", apath, None)


def _multimedia(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise Invalid(f"{path} type error")
    if len(value) > 3:
        raise Invalid(f"{path} size over limit")
    for item in value:
        media = _obj(item, path)
        _keys(media, ("url", "type", "only_wifi"), path)
        _str(media, "url", path, None, required=True)
        if _int(media, "type", path, 1, 3) is None:
            raise Invalid(f"{path}.type can not be empty")
        _bool(media, "only_wifi", path)


def _harmony(value: Any, path: str) -> Message:
    h = _obj(value, path)
    _keys(h, ("notification", "transmission", "custom", "revoke", "options"), path)
    choose = "please choose one of notification and transmission and custom and revoke"
    kind = _exactly_one(h, ("notification", "transmission", "custom", "revoke"), choose)
    if kind == "transmission":
        _str(h, "transmission", path, 3072, required=True)
    elif kind == "custom":
        _obj(h["custom"], f"{path}.custom")
    elif kind == "revoke":
        _obj(h["revoke"], f"{path}.revoke")
    else:
        npath = f"{path}.notification"
        n = _obj(h["notification"], npath)
        _keys(n, ("title", "body", "category", "click_type", "want", "payload", "notify_id"), npath)
        title = _str(n, "title", npath, 50, required=True)
        _str(n, "body", npath, 256, required=True)
        _str(n, "category", npath, 50)
        _click(n, npath, _HARMONY_RULE)
        return Message(_int(n, "notify_id", npath, 0, MAX_INT32, numeric_string=True), title)
    return NO_MESSAGE


def _push_channel(value: Any) -> Message:
    """Validate ``push_channel``; return the first override id / title found (Android, iOS, Harmony)."""
    if value is None:
        return NO_MESSAGE
    path = "push_channel"
    pc = _obj(value, path)
    _keys(pc, ("android", "ios", "harmony"), path)
    found: list[Message] = []
    if "android" in pc:
        android = _obj(pc["android"], f"{path}.android")
        _keys(android, ("ups",), f"{path}.android")
        if "ups" not in android:
            raise Invalid(f"{path}.android.ups can not be empty")
        found.append(_ups(android["ups"], f"{path}.android.ups"))
    if "ios" in pc:
        found.append(Message(None, _ios(pc["ios"], f"{path}.ios")))
    if "harmony" in pc:
        found.append(_harmony(pc["harmony"], f"{path}.harmony"))
    notify_id = next((m.notify_id for m in found if m.notify_id is not None), None)
    title = next((m.title for m in found if m.title is not None), None)
    return Message(notify_id, title)


def _group_name(body: dict[str, Any]) -> str | None:
    name = _str(body, "group_name", "", 100)
    if name is not None and not _GROUP_NAME.fullmatch(name):
        raise Invalid("group_name is invalid")
    _str(body, "task_name", "", 100)  # the SDK's PushDTO.taskName: a free-form string
    return name


def _message_parts(body: dict[str, Any]) -> tuple[Message, int | None]:
    """The parts single and list messages share: push_message, push_channel, settings, group_name."""
    own = _push_message(body.get("push_message"))
    channel = _push_channel(body.get("push_channel"))
    ttl = _settings(body.get("settings"))
    group = _group_name(body)
    if channel is NO_MESSAGE and group is None:
        return own, ttl
    notify_id = own.notify_id if own.notify_id is not None else channel.notify_id
    return Message(notify_id, own.title if own.title is not None else channel.title, group), ttl


def _targets(value: Any, target_key: str) -> list[Any]:
    """``audience`` must be exactly ``{target_key: [...]}`` with a non-empty list."""
    if value is None:
        raise Invalid("audience can not be empty")
    audience = _obj(value, "audience")
    if target_key == "alias":
        _keys(audience, ("alias", "alias_type"), "audience")
        _alias_type(audience)
    else:
        _keys(audience, (target_key,), "audience")
    targets = audience.get(target_key)
    if targets is None or targets == []:
        raise Invalid(f"{target_key} can not be empty")
    if not isinstance(targets, list):
        raise Invalid(f"{target_key} type error")
    return targets


def _alias_type(audience: dict[str, Any]) -> None:
    """``audience.alias_type``: the SDK's ``String aliasType`` (a numeric string such as "1")."""
    value = audience.get("alias_type")
    if value is None:
        return
    if value.__class__ is int:
        return
    if not isinstance(value, str):
        raise Invalid("audience.alias_type type error")
    if not _NUMERIC.fullmatch(value):
        raise Invalid("audience.alias_type is invalid")


# --- request bodies ---------------------------------------------------------------------------------

_SINGLE_KEYS: Final = (
    "request_id",
    "task_name",
    "group_name",
    "settings",
    "audience",
    "push_message",
    "push_channel",
)
_LIST_MESSAGE_KEYS: Final = (
    "request_id",
    "task_name",
    "group_name",
    "settings",
    "push_message",
    "push_channel",
)


def validate_single(body: Any, target_key: str) -> SinglePush:
    """A ``/push/single/{cid,alias}`` body (also one ``msg_list`` item of a batch)."""
    body = _obj(body, "body")
    _keys(body, _SINGLE_KEYS, "")
    request_id = _request_id(body, required=True)
    assert request_id is not None
    targets = _targets(body.get("audience"), target_key)
    if len(targets) > 1:
        raise Invalid(f"{target_key} size over limit")
    target = targets[0]
    if not isinstance(target, str) or not target:
        raise Invalid(f"{target_key} is invalid")
    message, _ttl = _message_parts(body)
    return SinglePush(request_id, target, message)


def validate_batch(body: Any) -> tuple[bool, list[Any]]:
    """A ``/push/single/batch/*`` envelope: ``(is_async, raw items)``; items are validated one by one."""
    body = _obj(body, "body")
    _keys(body, ("is_async", "msg_list"), "")
    is_async = _bool(body, "is_async", "")
    items = body.get("msg_list")
    if items is None or items == []:
        raise Invalid("msg_list can not be empty")
    if not isinstance(items, list):
        raise Invalid("msg_list type error")
    if len(items) > MAX_BATCH:
        raise Invalid("msg_list size over limit")
    return is_async, items


def validate_list_message(body: Any) -> ListMessage:
    """A ``/push/list/message`` body: a message without an audience."""
    body = _obj(body, "body")
    _keys(body, _LIST_MESSAGE_KEYS, "")
    request_id = _request_id(body, required=False)
    message, ttl = _message_parts(body)
    return ListMessage(request_id, message, ttl)


def validate_list_push(body: Any, target_key: str, limit: int) -> ListPush:
    """A ``/push/list/{cid,alias}`` body; duplicates and over-long audiences are refused whole."""
    body = _obj(body, "body")
    # The SDK's AudienceDTO always sends need_alias_detail (false on cid pushes, where it means nothing).
    _keys(body, ("audience", "taskid", "is_async", "need_alias_detail"), "")
    taskid = _str(body, "taskid", "", None, required=True)
    assert taskid is not None
    targets = _targets(body.get("audience"), target_key)
    if len(targets) > limit:
        raise Invalid(f"{target_key} size over limit")
    if not all(isinstance(t, str) and t for t in targets):
        raise Invalid(f"{target_key} is invalid")
    if len(set(targets)) != len(targets):
        raise Invalid(f"contains duplicate {target_key}")
    return ListPush(taskid, targets, _bool(body, "is_async", ""), _bool(body, "need_alias_detail", ""))
