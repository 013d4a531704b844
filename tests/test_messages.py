"""Message models, templates, request bodies and ids (getui_async.messages)."""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest

from getui_async import _json
from getui_async.errors import MessageError
from getui_async.messages import (
    LIMITS,
    NOTIFY_ID_MAX,
    AndroidChannel,
    ClickType,
    IosChannel,
    Message,
    MessageTemplate,
    Notification,
    PushChannel,
    PushSettings,
    Rendered,
    auth_body,
    batch_body,
    check_placeholders,
    derive_campaign_id,
    derive_notify_id,
    list_message_body,
    list_push_body,
    recipient_ids,
    single_body,
)

NOTE = "push_message.notification"
UPS_NOTE = "push_channel.android.ups.notification"


def full_message() -> dict[str, Any]:
    """A valid message with every section, to be modified by each test."""
    return {
        "push_message": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}},
        "push_channel": {
            "android": {"ups": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}}},
            "ios": {"type": "notify", "aps": {"alert": {"title": "T", "body": "B"}}, "payload": "p"},
        },
        "settings": {"ttl": 3_600_000, "strategy": {"default": 1}},
        "group_name": "spring-sale_1",
    }


def put(tree: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set a dotted path in a nested dict, creating objects on the way; returns the tree."""
    *parents, last = path.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return tree


def message_with(path: str, value: Any) -> dict[str, Any]:
    """full_message() with ``path`` set; a transmission replaces its sibling notification."""
    tree = full_message()
    if path.endswith(".transmission"):
        parent = path.rsplit(".", 1)[0]
        section = tree
        for key in parent.split("."):
            section = section.setdefault(key, {})
        section.pop("notification", None)
    return put(tree, path, value)


def raises_on(field: str, data: dict[str, Any]) -> MessageError:
    """Assert from_dict refuses ``data`` naming ``field``, and return the error."""
    with pytest.raises(MessageError) as info:
        MessageTemplate.from_dict(data)
    assert info.value.field == field
    return info.value


# --- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(LIMITS))
def test_every_limit_accepts_its_maximum(path: str) -> None:
    """A field exactly at its documented limit is accepted (group_name needs its charset)."""
    template = MessageTemplate.from_dict(message_with(path, "g" * LIMITS[path]))
    assert not template.is_personalized


@pytest.mark.parametrize("path", sorted(LIMITS))
def test_every_limit_refuses_one_more_character(path: str) -> None:
    """One character over a limit is refused, naming the dotted field and both lengths."""
    error = raises_on(path, message_with(path, "g" * (LIMITS[path] + 1)))
    assert f"is {LIMITS[path] + 1} characters, over Getui's limit of {LIMITS[path]}" in error.reason


def test_limits_count_characters_not_bytes() -> None:
    """A 50-character CJK title (150 UTF-8 bytes) is within the 50 limit."""
    MessageTemplate.from_dict(message_with(f"{NOTE}.title", "推" * 50))


def test_limited_field_must_be_a_string() -> None:
    """A number where a text field belongs is refused, naming the field."""
    raises_on(f"{NOTE}.title", message_with(f"{NOTE}.title", 12))


def test_escape_counts_rendered_length() -> None:
    """``{{x}}`` counts as the three characters it renders to, not five."""
    template = MessageTemplate.from_dict(message_with(f"{NOTE}.title", "a" * 47 + "{{x}}"))
    assert template.shared().push_message["notification"]["title"] == "a" * 47 + "{x}"


@pytest.mark.parametrize("section", [NOTE, UPS_NOTE])
@pytest.mark.parametrize(
    ("click_type", "field"),
    [("intent", "intent"), ("url", "url"), ("payload", "payload"), ("payload_custom", "payload")],
)
def test_click_type_requires_its_field(section: str, click_type: str, field: str) -> None:
    """intent/url/payload/payload_custom without their field are refused, naming the missing field."""
    error = raises_on(f"{section}.{field}", message_with(f"{section}.click_type", click_type))
    assert click_type in error.reason


@pytest.mark.parametrize("click_type", ["startapp", "none"])
def test_startapp_and_none_need_no_field(click_type: str) -> None:
    """startapp and none are complete without url, intent or payload."""
    template = MessageTemplate.from_dict(message_with(f"{NOTE}.click_type", click_type))
    assert template.shared().push_message["notification"]["click_type"] == click_type


@pytest.mark.parametrize("value", ["open", "{kind}", None, 3])
def test_click_type_must_be_known(value: Any) -> None:
    """An unknown, placeholder, missing or non-string click_type is refused, naming click_type."""
    tree = message_with(f"{NOTE}.click_type", value)
    if value is None:
        del tree["push_message"]["notification"]["click_type"]
    raises_on(f"{NOTE}.click_type", tree)


@pytest.mark.parametrize("section", [NOTE, UPS_NOTE])
@pytest.mark.parametrize("field", ["title", "body"])
def test_title_and_body_are_required(section: str, field: str) -> None:
    """A notification without title or body (null counts as absent) is refused; an empty one too."""
    assert (
        raises_on(f"{section}.{field}", message_with(f"{section}.{field}", "")).reason == "must not be empty"
    )
    assert raises_on(f"{section}.{field}", message_with(f"{section}.{field}", None)).reason == "is required"


@pytest.mark.parametrize("section", [NOTE, UPS_NOTE])
@pytest.mark.parametrize(
    "value", [-1, NOTIFY_ID_MAX + 1, True, "-7", " 7", "7.0", "", str(NOTIFY_ID_MAX + 1)]
)
def test_notify_id_range(section: str, value: Any) -> None:
    """notify_id outside 0..2147483647 (or neither an int nor a string of digits) is refused, naming it."""
    raises_on(f"{section}.notify_id", message_with(f"{section}.notify_id", value))


@pytest.mark.parametrize("value", [0, NOTIFY_ID_MAX])
def test_notify_id_bounds_accepted(value: int) -> None:
    """Both ends of the notify_id range are accepted."""
    template = MessageTemplate.from_dict(message_with(f"{NOTE}.notify_id", value))
    assert template.shared().push_message["notification"]["notify_id"] == value


@pytest.mark.parametrize("section", [NOTE, UPS_NOTE, "push_channel.harmony.notification"])
@pytest.mark.parametrize(
    ("field", "value"), [("notify_id", "11177"), ("channel_level", "3"), ("badge_add_num", "1")]
)
def test_numeric_strings_are_sent_as_written(section: str, field: str, value: str) -> None:
    """A numeric string (as Getui's Java SDK sends it) is accepted and sent on unchanged, still a string."""
    rendered = MessageTemplate.from_dict(message_with(f"{section}.{field}", value)).shared()
    node: Any = _json.loads(rendered.json)
    for key in f"{section}.{field}".split("."):
        node = node[key]
    assert node == value


@pytest.mark.parametrize(
    ("field", "value"), [("channel_level", "5"), ("badge_add_num", "0"), ("badge_add_num", "x")]
)
def test_numeric_strings_are_range_checked(field: str, value: str) -> None:
    """A numeric string out of the field's range, or not digits, is refused naming the field."""
    raises_on(f"{NOTE}.{field}", message_with(f"{NOTE}.{field}", value))


@pytest.mark.parametrize(
    ("value", "ok"), [(-2, False), (-1, True), (259_200_000, True), (259_200_001, False)]
)
def test_ttl_range(value: int, ok: bool) -> None:
    """settings.ttl is accepted from -1 to 259200000 ms and refused outside."""
    tree = message_with("settings.ttl", value)
    if ok:
        assert MessageTemplate.from_dict(tree).shared().settings == {"ttl": value, "strategy": {"default": 1}}
    else:
        raises_on("settings.ttl", tree)


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (4, True), (5, False)])
def test_strategy_values(value: int, ok: bool) -> None:
    """Strategy levels are 1..4; others are refused naming the vendor key."""
    tree = message_with("settings.strategy.hw", value)
    if ok:
        MessageTemplate.from_dict(tree)
    else:
        raises_on("settings.strategy.hw", tree)


