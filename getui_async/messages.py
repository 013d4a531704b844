"""What is sent: Getui's field limits, message builders, per-recipient templates, request bodies, ids.

Four layers, bottom up:

- :data:`LIMITS` is the one table of Getui's length limits (docs/getui-api.md §3); every check reads it.
- Frozen builders (:class:`Message`, :class:`Notification`, ...) validate on construction and emit
  Getui's snake_case JSON with ``to_dict()``, for library users who prefer types to dicts.
- :class:`MessageTemplate` validates a message once, compiles the paths that hold ``{placeholders}``,
  and renders one :class:`Rendered` per recipient by copying only the containers on those paths. This is
  the hot path (tens of thousands of renders a second), so rendering is a handful of ``dict.copy`` and
  ``str.format_map`` calls; everything else is decided at compile time.
- Pure functions build the request bodies and derive deterministic ids, so a retry or a resumed run
  sends byte-identical requests and Getui drops the repeats.

Placeholder syntax: ``{identifier}`` in any string value is a placeholder; ``{{identifier}}`` is the
literal text ``{identifier}``; every other brace is literal (payloads are often JSON text).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from . import _json
from .config import MAX_BATCH_SIZE, MAX_LIST_CHUNK
from .errors import MessageError

__all__ = [
    "CLICK_FIELD",
    "LIMITS",
    "NOTIFY_ID_MAX",
    "TTL_MAX_MS",
    "TTL_MIN_MS",
    "AndroidChannel",
    "ClickType",
    "IosChannel",
    "Message",
    "MessageTemplate",
    "Notification",
    "PushChannel",
    "PushSettings",
    "Rendered",
    "auth_body",
    "batch_body",
    "derive_campaign_id",
    "derive_notify_id",
    "list_message_body",
    "list_push_body",
    "recipient_ids",
    "single_body",
]

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
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
# Leftmost match wins and the escape is tried first, so ``{{x}}`` is never read as a placeholder.
_TOKEN = re.compile(r"\{\{(" + _IDENT + r")\}\}|\{(" + _IDENT + r")\}")


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
    if note.get("notify_id") is not None:
        _check_int(note["notify_id"], f"{path}.notify_id", 0, NOTIFY_ID_MAX)
    if note.get("channel_level") is not None:
        _check_int(note["channel_level"], f"{path}.channel_level", 0, 4)
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


def _check_push_channel(value: Any, path: str, required: set[str]) -> None:
    channel = _obj(value, path)
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


# ---------------------------------------------------------------------------------------------------
# Strings: placeholder parsing and the per-path text rules (length, non-empty, group_name charset).
# ---------------------------------------------------------------------------------------------------


def _parse(text: str) -> tuple[str | None, str, tuple[str, ...]]:
    """``(literal, format_map pattern, placeholder names)``; ``literal`` is None when names exist."""
    if "{" not in text:
        return text, text, ()
    literal: list[str] = []
    pattern: list[str] = []
    names: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        before = text[pos : match.start()]
        literal.append(before)
        pattern.append(before.replace("{", "{{").replace("}", "}}"))
        escaped, name = match.groups()
        if escaped is not None:
            literal.append("{" + escaped + "}")
            pattern.append("{{" + escaped + "}}")
        else:
            names.append(name)
            pattern.append("{" + name + "}")
        pos = match.end()
    rest = text[pos:]
    literal.append(rest)
    pattern.append(rest.replace("{", "{{").replace("}", "}}"))
    return (None if names else "".join(literal)), "".join(pattern), tuple(names)


_TextCheck: TypeAlias = Callable[[str], None]


def _text_check(path: str, required: frozenset[str]) -> _TextCheck | None:
    """The rules for the string at ``path``, as one function; None when the path has no rule."""
    limit = LIMITS.get(path)
    must = path in required
    charset = _GROUP_NAME if path == "group_name" else None
    if limit is None and not must and charset is None:
        return None

    def check(text: str) -> None:
        if must and not text:
            raise MessageError(path, "must not be empty")
        if limit is not None and len(text) > limit:
            raise MessageError(path, f"is {len(text)} characters, over Getui's limit of {limit}")
        if charset is not None and not charset.fullmatch(text):
            raise MessageError(path, "may hold only ASCII letters, digits, '-' and '_'")

    return check


# ---------------------------------------------------------------------------------------------------
# Compilation: the message's wire JSON as static byte chunks around the personalized strings.
# ---------------------------------------------------------------------------------------------------

_Values: TypeAlias = Mapping[str, str]
_Leaf: TypeAlias = Callable[[_Values, _Values], str]
#: Renders one recipient's message object as JSON bytes.
_Plan: TypeAlias = Callable[[_Values, _Values], bytes]


def _as_text(value: Any) -> str:
    # Records are meant to hold strings; a JSONL number or bool is sent as its text.
    return value if type(value) is str else str(value)


def _text_leaf(pattern: str, names: tuple[str, ...], check: _TextCheck | None) -> _Leaf:
    if pattern == "{" + names[0] + "}":  # the whole string is one placeholder: skip formatting
        name = names[0]

        def whole(values: _Values, overrides: _Values) -> str:
            text = _as_text(values[name])
            if check is not None:
                check(text)
            return text

        return whole
    format_map = pattern.format_map

    def part(values: _Values, overrides: _Values) -> str:
        text = format_map(values)
        if check is not None:
            check(text)
        return text

    return part


def _override_leaf(key: str, check: _TextCheck | None) -> _Leaf:
    def override(values: _Values, overrides: _Values) -> str:
        text = _as_text(overrides[key])
        if check is not None:
            check(text)
        return text

    return override


class _Compiler:
    """Walks a plain message tree once: checks static strings, compiles the personalized ones.

    Each personalized string (a placeholder, or a slot a record's own title/body/payload replaces)
    becomes a *leaf*; :meth:`plan` serializes the tree once with a marker at each leaf and splits the
    JSON there, so rendering a recipient is: the leaves' texts, JSON-quoted, between fixed chunks.
    No dict is built per recipient.
    """

    def __init__(self, required: frozenset[str], slots: Mapping[str, str] | None = None) -> None:
        self.required = required
        self.slots = slots or {}  # dotted path -> override key
        self.variables: set[str] = set()
        self.leaves: list[_Leaf] = []
        self._marker = f"@@getui-leaf-{secrets.token_hex(8)}-"

    def compile(self, tree: dict[str, Any]) -> bytes | _Plan:
        """A renderer for ``tree``; or, when nothing in it is personalized, its JSON once and for all."""
        marked = self.walk(tree, "")
        if not self.leaves:
            return _json.dumps(marked)  # static strings as sent: ``{{x}}`` escapes resolved
        parts = re.split(rb'"' + re.escape(self._marker.encode()) + rb'(\d+)"', _json.dumps(marked))
        chunks, order = parts[0::2], [int(i) for i in parts[1::2]]
        assert order == list(range(len(self.leaves))), "leaves serialized out of order"
        first, pairs = chunks[0], tuple(zip(self.leaves, chunks[1:], strict=True))
        dumps, join = _json.dumps, b"".join

        def render(values: _Values, overrides: _Values) -> bytes:
            out = [first]
            for leaf, chunk in pairs:
                out.append(dumps(leaf(values, overrides)))
                out.append(chunk)
            return join(out)

        return render

    def _leaf(self, leaf: _Leaf) -> str:
        self.leaves.append(leaf)
        return f"{self._marker}{len(self.leaves) - 1}"

    def walk(self, value: Any, path: str) -> Any:
        """``value`` with every leaf replaced by its marker (static strings are checked here)."""
        if path in self.slots:
            return self._leaf(_override_leaf(self.slots[path], _text_check(path, self.required)))
        if isinstance(value, str):
            return self._text(value, path)
        if path in LIMITS or path in self.required:
            raise MessageError(path, f"must be a string, got {_show(value)}")
        if isinstance(value, dict):
            return {key: self.walk(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, f"{path}.{index}") for index, item in enumerate(value)]
        return value

    def _text(self, text: str, path: str) -> str:
        literal, pattern, names = _parse(text)
        check = _text_check(path, self.required)
        if literal is not None:
            if check is not None:
                check(literal)
            return literal
        self.variables.update(names)
        return self._leaf(_text_leaf(pattern, names, check))


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


def _check_fragment(data: dict[str, Any], path: str, checker: _Checker) -> None:
    """Validate one builder's JSON exactly as a template would: structure, then every string."""
    required: set[str] = set()
    checker(data, path, required)
    _Compiler(frozenset(required)).walk(_plain(data, path), path)


def _lookup(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


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


# ---------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------


class Rendered:
    """One recipient's message, held as the JSON object Getui receives (:attr:`json`).

    The engine renders straight to these bytes and the body builders splice them in, so no dict is
    built or encoded per recipient. ``push_message``, ``push_channel``, ``settings`` and ``group_name``
    are read-only views decoded on first access. ``shared`` is True only for
    :meth:`MessageTemplate.shared`, the content everyone gets.
    """

    __slots__ = ("_json", "_parts", "_shared")

    def __init__(
        self,
        push_message: Mapping[str, Any],
        push_channel: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        group_name: str | None = None,
        shared: bool = False,
    ) -> None:
        parts = dict(zip(_MESSAGE_KEYS, (push_message, push_channel, settings, group_name), strict=True))
        self._json = _json.dumps({key: value for key, value in parts.items() if value is not None})
        self._parts: dict[str, Any] | None = parts
        self._shared = shared

    @classmethod
    def from_json(cls, data: bytes, *, shared: bool = False) -> Rendered:
        """Wrap an already encoded message object (what templates produce)."""
        rendered = cls.__new__(cls)
        rendered._json, rendered._parts, rendered._shared = data, None, shared
        return rendered

    @property
    def json(self) -> bytes:
        """The message object as compact JSON: ``{"push_message": ..., ...}``."""
        return self._json

    @property
    def shared(self) -> bool:
        return self._shared

    def _part(self, key: str) -> Any:
        if self._parts is None:
            decoded = _json.loads(self._json)
            self._parts = {name: decoded.get(name) for name in _MESSAGE_KEYS}
        return self._parts[key]

    @property
    def push_message(self) -> dict[str, Any]:
        part: dict[str, Any] = self._part("push_message")
        return part

    @property
    def push_channel(self) -> dict[str, Any] | None:
        part: dict[str, Any] | None = self._part("push_channel")
        return part

    @property
    def settings(self) -> dict[str, Any] | None:
        part: dict[str, Any] | None = self._part("settings")
        return part

    @property
    def group_name(self) -> str | None:
        part: str | None = self._part("group_name")
        return part

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rendered):
            return NotImplemented
        return self._json == other._json and self._shared == other._shared

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        return f"Rendered({self._json[:80]!r}{'…' if len(self._json) > 80 else ''}, shared={self._shared})"


_from_json: Final = Rendered.from_json


_OVERRIDE_PATHS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "title": (f"{_NOTE}.title", f"{_UPS_NOTE}.title", f"{_IOS}.aps.alert.title"),
        "body": (f"{_NOTE}.body", f"{_UPS_NOTE}.body", f"{_IOS}.aps.alert.body"),
        "payload": (f"{_NOTE}.payload", f"{_UPS_NOTE}.payload", f"{_IOS}.payload"),
    }
)
_PAYLOAD_CLICKS: Final = frozenset({ClickType.PAYLOAD.value, ClickType.PAYLOAD_CUSTOM.value})


