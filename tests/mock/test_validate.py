"""The mock's strict body validation (docs/getui-api.md §3), the envelope and the HTTP status table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from getui_async.mock import http_status
from getui_async.mock.validate import Invalid, validate_list_message, validate_list_push, validate_single
from tests.conftest import list_message_body, notification, single_body

DELETE = object()
CHOOSE = "please choose one of notification and transmission and revoke"
N = "push_message.notification"
UPS = "push_channel.android.ups"


def mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the dotted ``path`` set to ``value`` (or removed with DELETE)."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def ups_notification(**overrides: Any) -> dict[str, Any]:
    return {
        "android": {
            "ups": {"notification": {"title": "t", "body": "b", "click_type": "startapp", **overrides}}
        }
    }


# (path, value, Getui's msg)
SINGLE_CASES = [
    ("request_id", DELETE, "request_id can not be empty"),
    ("request_id", 12345678901, "request_id type error"),
    ("request_id", "short", "request_id is invalid"),
    ("request_id", "r" * 33, "request_id size over limit"),
    ("audience", DELETE, "audience can not be empty"),
    ("audience", ["cid-1"], "audience type error"),
    ("audience", {"cid": ["a"], "alias": ["b"]}, "audience.alias is invalid"),
    ("audience", {"cid": []}, "cid can not be empty"),
    ("audience", {"cid": ["a", "b"]}, "cid size over limit"),
    ("audience", {"cid": [7]}, "cid is invalid"),
    ("audience", {"cid": "cid-1"}, "cid type error"),
    ("unknown_key", 1, "unknown_key is invalid"),
    ("push_message", DELETE, "push_message can not be empty"),
    ("push_message.transmission", "x", CHOOSE),
    ("push_message", {}, CHOOSE),
    ("push_message.extra", 1, "push_message.extra is invalid"),
    (f"{N}.title", DELETE, f"{N}.title can not be empty"),
    (f"{N}.title", "", f"{N}.title can not be empty"),
    (f"{N}.title", "t" * 51, f"{N}.title size over limit"),
    (f"{N}.title", 5, f"{N}.title type error"),
    (f"{N}.body", "b" * 257, f"{N}.body size over limit"),
    (f"{N}.click_type", DELETE, f"{N}.click_type can not be empty"),
    (f"{N}.click_type", "open", f"{N}.click_type is invalid"),
    (f"{N}.click_type", "intent", f"{N}.intent can not be empty"),
    (f"{N}.click_type", "url", f"{N}.url can not be empty"),
    (f"{N}.click_type", "payload", f"{N}.payload can not be empty"),
    (f"{N}.click_type", "payload_custom", f"{N}.payload can not be empty"),
    (f"{N}.intent", "i" * 4097, f"{N}.intent size over limit"),
    (f"{N}.url", "u" * 1025, f"{N}.url size over limit"),
    (f"{N}.payload", "p" * 3073, f"{N}.payload size over limit"),
    (f"{N}.big_text", "x" * 513, f"{N}.big_text size over limit"),
    (f"{N}.logo", "x" * 65, f"{N}.logo size over limit"),
    (f"{N}.logo_url", "x" * 257, f"{N}.logo_url size over limit"),
    (f"{N}.channel_id", "x" * 65, f"{N}.channel_id size over limit"),
    (f"{N}.channel_name", "x" * 65, f"{N}.channel_name size over limit"),
    (f"{N}.channel_level", 5, f"{N}.channel_level is invalid"),
    (f"{N}.notify_id", -1, f"{N}.notify_id is invalid"),
    (f"{N}.notify_id", 2_147_483_648, f"{N}.notify_id is invalid"),
    (f"{N}.notify_id", "seven", f"{N}.notify_id is invalid"),
    (f"{N}.notify_id", 7.0, f"{N}.notify_id type error"),
    (f"{N}.notify_id", True, f"{N}.notify_id type error"),
    (f"{N}.subtitle", "x", f"{N}.subtitle is invalid"),
    ("push_message", {"transmission": "t" * 3073}, "push_message.transmission size over limit"),
    ("push_message", {"revoke": {"force": True}}, "push_message.revoke.old_task_id can not be empty"),
    ("push_message.duration", "1795000000000-1795000060000", "push_message.duration is invalid"),
    ("push_message.network_type", 2, "push_message.network_type is invalid"),
    ("settings", [], "settings type error"),
    ("settings.ttl", -2, "settings.ttl is invalid"),
    ("settings.ttl", 259_200_001, "settings.ttl is invalid"),
    ("settings.ttl", 1.5, "settings.ttl type error"),
    ("settings.strategy", {"default": 5}, "settings.strategy.default is invalid"),
    ("settings.strategy", {"nokia": 1}, "settings.strategy.nokia is invalid"),
    ("settings.speed", 100, "settings.speed is invalid"),
    ("group_name", "g" * 101, "group_name size over limit"),
    ("group_name", "spring sale!", "group_name is invalid"),
    ("push_channel", {"windows": {}}, "push_channel.windows is invalid"),
    ("push_channel", {"android": {"ups": {}}}, CHOOSE),
    ("push_channel", {"android": {"ups": {"transmission": "x", "revoke": {"old_task_id": "t"}}}}, CHOOSE),
    ("push_channel", ups_notification(title="t" * 51), f"{UPS}.notification.title size over limit"),
    ("push_channel", ups_notification(body="b" * 257), f"{UPS}.notification.body size over limit"),
    (
        "push_channel",
        ups_notification(click_type="payload_custom"),
        f"{UPS}.notification.click_type is invalid",
    ),
    ("push_channel", ups_notification(click_type="url"), f"{UPS}.notification.url can not be empty"),
    (
        "push_channel",
        {"android": {"ups": {"transmission": "t" * 3073}}},
        f"{UPS}.transmission size over limit",
    ),
    (
        "push_channel",
        {"android": {"ups": {"transmission": "x", "options": {"XX": {}}}}},
        f"{UPS}.options.XX is invalid",
    ),
    ("push_channel", {"ios": {"type": "sms"}}, "push_channel.ios.type is invalid"),
    (
        "push_channel",
        {"ios": {"apns-collapse-id": "c" * 65}},
        "push_channel.ios.apns-collapse-id size over limit",
    ),
    (
        "push_channel",
        {"ios": {"aps": {"alert": {"title": 1}}}},
        "push_channel.ios.aps.alert.title type error",
    ),
    ("push_channel", {"ios": {"auto_badge": "plus one"}}, "push_channel.ios.auto_badge is invalid"),
    ("push_channel", {"ios": {"payload": {"k": "v"}}}, "push_channel.ios.payload type error"),
    (
        "push_channel",
        {"ios": {"multimedia": [{"url": "u", "type": 1}] * 4}},
        "push_channel.ios.multimedia size over limit",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "msg"), SINGLE_CASES, ids=[f"{p}={v!r}"[:60] for p, v, _ in SINGLE_CASES]
)
def test_single_push_rules(path, value, msg):
    """Each documented rule of a single push body is enforced with Getui's 20001 message."""
    valid = single_body()
    validate_single(valid, "cid")  # the base body passes, so the mutation is what fails
    with pytest.raises(Invalid) as caught:
        validate_single(mutate(valid, path, value), "cid")
    assert caught.value.msg == msg