@pytest.mark.parametrize("section", ["push_message", "push_channel.android.ups"])
def test_exactly_one_payload_kind(section: str) -> None:
    """notification+transmission together, or neither, is refused naming the section."""
    both = message_with(f"{section}.transmission", "x")
    put(both, f"{section}.notification", {"title": "T", "body": "B", "click_type": "startapp"})
    assert "got notification, transmission" in raises_on(section, both).reason
    neither = message_with(f"{section}.transmission", "x")
    put(neither, f"{section}.transmission", None)
    assert "got none" in raises_on(section, neither).reason


def test_push_message_is_required() -> None:
    """A message without push_message is refused."""
    raises_on("push_message", {"settings": {"ttl": 1}})


def test_unknown_top_level_key_is_refused() -> None:
    """A misspelt top-level key is refused by name instead of being sent or dropped."""
    tree = full_message()
    tree["pushchannel"] = {}
    raises_on("pushchannel", tree)


def test_big_text_and_big_image_exclude_each_other() -> None:
    """big_text and big_image together are refused."""
    tree = message_with(f"{NOTE}.big_text", "long")
    put(tree, f"{NOTE}.big_image", "https://x/y.png")
    raises_on(f"{NOTE}.big_image", tree)


@pytest.mark.parametrize("value", ["has space", "中文", "a/b"])
def test_group_name_charset(value: str) -> None:
    """group_name holds only ASCII letters, digits, '-' and '_'."""
    raises_on("group_name", message_with("group_name", value))


