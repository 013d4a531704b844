"""What a message is: ``push_message``, ``push_channel`` (Android UPS, iOS, Harmony), ``settings`` and
``group_name``, checked from docs/getui-api.md; single pushes and list messages share them.

Unknown keys are refused wherever the docs list the keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .checks import (
    MAX_INT32,
    ClickRule,
    Invalid,
    as_object,
    check_click,
    check_keys,
    exactly_one,
    get_bool,
    get_int,
    get_str,
)

__all__ = ["CHOOSE_ONE", "MAX_TTL_MS", "NO_MESSAGE", "Message", "Revoke", "message_parts"]

_T = TypeVar("_T")

MAX_TTL_MS: Final = 259_200_000
CHOOSE_ONE: Final = "please choose one of notification and transmission and revoke"

_GROUP_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_DURATION: Final = re.compile(r"(\d{13})-(\d{13})")
_BADGE: Final = re.compile(r"[+-]?\d+")
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
_GT_RULE: Final = ClickRule.of(_GT_CLICK)
_UPS_RULE: Final = ClickRule.of(_UPS_CLICK)
_HARMONY_RULE: Final = ClickRule.of(_HARMONY_CLICK)


@dataclass(frozen=True, slots=True)
class Revoke:
    """A revoke message: the task whose notification the device deletes; ``force`` (Getui channel only)
    deletes every notification of the app when the device does not know that task; ``via`` the channels
    that carry it (``getui`` = push_message, ``ups`` = Android vendors, ``harmony``)."""

    old_task_id: str
    force: bool
    via: frozenset[str]


@dataclass(frozen=True, slots=True)
class Message:
    """What a delivery records about the message: its override ids (``notify_id``, iOS
    ``apns-collapse-id``) and title, when it has them; ``group_name`` is the report group the push
    counts toward; ``revoke`` is set when the message deletes an earlier one instead of showing."""

    notify_id: int | None
    title: str | None
    group_name: str | None = None
    collapse_id: str | None = None
    revoke: Revoke | None = None


NO_MESSAGE: Final = Message(None, None)


def _notification(n: dict[str, Any], path: str) -> Message:
    title = get_str(n, "title", path, 50, required=True)
    get_str(n, "body", path, 256, required=True)
    check_click(n, path, _GT_RULE)
    for key in n:  # only the keys present: most bodies carry few of the optional fields
        if key in _NOTIFICATION_STRINGS:
            get_str(n, key, path, _NOTIFICATION_STRINGS[key])
        elif key in _NOTIFICATION_INTS:
            get_int(n, key, path, *_NOTIFICATION_INTS[key], numeric_string=key in _SDK_STRINGS)
        elif key not in _NOTIFICATION_OWN:
            raise Invalid(f"{path}.{key} is invalid")
    if n.get("big_text") and n.get("big_image"):
        raise Invalid(f"{path}.big_text and {path}.big_image cannot setting at same time")
    return Message(get_int(n, "notify_id", path, 0, MAX_INT32, numeric_string=True), title)


def _revoke(value: Any, path: str, via: str) -> Revoke:
    """``{old_task_id, force}`` on Getui's channel (``RevokeBean``); ``{old_task_id}`` on a vendor's."""
    r = as_object(value, path)
    check_keys(r, ("old_task_id", "force") if via == "getui" else ("old_task_id",), path)
    old_task_id = get_str(r, "old_task_id", path, None, required=True)
    assert old_task_id is not None
    return Revoke(old_task_id, get_bool(r, "force", path), frozenset((via,)))


def _push_message(value: Any) -> Message:
    path = "push_message"
    if value is None:
        raise Invalid(f"{path} can not be empty")
    pm = as_object(value, path)
    check_keys(pm, ("notification", "transmission", "revoke", "duration", "network_type"), path)
    kind = exactly_one(pm, ("notification", "transmission", "revoke"), CHOOSE_ONE)
    get_int(pm, "network_type", path, 0, 1)
    duration = get_str(pm, "duration", path, None)
    if duration is not None:
        match = _DURATION.fullmatch(duration)
        if match is None or int(match[2]) - int(match[1]) <= 600_000:
            raise Invalid(f"{path}.duration is invalid")
    if kind == "notification":
        return _notification(as_object(pm["notification"], f"{path}.notification"), f"{path}.notification")
    if kind == "transmission":
        get_str(pm, "transmission", path, 3072, required=True)
        return NO_MESSAGE
    return Message(None, None, revoke=_revoke(pm["revoke"], f"{path}.revoke", "getui"))


def _settings(value: Any) -> int | None:
    """Validate ``settings``; return its ttl (ms) when given."""
    if value is None:
        return None
    path = "settings"
    s = as_object(value, path)
    check_keys(s, {"ttl", "strategy", *_SETTINGS_FLAGS}, path)  # speed/schedule_time: push/all and tag only
    ttl = get_int(s, "ttl", path, -1, MAX_TTL_MS)
    if "strategy" in s:
        strategy = as_object(s["strategy"], f"{path}.strategy")
        check_keys(strategy, _STRATEGY_KEYS, f"{path}.strategy")
        for key in strategy:
            get_int(strategy, key, f"{path}.strategy", 1, 4)
    for key in _SETTINGS_FLAGS & s.keys():
        kind = _SETTINGS_FLAGS[key]
        if kind is bool:
            get_bool(s, key, path)
        elif kind is str:
            get_str(s, key, path, None)
        elif kind is int:
            get_int(s, key, path, -MAX_INT32, MAX_INT32)
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
    ups = as_object(value, path)
    check_keys(ups, ("notification", "transmission", "revoke", "options"), path)
    if "options" in ups:
        options = as_object(ups["options"], f"{path}.options")
        check_keys(options, _OPTION_KEYS, f"{path}.options")
        for key, pairs in options.items():
            as_object(pairs, f"{path}.options.{key}")
    kind = exactly_one(ups, ("notification", "transmission", "revoke"), CHOOSE_ONE)
    if kind == "transmission":
        get_str(ups, "transmission", path, 3072, required=True)
        return NO_MESSAGE
    if kind == "revoke":
        return Message(None, None, revoke=_revoke(ups["revoke"], f"{path}.revoke", "ups"))
    npath = f"{path}.notification"
    n = as_object(ups["notification"], npath)
    check_keys(n, ("title", "body", "click_type", "intent", "url", "payload", "notify_id"), npath)
    title = get_str(n, "title", npath, 50, required=True)
    get_str(n, "body", npath, 256, required=True)
    check_click(n, npath, _UPS_RULE)
    return Message(get_int(n, "notify_id", npath, 0, MAX_INT32, numeric_string=True), title)


def _ios(value: Any, path: str) -> Message:
    """Validate ``push_channel.ios``; return its ``apns-collapse-id`` and alert title when present."""
    ios = as_object(value, path)
    allowed = ("type", "aps", "auto_badge", "payload", "multimedia", "apns-collapse-id", "laId")
    check_keys(ios, allowed, path)
    kind = get_str(ios, "type", path, None)
    if kind is not None and kind not in ("notify", "voip", "liveactivity"):
        raise Invalid(f"{path}.type is invalid")
    badge = get_str(ios, "auto_badge", path, None)
    if badge is not None and not _BADGE.fullmatch(badge):
        raise Invalid(f"{path}.auto_badge is invalid")
    get_str(ios, "payload", path, None)
    collapse_id = get_str(ios, "apns-collapse-id", path, 64)
    _multimedia(ios.get("multimedia"), f"{path}.multimedia")
    return Message(None, _ios_title(ios, path), collapse_id=collapse_id)


def _ios_title(ios: dict[str, Any], path: str) -> str | None:
    if "aps" not in ios:
        return None
    aps = as_object(ios["aps"], f"{path}.aps")
    check_keys(aps, _APS_KEYS, f"{path}.aps")
    get_int(aps, "content-available", f"{path}.aps", 0, 1)
    for key in ("sound", "category", "thread-id"):
        get_str(aps, key, f"{path}.aps", None)
    if "alert" not in aps:
        return None
    apath = f"{path}.aps.alert"
    alert = as_object(aps["alert"], apath)
    check_keys(alert, _IOS_ALERT_KEYS, apath)
    for key, item in alert.items():
        ok = isinstance(item, str) or (key.endswith("-args") and isinstance(item, list))
        if not ok:
            raise Invalid(f"{apath}.{key} type error")
    return get_str(alert, "title", apath, None)


def _multimedia(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise Invalid(f"{path} type error")
    if len(value) > 3:
        raise Invalid(f"{path} size over limit")
    for item in value:
        media = as_object(item, path)
        check_keys(media, ("url", "type", "only_wifi"), path)
        get_str(media, "url", path, None, required=True)
        if get_int(media, "type", path, 1, 3) is None:
            raise Invalid(f"{path}.type can not be empty")
        get_bool(media, "only_wifi", path)


def _harmony(value: Any, path: str) -> Message:
    h = as_object(value, path)
    check_keys(h, ("notification", "transmission", "custom", "revoke", "options"), path)
    choose = "please choose one of notification and transmission and custom and revoke"
    kind = exactly_one(h, ("notification", "transmission", "custom", "revoke"), choose)
    if kind == "transmission":
        get_str(h, "transmission", path, 3072, required=True)
    elif kind == "custom":
        as_object(h["custom"], f"{path}.custom")
    elif kind == "revoke":
        return Message(None, None, revoke=_revoke(h["revoke"], f"{path}.revoke", "harmony"))
    else:
        npath = f"{path}.notification"
        n = as_object(h["notification"], npath)
        check_keys(n, ("title", "body", "category", "click_type", "want", "payload", "notify_id"), npath)
        title = get_str(n, "title", npath, 50, required=True)
        get_str(n, "body", npath, 256, required=True)
        get_str(n, "category", npath, 50)
        check_click(n, npath, _HARMONY_RULE)
        return Message(get_int(n, "notify_id", npath, 0, MAX_INT32, numeric_string=True), title)
    return NO_MESSAGE


def _push_channel(value: Any) -> Message:
    """Validate ``push_channel``; return the first override id / title found (Android, iOS, Harmony)."""
    if value is None:
        return NO_MESSAGE
    path = "push_channel"
    pc = as_object(value, path)
    check_keys(pc, ("android", "ios", "harmony"), path)
    found: list[Message] = []
    if "android" in pc:
        android = as_object(pc["android"], f"{path}.android")
        check_keys(android, ("ups",), f"{path}.android")
        if "ups" not in android:
            raise Invalid(f"{path}.android.ups can not be empty")
        found.append(_ups(android["ups"], f"{path}.android.ups"))
    if "ios" in pc:
        found.append(_ios(pc["ios"], f"{path}.ios"))
    if "harmony" in pc:
        found.append(_harmony(pc["harmony"], f"{path}.harmony"))
    return Message(
        _first(m.notify_id for m in found),
        _first(m.title for m in found),
        collapse_id=_first(m.collapse_id for m in found),
        revoke=_one_revoke([m.revoke for m in found], f"{path}.revoke"),
    )


def _first(values: Iterable[_T | None]) -> _T | None:
    return next((v for v in values if v is not None), None)


def _one_revoke(revokes: list[Revoke | None], path: str) -> Revoke | None:
    """The revoke of a message whose channels each carry one: they must name the same task.

    UNCERTAIN: Getui's answer to channels naming different tasks is undocumented; the mock refuses it.
    """
    named = [r for r in revokes if r is not None]
    if not named:
        return None
    if len({r.old_task_id for r in named}) > 1:
        raise Invalid(f"{path}.old_task_id is invalid")
    via = frozenset().union(*(r.via for r in named))
    return Revoke(named[0].old_task_id, any(r.force for r in named), via)


def _group_name(body: dict[str, Any]) -> str | None:
    name = get_str(body, "group_name", "", 100)
    if name is not None and not _GROUP_NAME.fullmatch(name):
        raise Invalid("group_name is invalid")
    get_str(body, "task_name", "", 100)  # the SDK's PushDTO.taskName: a free-form string
    return name


def message_parts(body: dict[str, Any]) -> tuple[Message, int | None]:
    """The parts single and list messages share: push_message, push_channel, settings, group_name."""
    own = _push_message(body.get("push_message"))
    channel = _push_channel(body.get("push_channel"))
    ttl = _settings(body.get("settings"))
    group = _group_name(body)
    if channel == NO_MESSAGE and group is None:
        return own, ttl
    if channel.revoke is not None and own.revoke is None and own.title is not None:
        # UNCERTAIN: a vendor revoke beside a Getui-channel notification would both show and delete;
        # the docs never pair them, so the mock refuses it as it refuses two kinds in push_message.
        raise Invalid(CHOOSE_ONE)
    message = Message(
        _first((own.notify_id, channel.notify_id)),
        _first((own.title, channel.title)),
        group,
        channel.collapse_id,
        _one_revoke([own.revoke, channel.revoke], "push_message.revoke"),
    )
    return message, ttl