def test_a_full_documented_body_is_accepted():
    """A body using every documented part (channels, settings, group) passes and yields its notify_id."""
    body = single_body(
        group_name="spring_sale-2026",
        settings={"ttl": 3_600_000, "strategy": {"default": 1, "ios": 4, "hw": 2}},
        push_channel={
            "android": {
                "ups": {"notification": {"title": "t", "body": "b", "click_type": "url", "url": "https://x"}}
            },
            "ios": {
                "type": "notify",
                "aps": {
                    "alert": {"title": "iOS title", "body": "b", "loc-args": ["a"]},
                    "content-available": 0,
                },
                "auto_badge": "+1",
                "payload": "{}",
                "apns-collapse-id": "campaign-1",
            },
        },
    )
    body["push_message"]["notification"] = notification(
        click_type="intent", intent="intent://x", notify_id=42
    )
    push = validate_single(body, "cid")
    assert (push.request_id, push.target, push.message.notify_id, push.message.title) == (
        "req-000000001",
        "cid-0001",
        42,
        "Hello",
    )


def test_notify_id_and_title_fall_back_to_the_vendor_channel():
    """With a transmission on Getui's channel, the record takes the ups notification's notify_id/title."""
    body = single_body(
        push_message={"transmission": "{}"}, push_channel=ups_notification(notify_id=9, title="Vendor")
    )
    message = validate_single(body, "cid").message
    assert (message.notify_id, message.title) == (9, "Vendor")