def test_ios_type_is_checked() -> None:
    """An unknown iOS push type is refused."""
    raises_on("push_channel.ios.type", message_with("push_channel.ios.type", "banner"))


def test_error_names_the_source_file() -> None:
    """from_dict's errors mention the file they came from."""
    with pytest.raises(MessageError, match=r"\(in campaign\.json\)"):
        MessageTemplate.from_dict(message_with("group_name", "x y"), source="campaign.json")


def test_non_json_value_is_refused() -> None:
    """A value JSON cannot carry is refused by path instead of failing in the encoder."""
    raises_on("push_message.notification.extra", message_with(f"{NOTE}.extra", {1, 2}))


# --- builders ---------------------------------------------------------------------------------------


def test_notification_to_dict_omits_none_and_uses_enum_values() -> None:
    """Notification emits Getui's snake_case keys, click_type as text, and no None values."""
    note = Notification(title="T", body="B", click_type=ClickType.URL, url="https://e.x", notify_id=7)
    assert note.to_dict() == {
        "title": "T",
        "body": "B",
        "click_type": "url",
        "url": "https://e.x",
        "notify_id": 7,
    }


def test_notification_validates_on_construction() -> None:
    """A builder refuses an over-long title and a click_type without its field, naming the field."""
    with pytest.raises(MessageError) as long_title:
        Notification(title="x" * 51, body="B")
    assert long_title.value.field == f"{NOTE}.title"
    with pytest.raises(MessageError) as no_url:
        Notification(title="T", body="B", click_type=ClickType.URL)
    assert no_url.value.field == f"{NOTE}.url"


def test_push_settings_to_dict() -> None:
    """PushSettings emits ttl (ms) and strategy, and validates their ranges."""
    assert PushSettings(ttl_ms=60_000, strategy={"default": 1, "ios": 2}).to_dict() == {
        "ttl": 60_000,
        "strategy": {"default": 1, "ios": 2},
    }
    with pytest.raises(MessageError, match=r"settings\.ttl"):
        PushSettings(ttl_ms=-5)


def test_android_channel_to_dict() -> None:
    """AndroidChannel wraps its notification or transmission and options in ups."""
    note = Notification(title="T", body="B")
    channel = AndroidChannel(notification=note, options={"HW": {"/message/android/importance": "NORMAL"}})
    assert channel.to_dict() == {
        "ups": {
            "notification": {"title": "T", "body": "B", "click_type": "startapp"},
            "options": {"HW": {"/message/android/importance": "NORMAL"}},
        }
    }
    assert AndroidChannel(transmission="raw").to_dict() == {"ups": {"transmission": "raw"}}
    with pytest.raises(MessageError) as both:
        AndroidChannel(notification=note, transmission="raw")
    assert both.value.field == "push_channel.android.ups"


def test_ios_channel_uses_apns_key_spellings() -> None:
    """IosChannel emits content-available, thread-id and apns-collapse-id exactly as the docs spell them."""
    ios = IosChannel(
        title="T",
        body="B",
        subtitle="S",
        sound="default",
        content_available=1,
        category="c",
        thread_id="t",
        auto_badge="+1",
        payload="p",
        collapse_id="k",
    )
    assert ios.to_dict() == {
        "type": "notify",
        "aps": {
            "alert": {"title": "T", "body": "B", "subtitle": "S"},
            "sound": "default",
            "content-available": 1,
            "category": "c",
            "thread-id": "t",
        },
        "auto_badge": "+1",
        "payload": "p",
        "apns-collapse-id": "k",
    }
    assert IosChannel(content_available=True).to_dict() == {"type": "notify", "aps": {"content-available": 1}}


def test_ios_collapse_id_limit() -> None:
    """IosChannel refuses a collapse id over 64 characters."""
    with pytest.raises(MessageError) as info:
        IosChannel(title="T", collapse_id="k" * 65)
    assert info.value.field == "push_channel.ios.apns-collapse-id"


def test_message_to_dict_and_template() -> None:
    """Message assembles every part; from_message equals from_dict of the same JSON."""
    message = Message(
        notification=Notification(title="Hi {name}", body="B"),
        settings=PushSettings(ttl_ms=1000),
        push_channel=PushChannel(ios=IosChannel(title="Hi {name}")),
        group_name="g1",
    )
    expected = {
        "push_message": {"notification": {"title": "Hi {name}", "body": "B", "click_type": "startapp"}},
        "push_channel": {"ios": {"type": "notify", "aps": {"alert": {"title": "Hi {name}"}}}},
        "settings": {"ttl": 1000},
        "group_name": "g1",
    }
    assert message.to_dict() == expected
    template = MessageTemplate.from_message(message)
    assert template == MessageTemplate.from_dict(expected)
    assert template.variables == frozenset({"name"})


