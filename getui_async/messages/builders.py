"""Typed builders: frozen dataclasses that validate on construction and emit Getui's JSON.

For library users who prefer types to dicts; each checks its fragment exactly as a template would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .compiler import _check_fragment
from .rules import (
    _ANDROID,
    _IOS,
    _NOTE,
    ClickType,
    _check_android,
    _check_ios,
    _check_message,
    _check_notification,
    _check_settings,
    _click_type,
    _compact,
    _plain,
)

# ---------------------------------------------------------------------------------------------------
# Typed builders
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """A notification bar message (Getui channel, Android/Harmony; also usable as the vendor one).

    Checked against ``push_message.notification``'s rules; strings may hold ``{placeholders}``,
    whose length is checked per recipient instead.
    """

    title: str
    body: str
    click_type: ClickType = ClickType.STARTAPP
    url: str | None = None
    intent: str | None = None
    payload: str | None = None
    big_text: str | None = None
    big_image: str | None = None
    logo: str | None = None
    logo_url: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    channel_level: int | None = None
    notify_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "click_type", _click_type(self.click_type, f"{_NOTE}.click_type"))
        _check_fragment(self.to_dict(), _NOTE, _check_notification)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["click_type"] = self.click_type.value
        return _compact(out)


@dataclass(frozen=True, kw_only=True, slots=True)
class PushSettings:
    """``settings``: offline retention (``ttl``, ms, -1 = none) and channel strategy per vendor key."""

    ttl_ms: int | None = None
    strategy: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        _check_fragment(self.to_dict(), "settings", _check_settings)

    def to_dict(self) -> dict[str, Any]:
        strategy = dict(self.strategy) if self.strategy is not None else None
        return _compact({"ttl": self.ttl_ms, "strategy": strategy})


@dataclass(frozen=True, kw_only=True, slots=True)
class AndroidChannel:
    """``push_channel.android``: what vendor channels (offline devices) show; one of the two."""

    notification: Notification | Mapping[str, Any] | None = None
    transmission: str | None = None
    options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_fragment(self.to_dict(), _ANDROID, _check_android)

    def to_dict(self) -> dict[str, Any]:
        note = self.notification
        ups = {
            "notification": note.to_dict() if isinstance(note, Notification) else note,
            "transmission": self.transmission,
            "options": self.options,
        }
        return {"ups": _plain(ups, f"{_ANDROID}.ups")}


@dataclass(frozen=True, kw_only=True, slots=True)
class IosChannel:
    """``push_channel.ios``: iOS shows only APNs messages, so anything for iPhones goes here."""

    title: str | None = None
    body: str | None = None
    subtitle: str | None = None
    sound: str | None = None
    content_available: int | None = None
    category: str | None = None
    thread_id: str | None = None
    auto_badge: str | None = None
    payload: str | None = None
    collapse_id: str | None = None
    type: str = "notify"

    def __post_init__(self) -> None:
        if isinstance(self.content_available, bool):
            object.__setattr__(self, "content_available", int(self.content_available))
        _check_fragment(self.to_dict(), _IOS, _check_ios)

    def to_dict(self) -> dict[str, Any]:
        alert = _compact({"title": self.title, "body": self.body, "subtitle": self.subtitle})
        aps = _compact(
            {
                "alert": alert or None,
                "sound": self.sound,
                "content-available": self.content_available,
                "category": self.category,
                "thread-id": self.thread_id,
            }
        )
        return _compact(
            {
                "type": self.type,
                "aps": aps or None,
                "auto_badge": self.auto_badge,
                "payload": self.payload,
                "apns-collapse-id": self.collapse_id,
            }
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PushChannel:
    """``push_channel``: the vendor (Android offline) and APNs (iOS) versions of the message."""

    android: AndroidChannel | None = None
    ios: IosChannel | None = None

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "android": self.android.to_dict() if self.android else None,
                "ios": self.ios.to_dict() if self.ios else None,
            }
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """A whole message: exactly one of ``notification`` / ``transmission`` on Getui's own channel."""

    notification: Notification | None = None
    transmission: str | None = None
    settings: PushSettings | None = None
    push_channel: PushChannel | None = None
    group_name: str | None = None

    def __post_init__(self) -> None:
        _check_fragment(self.to_dict(), "", _check_message)

    def to_dict(self) -> dict[str, Any]:
        push_message = {
            "notification": self.notification.to_dict() if self.notification else None,
            "transmission": self.transmission,
        }
        return _compact(
            {
                "push_message": _compact(push_message),
                "push_channel": (self.push_channel.to_dict() or None) if self.push_channel else None,
                "settings": self.settings.to_dict() if self.settings else None,
                "group_name": self.group_name,
            }
        )
