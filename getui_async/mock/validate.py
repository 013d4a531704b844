"""Strict request-body validation, written from docs/getui-api.md alone (never from our client's code).

The mock is an oracle: if our body builder breaks a documented rule, the mock must say so, in Getui's
own 20001 message style (see :mod:`.checks`), e.g. ``push_message.notification.title size over limit``.
This module checks whole request bodies (audience, request_id, batch and list envelopes); the message
inside them is :mod:`.message_rules`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .checks import NUMERIC, Invalid, as_object, check_keys, get_bool, get_str
from .message_rules import Message, message_parts

__all__ = [
    "Invalid",
    "ListMessage",
    "ListPush",
    "Message",
    "SinglePush",
    "validate_batch",
    "validate_list_message",
    "validate_list_push",
    "validate_single",
]

MAX_BATCH: Final = 200


@dataclass(frozen=True, slots=True)
class SinglePush:
    """A valid single push (one cid or one alias)."""

    request_id: str
    target: str
    message: Message


@dataclass(frozen=True, slots=True)
class ListMessage:
    """A valid ``/push/list/message`` body; ``ttl_ms`` is ``settings.ttl`` when given."""

    request_id: str | None
    message: Message
    ttl_ms: int | None


@dataclass(frozen=True, slots=True)
class ListPush:
    """A valid ``/push/list/cid`` or ``/push/list/alias`` body."""

    taskid: str
    targets: list[str]
    is_async: bool
    need_alias_detail: bool


def _request_id(body: dict[str, Any], *, required: bool) -> str | None:
    value = body.get("request_id")
    if value is None or value == "":
        if required:
            raise Invalid("request_id can not be empty")
        return None
    if not isinstance(value, str):
        raise Invalid("request_id type error")
    if len(value) > 32:
        raise Invalid("request_id size over limit")
    if len(value) < 10:
        raise Invalid("request_id is invalid")
    return value


def _targets(value: Any, target_key: str) -> list[Any]:
    """``audience`` must be exactly ``{target_key: [...]}`` with a non-empty list."""
    if value is None:
        raise Invalid("audience can not be empty")
    audience = as_object(value, "audience")
    if target_key == "alias":
        check_keys(audience, ("alias", "alias_type"), "audience")
        _alias_type(audience)
    else:
        check_keys(audience, (target_key,), "audience")
    targets = audience.get(target_key)
    if targets is None or targets == []:
        raise Invalid(f"{target_key} can not be empty")
    if not isinstance(targets, list):
        raise Invalid(f"{target_key} type error")
    return targets


def _alias_type(audience: dict[str, Any]) -> None:
    """``audience.alias_type``: the SDK's ``String aliasType`` (a numeric string such as "1")."""
    value = audience.get("alias_type")
    if value is None:
        return
    if value.__class__ is int:
        return
    if not isinstance(value, str):
        raise Invalid("audience.alias_type type error")
    if not NUMERIC.fullmatch(value):
        raise Invalid("audience.alias_type is invalid")


_SINGLE_KEYS: Final = (
    "request_id",
    "task_name",
    "group_name",
    "settings",
    "audience",
    "push_message",
    "push_channel",
)
_LIST_MESSAGE_KEYS: Final = (
    "request_id",
    "task_name",
    "group_name",
    "settings",
    "push_message",
    "push_channel",
)


def validate_single(body: Any, target_key: str) -> SinglePush:
    """A ``/push/single/{cid,alias}`` body (also one ``msg_list`` item of a batch)."""
    body = as_object(body, "body")
    check_keys(body, _SINGLE_KEYS, "")
    request_id = _request_id(body, required=True)
    assert request_id is not None
    targets = _targets(body.get("audience"), target_key)
    if len(targets) > 1:
        raise Invalid(f"{target_key} size over limit")
    target = targets[0]
    if not isinstance(target, str) or not target:
        raise Invalid(f"{target_key} is invalid")
    message, _ttl = message_parts(body)
    return SinglePush(request_id, target, message)


def validate_batch(body: Any) -> tuple[bool, list[Any]]:
    """A ``/push/single/batch/*`` envelope: ``(is_async, raw items)``; items are validated one by one."""
    body = as_object(body, "body")
    check_keys(body, ("is_async", "msg_list"), "")
    is_async = get_bool(body, "is_async", "")
    items = body.get("msg_list")
    if items is None or items == []:
        raise Invalid("msg_list can not be empty")
    if not isinstance(items, list):
        raise Invalid("msg_list type error")
    if len(items) > MAX_BATCH:
        raise Invalid("msg_list size over limit")
    return is_async, items


def validate_list_message(body: Any) -> ListMessage:
    """A ``/push/list/message`` body: a message without an audience."""
    body = as_object(body, "body")
    check_keys(body, _LIST_MESSAGE_KEYS, "")
    request_id = _request_id(body, required=False)
    message, ttl = message_parts(body)
    return ListMessage(request_id, message, ttl)


def validate_list_push(body: Any, target_key: str, limit: int) -> ListPush:
    """A ``/push/list/{cid,alias}`` body; duplicates and over-long audiences are refused whole."""
    body = as_object(body, "body")
    # The SDK's AudienceDTO always sends need_alias_detail (false on cid pushes, where it means nothing).
    check_keys(body, ("audience", "taskid", "is_async", "need_alias_detail"), "")
    taskid = get_str(body, "taskid", "", None, required=True)
    assert taskid is not None
    targets = _targets(body.get("audience"), target_key)
    if len(targets) > limit:
        raise Invalid(f"{target_key} size over limit")
    if not all(isinstance(t, str) and t for t in targets):
        raise Invalid(f"{target_key} is invalid")
    if len(set(targets)) != len(targets):
        raise Invalid(f"contains duplicate {target_key}")
    return ListPush(taskid, targets, get_bool(body, "is_async", ""), get_bool(body, "need_alias_detail", ""))