@pytest.mark.parametrize(
    "kwargs", [{}, {"notification": Notification(title="T", body="B"), "transmission": "x"}]
)
def test_message_needs_exactly_one_payload(kwargs: dict[str, Any]) -> None:
    """A Message with neither or both of notification/transmission is refused."""
    with pytest.raises(MessageError) as info:
        Message(**kwargs)
    assert info.value.field == "push_message"


def test_simple_reaches_every_channel() -> None:
    """simple() sends the same title/body/click field to Getui's channel, vendor channels and APNs."""
    template = MessageTemplate.simple(title="T", body="B", click_type="url", url="https://e.x")
    note = {"title": "T", "body": "B", "click_type": "url", "url": "https://e.x"}
    assert template.to_dict() == {
        "push_message": {"notification": note},
        "push_channel": {
            "android": {"ups": {"notification": note}},
            "ios": {"type": "notify", "aps": {"alert": {"title": "T", "body": "B"}}},
        },
    }


def test_simple_payload_goes_to_ios_too() -> None:
    """A payload click in simple() also sets the iOS payload."""
    template = MessageTemplate.simple(title="T", body="B", click_type="payload", payload='{"k":1}')
    assert template.shared().push_channel is not None
    assert template.shared().push_channel["ios"]["payload"] == '{"k":1}'


def test_simple_refuses_a_field_its_click_type_ignores() -> None:
    """A url with click_type startapp is a mistake worth stopping, not a silent no-op."""
    with pytest.raises(MessageError) as info:
        MessageTemplate.simple(title="T", body="B", url="https://e.x")
    assert info.value.field == f"{NOTE}.url"


# --- rendering --------------------------------------------------------------------------------------


def personal() -> MessageTemplate:
    """A template personalized in the Getui notification only."""
    tree = full_message()
    put(tree, f"{NOTE}.title", "Hi {name}")
    put(tree, f"{NOTE}.body", "Code {code}, valid today")
    return MessageTemplate.from_dict(tree)


def test_placeholders_render() -> None:
    """Each {name} is replaced by the record's value."""
    rendered = personal().render({"name": "Ana", "code": "42"})
    assert rendered.push_message["notification"]["title"] == "Hi Ana"
    assert rendered.push_message["notification"]["body"] == "Code 42, valid today"
    assert rendered.shared is False


def test_json_payload_braces_pass_through() -> None:
    """JSON text in a payload keeps its braces; only {identifier} inside it is replaced."""
    payload = '{"user":"{uid}","meta":{"n":1},"empty":{}}'
    template = MessageTemplate.simple(title="T", body="B", click_type="payload", payload=payload)
    rendered = template.render({"uid": "u-7"})
    expected = '{"user":"u-7","meta":{"n":1},"empty":{}}'
    assert rendered.push_message["notification"]["payload"] == expected
    assert rendered.push_channel is not None
    assert rendered.push_channel["ios"]["payload"] == expected
    assert template.variables == frozenset({"uid"})


def test_double_braces_are_literal() -> None:
    """{{name}} renders as the text {name} and is not a variable."""
    template = MessageTemplate.from_dict(message_with(f"{NOTE}.title", "{{name}} and {name}"))
    assert template.variables == frozenset({"name"})
    assert template.render({"name": "Bo"}).push_message["notification"]["title"] == "{name} and Bo"


def test_values_are_not_expanded_again() -> None:
    """A value that looks like a placeholder is inserted literally."""
    rendered = personal().render({"name": "{code}", "code": "1"})
    assert rendered.push_message["notification"]["title"] == "Hi {code}"


def test_missing_variable_is_named() -> None:
    """A record without a template field is refused, naming the variable."""
    with pytest.raises(MessageError) as info:
        personal().render({"name": "Ana"})
    assert info.value.field == "code"
    assert info.value.reason == "template field 'code' is missing from the record"


def test_over_long_rendered_field_is_named() -> None:
    """A rendered title over 50 characters is refused, naming the path and both lengths."""
    with pytest.raises(MessageError) as info:
        personal().render({"name": "x" * 54, "code": "1"})
    assert info.value.field == f"{NOTE}.title"
    assert info.value.reason == "is 57 characters, over Getui's limit of 50"


def test_rendered_required_field_must_not_be_empty() -> None:
    """A title that is only a placeholder and renders empty is refused, even when empty values are allowed."""
    template = MessageTemplate.from_dict(message_with(f"{NOTE}.title", "{name}"), allow_empty=True)
    with pytest.raises(MessageError) as info:
        template.render({"name": ""})
    assert info.value.field == f"{NOTE}.title"