def test_alias_audience_must_use_the_alias_key():
    """A single alias push with a cid audience names the stray key."""
    with pytest.raises(Invalid) as caught:
        validate_single(single_body(), "alias")
    assert caught.value.msg == "audience.cid is invalid"


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (list_message_body(audience={"cid": ["a"]}), "audience is invalid"),
        (list_message_body(request_id="short"), "request_id is invalid"),
        (
            list_message_body(push_message={"notification": notification(title="")}),
            f"{N}.title can not be empty",
        ),
    ],
)
def test_list_message_rules(body, msg):
    """A list message carries no audience; its request_id is optional but checked when present."""
    with pytest.raises(Invalid) as caught:
        validate_list_message(body)
    assert caught.value.msg == msg


def test_list_message_request_id_is_optional():
    """A list message without request_id is valid."""
    body = list_message_body()
    del body["request_id"]
    assert validate_list_message(body).request_id is None


@pytest.mark.parametrize(
    ("body", "key", "msg"),
    [
        ({"audience": {"cid": ["a", "b", "c"]}, "taskid": "t"}, "cid", "cid size over limit"),
        ({"audience": {"cid": ["a", "a"]}, "taskid": "t"}, "cid", "contains duplicate cid"),
        ({"audience": {"alias": ["x", "x"]}, "taskid": "t"}, "alias", "contains duplicate alias"),
        ({"audience": {"cid": ["a"]}}, "cid", "taskid can not be empty"),
        (
            {"audience": {"cid": ["a"]}, "taskid": "t", "need_alias_detail": "no"},
            "cid",
            "need_alias_detail type error",
        ),
        ({"audience": {"cid": ["a"]}, "taskid": "t", "is_async": "yes"}, "cid", "is_async type error"),
        ({"audience": {"cid": ["a"]}, "taskid": "t", "request_id": "r" * 12}, "cid", "request_id is invalid"),
    ],
)
def test_list_push_rules(body, key, msg):
    """List pushes refuse over-long and repeated audiences and keys they do not document."""
    with pytest.raises(Invalid) as caught:
        validate_list_push(body, key, limit=2)
    assert caught.value.msg == msg


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, 200),
        (1, 200),
        (2, 200),
        (301, 200),
        (404, 404),
        (10001, 401),
        (10005, 401),
        (20001, 400),
        (30019, 403),
    ],
)
def test_http_status_follows_the_code_table(code, status):
    """Getui's code table: 0/1/2/301 -> 200, 1xxxx -> 401, 2xxxx -> 400, 3xxxx -> 403."""
    assert http_status(code) == status


# --- over HTTP ----------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_an_invalid_body_is_400_20001_and_delivers_nothing(mock_getui, getui_http):
    """Over HTTP a rule violation is a 400 envelope with code 20001, and nothing is delivered."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/cid", mutate(single_body(), f"{N}.title", "t" * 51))
    assert (reply.status, reply.code, reply.msg) == (400, 20001, f"{N}.title size over limit")
    assert reply.content_type == "application/json;charset=UTF-8"
    assert "data" not in reply.body
    assert mock_getui.deliveries == {}
    assert mock_getui.stats().rejections == {20001: 1}


@pytest.mark.integration
async def test_a_body_that_is_not_json_is_code_1(mock_getui, getui_http):
    """An undecodable body gets code 1 'body is not json' with HTTP 200."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/cid", None, raw=b"{not json")
    assert (reply.status, reply.code, reply.msg) == (200, 1, "body is not json")


@pytest.mark.integration
async def test_unknown_appid_path_and_method(mock_getui, getui_http):
    """An unknown appid is a 404 envelope; an unknown path is 404; a wrong method is 405."""
    api = await getui_http(mock_getui)
    url = f"{mock_getui.base_url}/other-app/push/single/cid"
    async with api.session.post(url, json=single_body(), headers={"token": api.token}) as resp:
        assert (resp.status, (await resp.json(content_type=None))["code"]) == (404, 404)
    assert (await api.get("/push/nowhere")).status == 404
    assert (await api.get("/push/single/cid")).status == 405
