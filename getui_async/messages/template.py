"""Templates: :class:`MessageTemplate` (validated, compiled once) and :class:`Rendered` (one recipient).

Rendering is the hot path (tens of thousands a second), so it is a handful of joins and ``format_map``
calls; everything else is decided at compile time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

from getui_async import _json
from getui_async._suggest import closest
from getui_async.errors import MessageError

from .builders import AndroidChannel, IosChannel, Message, Notification, PushChannel
from .compiler import AllowEmpty, _Compiler, _Plan
from .rules import (
    _IOS,
    _MESSAGE_KEYS,
    _NOTE,
    _UPS_NOTE,
    CLICK_FIELD,
    ClickType,
    _check_message,
    _click_type,
    _lookup,
    _plain,
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
        return _wrap(cls, data, shared)

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


def _wrap(cls: type[Rendered], data: bytes, shared: bool) -> Rendered:
    # A plain function, not the classmethod: render calls it once per recipient, and the bound
    # method with a keyword cost ~0.1 µs of the bench template's ~1.3 µs render.
    rendered = cls.__new__(cls)
    rendered._json, rendered._parts, rendered._shared = data, None, shared
    return rendered


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
#: HarmonyOS's notification: a notify_id there is also what makes a later harmony revoke possible.
_HARMONY_NOTE: Final = "push_channel.harmony.notification"
_NO_OVERRIDES: Final[Mapping[str, str]] = MappingProxyType({})


class MessageTemplate:
    """A validated, compiled message that renders one :class:`Rendered` per recipient.

    Build with :meth:`from_dict`, :meth:`from_message` or :meth:`simple`. Immutable: rendering never
    changes the template, and :meth:`with_notify_id` returns a new one.
    """

    __slots__ = (
        "_allow_empty",
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

    def __init__(self, tree: dict[str, Any], source: str, allow_empty: AllowEmpty = False) -> None:
        """Use the class methods; ``tree`` must already be a private plain copy (see ``_plain``)."""
        required: set[str] = set()
        _check_message(tree, "", required)
        self._required = frozenset(required)
        self._allow_empty: AllowEmpty = (
            allow_empty if isinstance(allow_empty, bool) else frozenset(allow_empty)
        )
        compiler = _Compiler(self._required, allow_empty=self._allow_empty)
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
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = _DEFAULT_SOURCE, allow_empty: AllowEmpty = False
    ) -> MessageTemplate:
        """Validate and compile a message in Getui's JSON shape (``push_message`` required).

        Errors name the dotted field; a ``source`` other than the default is added to the reason.
        ``allow_empty`` names the placeholders that may render empty (True: all); any other
        placeholder whose record value is empty makes :meth:`render` refuse that record.
        """
        try:
            if not isinstance(data, Mapping):
                raise MessageError("message", "must be a JSON object")
            return cls(_plain(data, ""), source, allow_empty)
        except MessageError as exc:
            if source == _DEFAULT_SOURCE:
                raise
            raise MessageError(exc.field, f"{exc.reason} (in {source})") from None

    @classmethod
    def from_message(cls, message: Message, *, allow_empty: AllowEmpty = False) -> MessageTemplate:
        """A template from the typed builders."""
        return cls.from_dict(message.to_dict(), allow_empty=allow_empty)

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
        allow_empty: AllowEmpty = False,
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
        return cls.from_message(Message(notification=note, push_channel=channel), allow_empty=allow_empty)

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

        ``notify_id`` goes into the Android and HarmonyOS notifications, ``collapse_id`` into iOS, but
        only in sections the template has; ``collapse_id`` follows template syntax like any other string.
        """
        tree: dict[str, Any] = _plain(self._source, "")
        for path in (_NOTE, _UPS_NOTE, _HARMONY_NOTE):
            note = _lookup(tree, path)
            if isinstance(note, dict):
                note.setdefault("notify_id", notify_id)
        ios = _lookup(tree, _IOS)
        if isinstance(ios, dict):
            ios.setdefault("apns-collapse-id", collapse_id)
        return self.with_tree(tree)

    @property
    def allow_empty(self) -> AllowEmpty:
        """The placeholders that may render empty (True: all)."""
        return self._allow_empty

    def with_allow_empty(self, allow_empty: AllowEmpty) -> MessageTemplate:
        """The same message, with other placeholders allowed to render empty (``--allow-empty``)."""
        if allow_empty == self._allow_empty:
            return self
        return MessageTemplate(self._source, self._source_name, allow_empty)

    def with_tree(self, tree: dict[str, Any]) -> MessageTemplate:
        """A template for a changed copy of :meth:`to_dict`'s tree, keeping source and allow_empty."""
        if tree == self._source:
            return self
        return MessageTemplate(_plain(tree, ""), self._source_name, self._allow_empty)

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
        blank CSV cell keeps the template's text. A placeholder whose value is empty (``""`` or
        None) is refused, naming it, unless the template allows it (``allow_empty``).
        """
        plan = self._plan_for(overrides) if overrides else self._plan
        if plan is None:
            assert self._shared is not None
            return self._shared
        try:
            return _wrap(Rendered, plan(variables, overrides or _NO_OVERRIDES), False)
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
        plan = _Compiler(self._required, slots, self._allow_empty).compile(self._source)
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


def check_placeholders(
    template: MessageTemplate, columns: Iterable[str], *, supplied: Iterable[str] = ()
) -> None:
    """Before anything is sent: every placeholder must be an input column (or ``supplied`` otherwise).

    Raises :class:`MessageError` naming the first unknown placeholder, the columns found, and the
    closest column ("did you mean {name}?"), so a typo is one clear error, not a rejected line per
    record.
    """
    known = list(dict.fromkeys(columns))
    unknown = sorted(template.variables - set(known) - set(supplied))
    if not unknown:
        return
    name = unknown[0]
    close = closest(name, known)
    listed = ", ".join(known) if known else "none"
    hint = f"; did you mean {{{close}}}?" if close else ""
    raise MessageError(name, f"placeholder {{{name}}} is not a column of the input (columns: {listed}){hint}")
