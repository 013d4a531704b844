"""The bundled mock takes every request Getui's official Java SDK sends (tests/data/conformance/)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.mock import MockGetui
from getui_async.mock.validate import Invalid, validate_list_push, validate_single
from tests.conftest import single_body

CORPUS = Path(__file__).parent / "data" / "conformance" / "java-sdk-requests.jsonl"
_TASKID = re.compile(r"RASL-[0-9]{4}_[0-9a-f]+")
#: Replies that are about the recipient, not the request's shape (the corpus has invalid-* cids on purpose).
_NOT_A_SCHEMA_REFUSAL = {"target user is invalid"}


def corpus() -> list[dict[str, Any]]:
    """The captured requests, in the order the SDK sent them."""
    return [_json.loads(line) for line in CORPUS.read_bytes().splitlines() if line.strip()]


def test_the_corpus_is_the_shared_one() -> None:
    """The copy holds the 34 captured requests, 30 of them not /auth."""
    requests = corpus()
    assert len(requests) == 34
    assert sum(r["path"] != "/auth" for r in requests) == 30


@pytest.mark.integration
async def test_every_sdk_request_is_accepted_by_the_mock(make_mock, getui_http) -> None:
    """Replayed in order (fresh /auth, the mock's own task ids), no request gets a schema refusal."""
    mock: MockGetui = await make_mock()
    api = await getui_http(mock, login=False)
    taskid: str | None = None
    refused: list[tuple[int, str, int, str]] = []
    for number, request in enumerate(corpus(), 1):
        method, path, body = request["method"], request["path"], request["body"]
        if path == "/auth":
            # As the SDK sends it: timestamp a JSON number, signed with the mock's credentials.
            ts = int(mock.clock() * 1000)
            sign = hashlib.sha256(f"{mock.app_key}{ts}{mock.master_secret}".encode()).hexdigest()
            reply = await api.call("POST", "/auth", {"sign": sign, "timestamp": ts, "appkey": mock.app_key})
            assert reply.code == 0, reply.body
            api.token = reply.data["token"]
            continue
        if taskid is not None:
            path = _TASKID.sub(taskid, path)
            if isinstance(body, dict) and "taskid" in body:
                body = {**body, "taskid": taskid}
        reply = await api.call(method, path, body)
        if path == "/push/list/message" and reply.code == 0:
            taskid = reply.data["taskid"]
        if reply.code != 0 and reply.msg not in _NOT_A_SCHEMA_REFUSAL:
            refused.append((number, path, reply.code, reply.msg))
    assert refused == []
    assert taskid is not None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("notify_id", "11177"),
        ("channel_level", "3"),
        ("badge_add_num", "1"),
        ("notify_id", 11177),
        ("channel_level", 3),
    ],
)
def test_sdk_numeric_strings_are_accepted(path: str, value: Any) -> None:
    """notify_id, channel_level and badge_add_num pass as JSON numbers and as the SDK's numeric strings."""
    body = single_body()
    body["push_message"]["notification"][path] = value
    message = validate_single(body, "cid").message
    if path == "notify_id":
        assert message.notify_id == 11177


@pytest.mark.parametrize(
    ("path", "value", "msg"),
    [
        ("notify_id", "eleven", "push_message.notification.notify_id is invalid"),
        ("notify_id", "", "push_message.notification.notify_id is invalid"),
        ("channel_level", "9", "push_message.notification.channel_level is invalid"),
        ("channel_level", "3.5", "push_message.notification.channel_level is invalid"),
        ("badge_add_num", True, "push_message.notification.badge_add_num type error"),
    ],
)
def test_non_numeric_strings_are_still_refused(path: str, value: Any, msg: str) -> None:
    """A string that is not a number in range is refused with Getui's message."""
    body = single_body()
    body["push_message"]["notification"][path] = value
    with pytest.raises(Invalid) as caught:
        validate_single(body, "cid")
    assert caught.value.msg == msg


@pytest.mark.parametrize(
    ("settings", "msg"),
    [
        ({"active_push_platform": [1, 3]}, None),
        ({"active_push_platform": [4]}, "settings.active_push_platform is invalid"),
        ({"active_push_platform": 1}, "settings.active_push_platform type error"),
        ({"active_push": "yes"}, "settings.active_push type error"),
        ({"lst": "60000"}, "settings.lst type error"),
        ({"custom_callback": 5}, "settings.custom_callback type error"),
    ],
)
def test_settings_take_the_sdk_types(settings: dict[str, Any], msg: str | None) -> None:
    """settings flags are typed as the SDK's Settings DTO types them (platforms: an int array)."""
    body = single_body(settings={"ttl": 3_600_000, **settings})
    if msg is None:
        validate_single(body, "cid")
        return
    with pytest.raises(Invalid) as caught:
        validate_single(body, "cid")
    assert caught.value.msg == msg


def test_alias_type_and_task_name() -> None:
    """audience.alias_type (numeric string) rides on alias pushes only; task_name is a string."""
    body = single_body(audience={"alias": ["al9"], "alias_type": "1"}, task_name="task-name-1")
    assert validate_single(body, "alias").target == "al9"
    with pytest.raises(Invalid) as caught:
        validate_single(single_body(audience={"cid": ["c"], "alias_type": "1"}), "cid")
    assert caught.value.msg == "audience.alias_type is invalid"
    with pytest.raises(Invalid) as caught:
        validate_single(single_body(task_name=7), "cid")
    assert caught.value.msg == "task_name type error"


def test_list_cid_takes_need_alias_detail() -> None:
    """push/list/cid accepts the SDK's constant need_alias_detail=false."""
    body = {"audience": {"cid": ["a"]}, "taskid": "t", "is_async": False, "need_alias_detail": False}
    assert validate_list_push(body, "cid", limit=10).targets == ["a"]