@pytest.mark.parametrize("value", ["", None])
def test_empty_placeholder_value_is_refused_naming_it(value: Any) -> None:
    """An empty (or null) value for a placeholder rejects the record, naming the placeholder and 'empty'."""
    template = MessageTemplate.simple(title="{name} 专享", body="Code {code}")
    with pytest.raises(MessageError) as info:
        template.render({"name": value, "code": "1"})
    assert info.value.field == "name"
    assert "empty" in info.value.reason


def test_allow_empty_names_the_fields_that_may_be_empty() -> None:
    """allow_empty lets the named placeholders render empty; the others are still refused."""
    template = MessageTemplate.simple(title="Hi {name}", body="Code {code}", allow_empty=frozenset({"name"}))
    assert template.render({"name": "", "code": "1"}).push_message["notification"]["title"] == "Hi "
    with pytest.raises(MessageError, match="empty") as info:
        template.render({"name": "Bo", "code": ""})
    assert info.value.field == "code"


def test_with_allow_empty_true_allows_every_field() -> None:
    """with_allow_empty(True) returns a template that renders every empty value, same fingerprint."""
    strict = MessageTemplate.simple(title="Hi {name}", body="Code {code}")
    relaxed = strict.with_allow_empty(True)
    assert relaxed.allow_empty is True
    assert relaxed.fingerprint == strict.fingerprint
    rendered = relaxed.render({"name": "", "code": ""})
    assert rendered.push_message["notification"]["body"] == "Code "


def test_empty_check_applies_with_overrides() -> None:
    """A record with its own title still needs non-empty values for the placeholders left in the body."""
    template = MessageTemplate.simple(title="Hi {name}", body="Code {code}")
    assert template.render({"code": "7"}, {"title": "Own"}).push_message["notification"]["title"] == "Own"
    with pytest.raises(MessageError, match="empty"):
        template.render({"code": ""}, {"title": "Own"})


def test_placeholders_in_lists_render() -> None:
    """Placeholders inside arrays render without touching the template's array."""
    tree = message_with("push_channel.ios.aps.alert.loc-args", ["{name}", "fixed"])
    template = MessageTemplate.from_dict(tree)
    rendered = template.render({"name": "Ana"})
    assert rendered.push_channel is not None
    assert rendered.push_channel["ios"]["aps"]["alert"]["loc-args"] == ["Ana", "fixed"]
    assert template.to_dict()["push_channel"]["ios"]["aps"]["alert"]["loc-args"] == ["{name}", "fixed"]


def test_copy_on_write() -> None:
    """Renders never change the template or each other; the parts without placeholders are equal."""
    template = personal()
    before = copy.deepcopy(template.to_dict())
    first = template.render({"name": "A", "code": "1"})
    second = template.render({"name": "B", "code": "2"})
    assert template.to_dict() == before
    assert first.push_message["notification"]["title"] == "Hi A"
    assert second.push_message["notification"]["title"] == "Hi B"
    assert first.settings == second.settings
    assert first.push_channel == second.push_channel


def test_shared_is_one_object() -> None:
    """Without placeholders or overrides every render is the cached shared() instance."""
    template = MessageTemplate.from_dict(full_message())
    assert template.render({"cid": "x"}) is template.shared()
    assert template.render({}, {"title": ""}) is template.shared()
    assert template.shared().shared is True


def test_personalized_template_has_no_shared_form() -> None:
    """shared() on a personalized template is refused, naming a variable."""
    with pytest.raises(MessageError) as info:
        personal().shared()
    assert info.value.field in {"name", "code"}


def test_overrides_replace_every_title_slot() -> None:
    """A record's own title replaces the Getui, vendor and iOS titles; other parts stay shared."""
    template = MessageTemplate.simple(title="Hi {name}", body="B")
    rendered = template.render({"name": "Ana"}, {"title": "Flash sale"})
    assert rendered.push_channel is not None
    titles = [
        rendered.push_message["notification"]["title"],
        rendered.push_channel["android"]["ups"]["notification"]["title"],
        rendered.push_channel["ios"]["aps"]["alert"]["title"],
    ]
    assert titles == ["Flash sale"] * 3
    assert rendered.push_message["notification"]["body"] == "B"


def test_override_needs_no_variable_it_replaces() -> None:
    """A placeholder only used in an overridden slot is not required from the record."""
    template = MessageTemplate.simple(title="Hi {name}", body="B")
    rendered = template.render({}, {"title": "Fixed"})
    assert rendered.push_message["notification"]["title"] == "Fixed"


