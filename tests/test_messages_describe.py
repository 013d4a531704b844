"""describe_rendered: a rendered message as a person reads it (--dry-run --show)."""

from __future__ import annotations

from getui_async.messages import MessageTemplate, apply_vendor_class, describe_rendered, with_group_name


def test_describe_shows_every_channel_and_the_vendor_options() -> None:
    """Title and body per channel, each vendor's added options, and the group name."""
    template = with_group_name(
        apply_vendor_class(MessageTemplate.simple(title="Hi {name}", body="20% off"), "marketing"), "spring"
    )
    text = describe_rendered(template.render({"name": "张伟"}))
    assert text.splitlines() == [
        "Getui notification: Hi 张伟 | 20% off",
        "Android vendor notification: Hi 张伟 | 20% off",
        "iOS alert: Hi 张伟 | 20% off",
        "vendor options HW: /message/android/notification/importance='LOW',"
        " /message/android/category='MARKETING'",
        "vendor options HO: /android/notification/importance='LOW'",
        "vendor options OP: /category='MARKETING'",
        "vendor options VV: /classification=0, /category='MARKETING'",
        "group_name: spring",
    ]


def test_describe_says_what_is_missing() -> None:
    """A message without vendor or iOS parts says so, and that no options are added."""
    template = MessageTemplate.from_dict(
        {"push_message": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}}}
    )
    lines = describe_rendered(template.shared()).splitlines()
    assert lines[1:] == ["Android vendor notification: missing", "iOS: missing", "vendor options: none"]