def _override_slots(tree: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """For each override key, the paths it replaces: the ones this message actually has."""
    note_is_payload = _lookup(tree, f"{_NOTE}.click_type") in _PAYLOAD_CLICKS
    return {
        key: tuple(
            path
            for path in paths
            if isinstance(_lookup(tree, path), str) and (path != f"{_NOTE}.payload" or note_is_payload)
        )
        for key, paths in _OVERRIDE_PATHS.items()
    }


_DEFAULT_SOURCE: Final = "message"
_NO_OVERRIDES: Final[Mapping[str, str]] = MappingProxyType({})


class MessageTemplate:
    """A validated, compiled message that renders one :class:`Rendered` per recipient.

    Build with :meth:`from_dict`, :meth:`from_message` or :meth:`simple`. Immutable: rendering never
    changes the template, and :meth:`with_notify_id` returns a new one.
    """

    __slots__ = (
        "_fingerprint",
        "_override_plans",
        "_plan",
        "_required",
        "_shared",
        "_slots",
        "_source",
        "_source_name",
        "_variables",
    )

    def __init__(self, tree: dict[str, Any], source: str) -> None:
        """Use the class methods; ``tree`` must already be a private plain copy (see ``_plain``)."""
        required: set[str] = set()
        _check_message(tree, "", required)
        self._required = frozenset(required)
        compiler = _Compiler(self._required)
        compiled = compiler.compile(tree)
        self._variables = frozenset(compiler.variables)
        self._plan = None if isinstance(compiled, bytes) else compiled
        self._shared = Rendered.from_json(compiled, shared=True) if isinstance(compiled, bytes) else None
        self._slots = _override_slots(tree)
        self._override_plans: dict[frozenset[str], _Plan] = {}
        self._source = tree
        self._source_name = source
        self._fingerprint = hashlib.sha256(_json.dumps_sorted(tree)).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = _DEFAULT_SOURCE) -> MessageTemplate:
        """Validate and compile a message in Getui's JSON shape (``push_message`` required).

        Errors name the dotted field; a ``source`` other than the default is added to the reason.
        """
        try:
            if not isinstance(data, Mapping):
                raise MessageError("message", "must be a JSON object")
            return cls(_plain(data, ""), source)
        except MessageError as exc:
            if source == _DEFAULT_SOURCE:
                raise
            raise MessageError(exc.field, f"{exc.reason} (in {source})") from None

    @classmethod
    def from_message(cls, message: Message) -> MessageTemplate:
        """A template from the typed builders."""
        return cls.from_dict(message.to_dict())

    @classmethod
    def simple(
        cls,
        *,
        title: str,
        body: str,
        click_type: str = "startapp",
        url: str | None = None,
        intent: str | None = None,
        payload: str | None = None,
    ) -> MessageTemplate:
        """The CLI's ``--title/--body/...`` message: the same notification on every channel.

        Getui's channel (online Android), the vendor channels (offline Android) and APNs (iOS) each
        get the title and body, so no device class silently misses the campaign.
        """
        click = _click_type(click_type, f"{_NOTE}.click_type")
        for name, value in (("url", url), ("intent", intent), ("payload", payload)):
            if value is not None and CLICK_FIELD[click] != name:
                raise MessageError(f"{_NOTE}.{name}", f"is set, but click_type is '{click.value}'")
        note = Notification(title=title, body=body, click_type=click, url=url, intent=intent, payload=payload)
        # Vendor channels cannot show a notification that does not open the app: closest is payload.
        ups = note if click is not ClickType.PAYLOAD_CUSTOM else replace(note, click_type=ClickType.PAYLOAD)
        ios = IosChannel(title=title, body=body, payload=payload)
        channel = PushChannel(android=AndroidChannel(notification=ups), ios=ios)
        return cls.from_message(Message(notification=note, push_channel=channel))

    @property
    def variables(self) -> frozenset[str]:
        """Every placeholder name used anywhere in the template."""
        return self._variables

    @property
    def is_personalized(self) -> bool:
        return bool(self._variables)

    @property
    def fingerprint(self) -> str:
        """Hex sha256 of the template's canonical JSON: equal templates, equal fingerprints."""
        return self._fingerprint

    def to_dict(self) -> dict[str, Any]:
        """A copy of the template as given (placeholders unrendered)."""
        copy: dict[str, Any] = _plain(self._source, "")
        return copy

    def with_notify_id(self, notify_id: int, collapse_id: str) -> MessageTemplate:
        """Make repeats replace rather than stack: set the override ids where the user has not.

        ``notify_id`` goes into both Android notifications, ``collapse_id`` into iOS, but only in
        sections the template has; ``collapse_id`` follows template syntax like any other string.
        """
        tree: dict[str, Any] = _plain(self._source, "")
        for path in (_NOTE, _UPS_NOTE):
            note = _lookup(tree, path)
            if isinstance(note, dict):
                note.setdefault("notify_id", notify_id)
        ios = _lookup(tree, _IOS)
        if isinstance(ios, dict):
            ios.setdefault("apns-collapse-id", collapse_id)
        return self if tree == self._source else MessageTemplate(tree, self._source_name)

    def shared(self) -> Rendered:
        """The one :class:`Rendered` everyone gets; only templates without placeholders have it."""
        if self._shared is None:
            name = min(self._variables)
            raise MessageError(name, "is a template field, so the message differs per recipient")
        return self._shared

    def render(self, variables: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> Rendered:
        """This recipient's message; raises :class:`MessageError` naming the variable or field.

        ``overrides`` (``title``, ``body``, ``payload``) replace those slots with the record's own text,
        inserted literally (no placeholders) and length-checked; empty values count as absent, so a
        blank CSV cell keeps the template's text.
        """
        plan = self._plan_for(overrides) if overrides else self._plan
        if plan is None:
            assert self._shared is not None
            return self._shared
        try:
            return _from_json(plan(variables, overrides or _NO_OVERRIDES))
        except KeyError as exc:
            name = str(exc.args[0]) if exc.args else "?"
            raise MessageError(name, f"template field '{name}' is missing from the record") from None

    def _plan_for(self, overrides: Mapping[str, str]) -> _Plan | None:
        keys = frozenset(key for key, value in overrides.items() if value)
        if not keys:
            return self._plan
        plan = self._override_plans.get(keys)
        if plan is None:
            plan = self._override_plans[keys] = self._compile_overrides(keys)
        return plan

    def _compile_overrides(self, keys: frozenset[str]) -> _Plan:
        slots: dict[str, str] = {}
        for key in sorted(keys):
            if key not in self._slots:
                raise MessageError(key, f"is not an override (use {', '.join(_OVERRIDE_PATHS)})")
            if not self._slots[key]:
                raise MessageError(key, f"the message has no {key} to replace")
            slots.update(dict.fromkeys(self._slots[key], key))
        plan = _Compiler(self._required, slots).compile(self._source)
        assert not isinstance(plan, bytes)  # every key has at least one slot
        return plan

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageTemplate):
            return NotImplemented
        return self._fingerprint == other._fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._variables))
        return f"MessageTemplate(fingerprint={self._fingerprint[:12]}…, variables=[{names}])"