def test_override_on_shared_template_copies() -> None:
    """An override on identical content yields a private copy and leaves shared() untouched."""
    template = MessageTemplate.from_dict(full_message())
    rendered = template.render({}, {"body": "Own body"})
    assert rendered.shared is False
    assert rendered.push_message["notification"]["body"] == "Own body"
    assert template.shared().push_message["notification"]["body"] == "B"
    assert rendered.settings == template.shared().settings


def test_payload_override_slots() -> None:
    """A payload override replaces the payload-click notification payload, the vendor one and the iOS one."""
    template = MessageTemplate.simple(title="T", body="B", click_type="payload", payload="{}")
    rendered = template.render({}, {"payload": '{"id":9}'})
    assert rendered.push_channel is not None
    assert rendered.push_message["notification"]["payload"] == '{"id":9}'
    assert rendered.push_channel["android"]["ups"]["notification"]["payload"] == '{"id":9}'
    assert rendered.push_channel["ios"]["payload"] == '{"id":9}'


def test_payload_override_skips_non_payload_click() -> None:
    """notification.payload is a slot only when click_type is payload/payload_custom."""
    tree = full_message()
    put(tree, f"{NOTE}.payload", "keep")
    rendered = MessageTemplate.from_dict(tree).render({}, {"payload": "new"})
    assert rendered.push_message["notification"]["payload"] == "keep"
    assert rendered.push_channel is not None
    assert rendered.push_channel["ios"]["payload"] == "new"


def test_over_long_override_is_named() -> None:
    """An override is length-checked like any rendered field."""
    with pytest.raises(MessageError) as info:
        MessageTemplate.simple(title="T", body="B").render({}, {"title": "x" * 51})
    assert info.value.field == f"{NOTE}.title"


def test_override_problems_are_named() -> None:
    """An unknown override key, or one the message has no slot for, is refused by name."""
    template = MessageTemplate.simple(title="T", body="B")
    with pytest.raises(MessageError) as unknown:
        template.render({}, {"subtitle": "x"})
    assert unknown.value.field == "subtitle"
    with pytest.raises(MessageError) as no_slot:
        template.render({}, {"payload": "x"})
    assert no_slot.value.field == "payload"


def test_fingerprint_is_canonical() -> None:
    """Key order does not change the fingerprint; content does."""
    tree = full_message()
    reordered = dict(reversed(list(copy.deepcopy(tree).items())))
    first = MessageTemplate.from_dict(tree)
    assert first.fingerprint == MessageTemplate.from_dict(reordered).fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    assert first.fingerprint != MessageTemplate.from_dict(message_with(f"{NOTE}.body", "C")).fingerprint


def test_with_notify_id_fills_gaps_only() -> None:
    """with_notify_id sets missing override ids in every section, keeps the user's, and copies."""
    tree = full_message()
    put(tree, f"{UPS_NOTE}.notify_id", 5)
    template = MessageTemplate.from_dict(tree)
    stamped = template.with_notify_id(77, "camp-1")
    shared = stamped.shared()
    assert shared.push_message["notification"]["notify_id"] == 77
    assert shared.push_channel is not None
    assert shared.push_channel["android"]["ups"]["notification"]["notify_id"] == 5
    assert shared.push_channel["ios"]["apns-collapse-id"] == "camp-1"
    assert "notify_id" not in template.shared().push_message["notification"]
    assert stamped.fingerprint != template.fingerprint


def test_with_notify_id_adds_no_sections() -> None:
    """A transmission-only template gets no notification or iOS section from with_notify_id."""
    template = MessageTemplate.from_dict({"push_message": {"transmission": "raw"}})
    assert template.with_notify_id(1, "c").to_dict() == {"push_message": {"transmission": "raw"}}


def test_with_notify_id_checks_the_collapse_id() -> None:
    """An over-long collapse id is refused like any other."""
    with pytest.raises(MessageError) as info:
        MessageTemplate.from_dict(full_message()).with_notify_id(1, "k" * 65)
    assert info.value.field == "push_channel.ios.apns-collapse-id"


# --- ids --------------------------------------------------------------------------------------------


def test_request_id_shape_and_determinism() -> None:
    """request_id is 32 lowercase hex, the same for the same inputs; the fingerprint is a 64-bit int."""
    request_id, fingerprint = recipient_ids("spring24", "cid", "cid-0001")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert recipient_ids("spring24", "cid", "cid-0001") == (request_id, fingerprint)
    assert 0 <= fingerprint < 2**64


def test_request_id_differs_across_campaign_kind_and_target() -> None:
    """Changing any of campaign, kind or target changes the request_id."""
    ids = {
        recipient_ids("spring24", "cid", "x")[0],
        recipient_ids("autumn24", "cid", "x")[0],
        recipient_ids("spring24", "alias", "x")[0],
        recipient_ids("spring24", "cid", "y")[0],
        recipient_ids("spring2", "cid", "4x")[0],
    }
    assert len(ids) == 5


