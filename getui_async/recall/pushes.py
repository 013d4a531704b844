"""What a recall sends to one recipient: the revoke push, and the override that replaces the notification
where no revoke reaches; each with a request_id of its own namespace.

A revoke carries Getui's channel (``push_message.revoke``, ``force`` always false: a forced revoke of
a task the device does not know deletes every notification of the app) and the vendors' channel
(``push_channel.android.ups.revoke``, Xiaomi and vivo) together, plus HarmonyOS's when the send carried a
harmony notify_id. The override is a plain notification with the send's own replace ids, so it takes
the place of the one shown (the only lever on Huawei, Honor, OPPO and iOS).
"""

from __future__ import annotations

from typing import Any, Final

from getui_async import _json
from getui_async.client import Push
from getui_async.config import UsageError
from getui_async.messages import MessageTemplate, Rendered, ReplaceIds, recall_request_id

from .source import Delivered

__all__ = ["OVERRIDE", "REVOKE", "override_message", "recall_push", "revoke_message"]

#: Request-id namespaces of a recall's two pushes (never a send's request_id, nor each other's).
REVOKE: Final = "recall"
OVERRIDE: Final = "recall-override"


def revoke_message(old_task_id: str, *, harmony: bool) -> Rendered:
    """The revoke of ``old_task_id`` on every channel that has one (``force`` never true)."""
    channel: dict[str, Any] = {"android": {"ups": {"revoke": {"old_task_id": old_task_id}}}}
    if harmony:
        channel["harmony"] = {"revoke": {"old_task_id": old_task_id}}
    message = {
        "push_message": {"revoke": {"old_task_id": old_task_id, "force": False}},
        "push_channel": channel,
    }
    return Rendered.from_json(_json.dumps(message))


def override_message(title: str, body: str, ids: ReplaceIds) -> Rendered:
    """The replacement notification, on each channel the send carried a fixed replace id for.

    Raises :class:`UsageError` when the text has placeholders (a results line has no record data to
    render them with) or the send's Getui-channel notification had no fixed notify_id.
    """
    template = MessageTemplate.simple(title=title, body=body)
    if template.is_personalized:
        names = ", ".join(f"{{{name}}}" for name in sorted(template.variables))
        raise UsageError(
            f"--replace-title/--replace-body: {names} cannot be filled in: a results file keeps no record "
            "data; give plain text (write {{ and }} for literal braces)"
        )
    if not ids.fixed("getui"):
        raise UsageError(
            "--replace-title: the send's notification carried no fixed notify_id on Getui's channel, "
            "so nothing can replace it (override is impossible without the original's id)"
        )
    tree = template.to_dict()
    tree["push_message"]["notification"]["notify_id"] = ids.getui
    channel = tree["push_channel"]
    if ids.fixed("ups"):
        channel["android"]["ups"]["notification"]["notify_id"] = ids.ups
    else:
        del channel["android"]  # a vendor notification without the original's id would only stack
    if ids.fixed("ios"):
        channel["ios"]["apns-collapse-id"] = ids.ios
    else:
        del channel["ios"]
    if ids.fixed("harmony"):
        note = {"title": title, "body": body, "click_type": "startapp", "notify_id": ids.harmony}
        channel["harmony"] = {"notification": note}
    if not channel:
        del tree["push_channel"]
    return template.with_tree(tree).shared()


def recall_push(campaign_id: str, action: str, who: Delivered, message: Rendered) -> Push:
    """One batch item: ``message`` to ``who`` under the request_id of (campaign, ``action``, recipient)."""
    return Push(who.target, recall_request_id(campaign_id, action, who.kind, who.target), message)