# ---------------------------------------------------------------------------------------------------
# Ids and request bodies (pure functions)
# ---------------------------------------------------------------------------------------------------

_KINDS: Final = ("cid", "alias")
_RID_PERSON: Final = b"getui_async.rid"
_NID_PERSON: Final = b"getui_async.nid"


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"audience kind must be 'cid' or 'alias', got {kind!r}")


def _check_request_id(request_id: str) -> None:
    if not 10 <= len(request_id) <= 32:
        raise ValueError(f"request_id must be 10..32 characters, got {len(request_id)}")


def derive_campaign_id(template: MessageTemplate) -> str:
    """16 hex characters of the template's fingerprint: the same message gets the same campaign."""
    return template.fingerprint[:16]


def recipient_ids(campaign_id: str, kind: str, target: str) -> tuple[str, int]:
    """``(request_id, fingerprint)`` for one recipient of a campaign, from one blake2b digest.

    Deterministic, so a retried or resumed send repeats the request_id and Getui drops the repeat.
    Each part is length-prefixed, so no two different triples hash the same input.
    """
    hasher = _rid_hasher(campaign_id, kind).copy()
    hasher.update(f"{len(target)}:{target}".encode())
    digest = hasher.digest()
    return digest[:16].hex(), int.from_bytes(digest[16:], "big")