def test_recipient_ids_refuses_unknown_kind() -> None:
    """Only cid and alias audiences exist."""
    with pytest.raises(ValueError, match="kind"):
        recipient_ids("c", "tag", "x")


def test_notify_id_is_in_range_and_stable() -> None:
    """derive_notify_id is deterministic and within 1..2147483647."""
    ids = [derive_notify_id(f"campaign-{i}") for i in range(200)]
    assert all(1 <= n <= NOTIFY_ID_MAX for n in ids)
    assert ids == [derive_notify_id(f"campaign-{i}") for i in range(200)]
    assert len(set(ids)) == 200


def test_campaign_id_follows_the_message() -> None:
    """The campaign id is 10..20 of [a-z0-9], equal for equal templates, different otherwise."""
    first = derive_campaign_id(MessageTemplate.from_dict(full_message()))
    assert re.fullmatch(r"[a-z0-9]{10,20}", first)
    assert first == derive_campaign_id(MessageTemplate.from_dict(full_message()))
    assert first != derive_campaign_id(MessageTemplate.from_dict(message_with(f"{NOTE}.title", "U")))


# --- request bodies ---------------------------------------------------------------------------------

MSG = Rendered(
    push_message={"notification": {"title": "T", "body": "B", "click_type": "startapp"}},
    push_channel={"ios": {"type": "notify"}},
    settings={"ttl": 1000},
    group_name="g1",
)
BARE = Rendered(push_message={"transmission": "raw"}, push_channel=None, settings=None, group_name=None)
RID = "0123456789abcdef0123456789abcdef"


def test_single_body() -> None:
    """A single push carries request_id, a one-target audience and every message part."""
    assert _json.loads(single_body(RID, "alias", "bob", MSG)) == {
        "request_id": RID,
        "audience": {"alias": ["bob"]},
        "push_message": MSG.push_message,
        "settings": {"ttl": 1000},
        "push_channel": {"ios": {"type": "notify"}},
        "group_name": "g1",
    }
    assert _json.loads(single_body(RID, "cid", "c1", BARE)) == {
        "request_id": RID,
        "audience": {"cid": ["c1"]},
        "push_message": {"transmission": "raw"},
    }


@pytest.mark.parametrize(("request_id", "kind"), [("short", "cid"), ("x" * 33, "cid"), (RID, "tag")])
def test_single_body_refuses_bad_request_id_or_kind(request_id: str, kind: str) -> None:
    """request_id must be 10..32 characters and kind cid or alias."""
    with pytest.raises(ValueError, match=r"request_id|kind"):
        single_body(request_id, kind, "c1", BARE)


def test_batch_body() -> None:
    """A batch wraps its items in msg_list with is_async; 0 or over 200 items are refused."""
    items = [single_body(RID, "cid", f"c{i}", BARE) for i in range(200)]
    assert _json.loads(batch_body(items[:2], is_async=True)) == {
        "is_async": True,
        "msg_list": [_json.loads(item) for item in items[:2]],
    }
    assert len(_json.loads(batch_body(items, is_async=False))["msg_list"]) == 200
    with pytest.raises(ValueError, match=r"1\.\.200"):
        batch_body([*items, items[0]], is_async=False)
    with pytest.raises(ValueError, match=r"1\.\.200"):
        batch_body([], is_async=False)


def test_bodies_quote_what_they_are_given() -> None:
    """A target with quotes or backslashes stays one JSON string (bodies are spliced as bytes)."""
    body = _json.loads(single_body(RID, "cid", 'a"b\\c', BARE))
    assert body["audience"] == {"cid": ['a"b\\c']}


def test_list_message_body_has_no_audience() -> None:
    """push/list/message stores the message without an audience."""
    assert _json.loads(list_message_body(RID, BARE)) == {
        "request_id": RID,
        "push_message": {"transmission": "raw"},
    }


def test_list_push_bodies() -> None:
    """List pushes carry the taskid, the targets and is_async; alias detail only for aliases."""
    assert _json.loads(list_push_body("RASL-1", "cid", ("a", "b"), is_async=False)) == {
        "audience": {"cid": ["a", "b"]},
        "taskid": "RASL-1",
        "is_async": False,
    }
    assert _json.loads(list_push_body("RASL-2", "alias", ["x"], is_async=False, need_alias_detail=True)) == {
        "audience": {"alias": ["x"]},
        "taskid": "RASL-2",
        "is_async": False,
        "need_alias_detail": True,
    }


