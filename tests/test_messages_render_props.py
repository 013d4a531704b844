"""Property test: a template renders exactly what a plain reference renderer does, bytes and errors.

The reference is the straightforward algorithm (check the must-fill names, then for each string in
JSON order: ``format_map``, the path's rules, JSON encoding), so any faster render plan has to agree
with it on every byte and on which error, with which field and reason, wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from getui_async.errors import MessageError
from getui_async.messages import MessageTemplate
from getui_async.messages.compiler import _parse, _text_check
from getui_async.messages.rules import _check_message

NAMES = ("a", "b", "名")
PATHS = (
    "push_message.notification.title",
    "push_message.notification.body",
    "push_message.notification.payload",
    "push_channel.android.ups.notification.title",
    "push_channel.android.ups.notification.body",
    "push_channel.ios.payload",
    "push_channel.ios.apns-collapse-id",
    "push_channel.ios.aps.sound",
    "group_name",
)
_LITERAL = st.text(
    alphabet=st.sampled_from(['"', "\\", "\ud800", "\n", "\x00", "\x1f", "%", "é", "推", "😀", "x", " "]),
    max_size=4,
)
_PIECE = st.one_of(
    _LITERAL,
    st.sampled_from([f"{{{name}}}" for name in NAMES]),
    st.sampled_from(["{{", "}}", "{{a}}", "%s", "%%"]),
    st.just("x" * 60),
)
_TEXT = st.lists(_PIECE, max_size=6).map("".join)
_VALUE = st.one_of(
    st.text(max_size=20),
    _LITERAL,
    st.builds(lambda char, n: char * n, st.sampled_from(["x", "推", '"', "%"]), st.integers(0, 300)),
    st.sampled_from(["", "\ud800", "a\udfff", "{a}", "%b", "%(a)b"]),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.booleans(),
    st.none(),
)


def _tree(strings: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {
        "push_message": {
            "notification": {"title": "T", "body": "B", "click_type": "payload", "payload": "P"}
        },
        "push_channel": {
            "android": {"ups": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}}},
            "ios": {"aps": {"alert": {"title": "T", "body": "B"}}},
        },
    }
    for path, text in strings.items():
        *parents, last = path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = text
    return tree


def _reference(tree: dict[str, Any], values: Mapping[str, Any], allow: bool | frozenset[str]) -> bytes:
    """The render, spelled out: no compiled plan, a dict rebuilt and encoded for each record."""
    required: set[str] = set()
    _check_message(tree, "", required)
    variables: set[str] = set()

    def names_in(node: Any, path: str) -> None:
        if isinstance(node, str):
            variables.update(_parse(node, path)[2])
        elif isinstance(node, dict):
            for key, item in node.items():
                names_in(item, f"{path}.{key}" if path else key)

    names_in(tree, "")
    must_fill = () if allow is True else sorted(variables - (allow or frozenset()))
    for name in must_fill:
        value = values[name]
        if value == "" or value is None:
            raise MessageError(name, f"template field '{name}' is empty in this record")

    def render(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            return {key: render(item, f"{path}.{key}" if path else key) for key, item in node.items()}
        if not isinstance(node, str):
            return node
        literal, pattern, names = _parse(node, path)
        if literal is not None:
            return literal
        if pattern == "{" + names[0] + "}":
            value = values[names[0]]
            text = value if type(value) is str else str(value)
        else:
            text = pattern.format_map(values)
        check = _text_check(path, frozenset(required))
        if check is not None:
            check(text)
        orjson.dumps(text)  # a lone surrogate fails here, before any later string's rules
        return text

    return orjson.dumps(render(tree, ""))


def _outcome(render: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", render(*args)
    except KeyError as exc:  # the template turns these into MessageError naming the field
        name = str(exc.args[0])
        return "error", ("MessageError", name, f"template field '{name}' is missing from the record")
    except MessageError as exc:
        return "error", ("MessageError", exc.field, exc.reason)
    except Exception as exc:  # e.g. orjson's lone-surrogate error, compared as is
        return "error", (type(exc).__name__, str(exc))


@settings(max_examples=400)
@given(
    strings=st.dictionaries(st.sampled_from(PATHS), _TEXT, max_size=5),
    values=st.fixed_dictionaries(dict.fromkeys(NAMES, _VALUE)),
    drop=st.sampled_from((None, None, None, None, *NAMES)),
    allow=st.one_of(st.booleans(), st.frozensets(st.sampled_from(NAMES))),
)
def test_render_matches_the_reference(
    strings: dict[str, str], values: dict[str, Any], drop: str | None, allow: bool | frozenset[str]
) -> None:
    """Same bytes, or the same error (type, field and reason), as the reference for any record."""
    tree = _tree(strings)
    values.pop(drop or "", None)  # now and then a record lacks a field
    try:
        template = MessageTemplate.from_dict(tree, allow_empty=allow)
    except MessageError:
        assume(False)
    event(_agree(template, tree, values, allow))


@settings(max_examples=300)
@given(
    shape=st.sampled_from(["{a}", "Hi {a}", "{a}{a}", "x{a}y{b}", "{a}{b}{a}", "{{a}}{b}", "{b}"]),
    sizes=st.tuples(st.integers(0, 66), st.integers(0, 66)),
    allow=st.booleans(),
)
def test_lengths_at_the_limits_match_the_reference(shape: str, sizes: tuple[int, int], allow: bool) -> None:
    """Texts an exact character count under, at and over a limit (title 50, collapse id 64) agree."""
    strings = {"push_message.notification.title": shape, "push_channel.ios.apns-collapse-id": shape}
    tree = _tree(strings)
    values = {"a": "推" * sizes[0], "b": '"' * sizes[1]}
    _agree(MessageTemplate.from_dict(tree, allow_empty=allow), tree, values, allow)


def _agree(
    template: MessageTemplate, tree: dict[str, Any], values: dict[str, Any], allow: bool | frozenset[str]
) -> str:
    expected = _outcome(_reference, tree, values, allow)
    assert _outcome(lambda: template.render(values).json) == expected
    return expected[0] if expected[0] == "ok" else str(expected[1][-1])[:24]


class _Odd:
    """A value whose ``str`` and ``format`` differ, so a whole-string and a part placeholder differ."""

    def __str__(self) -> str:
        return "as-str"

    def __format__(self, spec: str) -> str:
        return "as-format"


class _Text(str):
    def __str__(self) -> str:
        return "as-subclass-str"


def test_odd_values_render_as_the_reference_does() -> None:
    """Non-str values: a whole-string placeholder uses ``str``, a part one ``format``, as before."""
    strings = {"push_message.notification.title": "{a}", "push_message.notification.body": "B {a}"}
    tree = _tree(strings)
    template = MessageTemplate.from_dict(tree)
    for value in (_Odd(), _Text("x"), _Text(""), 12.5, True, [1, "é"]):
        assert _agree(template, tree, {"a": value}, False) == "ok" or value == ""