@functools.lru_cache(maxsize=64)
def _rid_hasher(campaign_id: str, kind: str) -> Any:
    """blake2b already fed the campaign and kind: copying it per recipient beats hashing them again."""
    _check_kind(kind)
    framed = f"{len(campaign_id)}:{campaign_id}{len(kind)}:{kind}"
    return hashlib.blake2b(framed.encode(), digest_size=24, person=_RID_PERSON)


def derive_notify_id(campaign_id: str) -> int:
    """A notify_id in 1..2147483647 for the campaign, so list-push repeats replace each other."""
    digest = hashlib.blake2b(campaign_id.encode(), digest_size=8, person=_NID_PERSON).digest()
    return int.from_bytes(digest, "big") % NOTIFY_ID_MAX + 1


# Bodies are built as JSON bytes around the message's own JSON (``Rendered.json``), so a batch of 200
# is one join, not 200 dicts encoded again. Every value that is not ours is JSON-quoted by orjson.
_AUDIENCE: Final = {"cid": b',"audience":{"cid":[', "alias": b',"audience":{"alias":['}


def _audience(kind: str) -> bytes:
    try:
        return _AUDIENCE[kind]
    except KeyError:
        raise ValueError(f"audience kind must be 'cid' or 'alias', got {kind!r}") from None