@pytest.mark.parametrize(
    ("targets", "kwargs", "match"),
    [
        ([], {}, r"1\.\.1000"),
        ([f"c{i}" for i in range(1001)], {}, r"1\.\.1000"),
        (["a", "a"], {}, "repeat"),
        (["a"], {"need_alias_detail": True}, "alias pushes only"),
    ],
)
def test_list_push_body_refuses(targets: list[str], kwargs: dict[str, Any], match: str) -> None:
    """Empty, over-1000, repeated-target and cid-with-alias-detail list pushes are refused."""
    with pytest.raises(ValueError, match=match):
        list_push_body("RASL-1", "cid", targets, is_async=False, **kwargs)


def test_auth_body_sign_vector() -> None:
    """sign is sha256(appkey + timestamp + mastersecret), checked against a hand-computed vector."""
    # echo -n "demo-app-key1700000000123demo-master-secret" | sha256sum
    expected = "b8a4cd95066bb9e8d5d74c49f6203b9a99d1ebbdac19d6b52c1b10cd33584d92"
    body = auth_body("demo-app-key", "demo-master-secret", 1_700_000_000_123)
    assert body == {"sign": expected, "timestamp": "1700000000123", "appkey": "demo-app-key"}
    assert hashlib.sha256(b"demo-app-key1700000000123demo-master-secret").hexdigest() == expected


def test_lone_surrogate_is_a_message_error() -> None:
    """Text that cannot be sent as UTF-8 is refused naming the field, not a crash in the encoder."""
    with pytest.raises(MessageError, match="surrogate"):
        MessageTemplate.simple(title="bad \ud800", body="B")


def test_payload_custom_maps_to_payload_on_vendor_channels() -> None:
    """Vendors cannot show a no-launch notification: simple() sends them payload instead."""
    message = MessageTemplate.simple(title="T", body="B", click_type="payload_custom", payload="p").shared()
    assert message.push_message["notification"]["click_type"] == "payload_custom"
    assert message.push_channel is not None
    assert message.push_channel["android"]["ups"]["notification"]["click_type"] == "payload"


def test_payload_custom_on_vendor_channel_is_refused() -> None:
    """A --message template asking vendors for payload_custom is refused before sending."""
    ups = {"notification": {"title": "T", "body": "B", "click_type": "payload_custom", "payload": "p"}}
    data = {"push_message": {"transmission": "x"}, "push_channel": {"android": {"ups": ups}}}
    with pytest.raises(MessageError, match=r"ups\.notification\.click_type"):
        MessageTemplate.from_dict(data)


@pytest.mark.parametrize(
    ("text", "where"), [("{name", "'{' at character 1"), ("Hi name}", "'}' at character 8")]
)
def test_unbalanced_braces_are_refused(text: str, where: str) -> None:
    """A lone brace that opens or closes nothing is a MessageError naming the field and the position."""
    error = raises_on(f"{NOTE}.title", message_with(f"{NOTE}.title", text))
    assert where in error.reason


def test_doubled_braces_are_single_literal_braces() -> None:
    """``{{`` and ``}}`` render as one brace each, outside or around a name."""
    template = MessageTemplate.simple(title="a {{ b }} {{c}} {d}", body="B")
    assert template.variables == frozenset({"d"})
    assert template.render({"d": "D"}).push_message["notification"]["title"] == "a { b } {c} D"


def test_unicode_placeholder_names() -> None:
    """A Chinese column name is a placeholder like any other."""
    template = MessageTemplate.simple(title="{姓名}，您好", body="B")  # noqa: RUF001 - a Chinese comma
    assert template.variables == frozenset({"姓名"})
    assert template.render({"姓名": "张伟"}).push_message["notification"]["title"] == "张伟，您好"  # noqa: RUF001


def test_check_placeholders_accepts_known_columns() -> None:
    """Placeholders that are all columns (or supplied otherwise) pass."""
    template = MessageTemplate.simple(title="Hi {name}", body="{code}")
    check_placeholders(template, ["cid", "name", "code"])
    check_placeholders(template, ["cid", "name"], supplied={"code"})


def test_check_placeholders_names_the_unknown_and_the_closest_column() -> None:
    """An unknown placeholder is named with the columns found and the closest one."""
    template = MessageTemplate.simple(title="Hi {nmae}", body="B")
    with pytest.raises(MessageError) as info:
        check_placeholders(template, ["cid", "name", "city"])
    assert info.value.field == "nmae"
    assert "columns: cid, name, city" in info.value.reason
    assert info.value.reason.endswith("did you mean {name}?")


def test_check_placeholders_without_a_close_column() -> None:
    """With nothing close, the error still names the placeholder and the columns, with no guess."""
    template = MessageTemplate.simple(title="Hi {zzz}", body="B")
    with pytest.raises(MessageError) as info:
        check_placeholders(template, ["cid", "name"])
    assert "did you mean" not in info.value.reason
    assert "{zzz}" in info.value.reason
