"""Property tests: rendering never goes silently over a Getui limit (getui_async.messages)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from getui_async.errors import MessageError
from getui_async.messages import LIMITS, MessageTemplate

# Every personalized field of TEMPLATE as (prefix, variable, suffix): the test's own account of what
# each path renders to, independent of the renderer.
FIELDS: dict[str, tuple[str, str, str]] = {
    "push_message.notification.title": ("Hi ", "a", "!"),
    "push_message.notification.body": ("", "b", ""),
    "push_message.notification.url": ("https://e.x/", "c", ""),
    "push_channel.android.ups.notification.title": ("", "a", ""),
    "push_channel.android.ups.notification.body": ("{{b}} ", "b", ""),
    "push_channel.android.ups.notification.payload": ('{"k":"', "c", '"}'),
    "push_channel.ios.payload": ("", "d", ""),
    "push_channel.ios.apns-collapse-id": ("c-", "d", ""),
    "group_name": ("g", "e", ""),
}
NON_EMPTY = {
    "push_message.notification.title",
    "push_message.notification.body",
    "push_message.notification.url",
    "push_channel.android.ups.notification.title",
    "push_channel.android.ups.notification.body",
    "push_channel.android.ups.notification.payload",
}
GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _tree() -> dict[str, Any]:
    tree: dict[str, Any] = {
        "push_message": {"notification": {"click_type": "url"}},
        "push_channel": {"android": {"ups": {"notification": {"click_type": "payload"}}}, "ios": {}},
    }
    for path, (prefix, name, suffix) in FIELDS.items():
        *parents, last = path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = prefix + "{" + name + "}" + suffix
    return tree


TEMPLATE = MessageTemplate.from_dict(_tree())
RELAXED = TEMPLATE.with_allow_empty(True)


def expected_text(path: str, values: dict[str, str]) -> str:
    """What ``path`` renders to for ``values``, by the test's own rule (``{{b}}`` is the text ``{b}``)."""
    prefix, name, suffix = FIELDS[path]
    return prefix.replace("{{b}}", "{b}") + values[name] + suffix


def breaks_a_rule(path: str, text: str) -> bool:
    """Whether ``text`` at ``path`` violates a documented rule."""
    limit = LIMITS.get(path)
    if limit is not None and len(text) > limit:
        return True
    if path in NON_EMPTY and not text:
        return True
    return path == "group_name" and not GROUP_NAME.fullmatch(text)


def lookup(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for key in path.split("."):
        node = node[key]
    return node


VALUES = st.one_of(
    st.text(max_size=60),
    st.builds(lambda char, n: char * n, st.sampled_from(["x", "推", "{", "-", " "]), st.integers(0, 4200)),
)


@given(st.fixed_dictionaries(dict.fromkeys("abcde", VALUES)))
def test_render_is_within_limits_or_names_the_field(values: dict[str, str]) -> None:
    """A record renders with every limited field within its limit, or is refused naming a bad field."""
    bad = {path for path in FIELDS if breaks_a_rule(path, expected_text(path, values))}
    if bad:
        with pytest.raises(MessageError) as info:
            RELAXED.render(values)
        assert info.value.field in bad
        return
    rendered = RELAXED.render(values)
    tree = {
        "push_message": rendered.push_message,
        "push_channel": rendered.push_channel,
        "group_name": rendered.group_name,
    }
    for path in FIELDS:
        assert lookup(tree, path) == expected_text(path, values)


@given(st.fixed_dictionaries(dict.fromkeys("abcde", VALUES)))
def test_empty_values_are_refused_unless_allowed(values: dict[str, str]) -> None:
    """By default a record with any empty placeholder value is refused, naming one of the empty ones."""
    empty = {name for name, value in values.items() if value == ""}
    if not empty:
        return
    with pytest.raises(MessageError, match="empty") as info:
        TEMPLATE.render(values)
    assert info.value.field in empty


@given(st.text(max_size=50).filter(bool))
def test_values_are_inserted_verbatim(value: str) -> None:
    """A value, braces and all, lands in the field exactly as given."""
    template = MessageTemplate.simple(title="{v}", body="B")
    assert template.render({"v": value}).push_message["notification"]["title"] == value


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=50
    ).filter(bool)
)
def test_text_without_placeholders_is_literal(text: str) -> None:
    """A string without braces is static: the template is not personalized and sends it unchanged."""
    template = MessageTemplate.simple(title=text, body="B")
    assert not template.is_personalized
    assert template.shared().push_message["notification"]["title"] == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50).filter(str.strip))
def test_doubled_braces_are_literal_braces(text: str) -> None:
    """Any text with each brace doubled is sent as the text itself: ``{{`` and ``}}`` are literal braces."""
    escaped = text.replace("{", "{{").replace("}", "}}")
    template = MessageTemplate.simple(title="T", body=escaped)
    assert not template.is_personalized
    assert template.shared().push_message["notification"]["body"] == text