def single_body(request_id: str, kind: str, target: str, msg: Rendered) -> bytes:
    """The body of ``push/single/{cid,alias}`` and of one ``msg_list`` item of a batch (JSON bytes)."""
    _check_request_id(request_id)
    dumps = _json.dumps
    return b"".join(
        (b'{"request_id":', dumps(request_id), _audience(kind), dumps(target), b"]},", msg.json[1:])
    )


def batch_body(items: Sequence[bytes], *, is_async: bool) -> bytes:
    """The body of ``push/single/batch/{cid,alias}``: 1..200 single bodies (from :func:`single_body`)."""
    if not 1 <= len(items) <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1..{MAX_BATCH_SIZE} messages, got {len(items)}")
    head = b'{"is_async":true,"msg_list":[' if is_async else b'{"is_async":false,"msg_list":['
    return b"".join((head, b",".join(items), b"]}"))


def list_message_body(request_id: str, msg: Rendered) -> bytes:
    """The body of ``push/list/message``: the message stored once, without an audience."""
    _check_request_id(request_id)
    return b"".join((b'{"request_id":', _json.dumps(request_id), b",", msg.json[1:]))


def list_push_body(
    taskid: str, kind: str, targets: Sequence[str], *, is_async: bool, need_alias_detail: bool = False
) -> bytes:
    """The body of ``push/list/{cid,alias}``: a stored message (``taskid``) to 1..1000 targets."""
    _check_kind(kind)
    if not 1 <= len(targets) <= MAX_LIST_CHUNK:
        raise ValueError(f"a list push holds 1..{MAX_LIST_CHUNK} targets, got {len(targets)}")
    if len(set(targets)) != len(targets):
        raise ValueError("a list push must not repeat a target (Getui refuses the whole request)")
    if need_alias_detail and kind != "alias":
        raise ValueError("need_alias_detail applies to alias pushes only")
    body: dict[str, Any] = {"audience": {kind: list(targets)}, "taskid": taskid, "is_async": is_async}
    if need_alias_detail:
        body["need_alias_detail"] = True
    return _json.dumps(body)


def auth_body(app_key: str, master_secret: str, timestamp_ms: int) -> dict[str, Any]:
    """The ``POST /auth`` body. It carries the signature: never log it."""
    sign = hashlib.sha256(f"{app_key}{timestamp_ms}{master_secret}".encode()).hexdigest()
    return {"sign": sign, "timestamp": str(timestamp_ms), "appkey": app_key}
