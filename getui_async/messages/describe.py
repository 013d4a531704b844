"""A rendered message as a person will see it: ``send --dry-run --show N`` prints one per recipient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from getui_async import _json

from .template import Rendered

__all__ = ["describe_rendered"]


def _at(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _shown(title: Any, body: Any) -> str:
    if title is None and body is None:
        return "(nothing shown)"
    return f"{title if title is not None else ''!s} | {body if body is not None else ''!s}"


def describe_rendered(rendered: Rendered) -> str:
    """Title and body per channel (Getui, Android vendor, iOS), then the vendor options, as text.

    A channel the message leaves out is said to be missing, since that is exactly what a person
    checking a campaign needs to notice.
    """
    message: dict[str, Any] = _json.loads(rendered.json)
    push = message.get("push_message", {})
    lines: list[str] = []
    note = push.get("notification")
    if isinstance(note, Mapping):
        lines.append(f"Getui notification: {_shown(note.get('title'), note.get('body'))}")
    elif "transmission" in push:
        lines.append(f"Getui transmission (no notification): {str(push['transmission'])[:80]}")
    else:
        lines.append("Getui: revoke")
    ups = _at(message, "push_channel", "android", "ups")
    ups_note = _at(ups, "notification")
    if isinstance(ups_note, Mapping):
        lines.append(f"Android vendor notification: {_shown(ups_note.get('title'), ups_note.get('body'))}")
    elif isinstance(ups, Mapping) and "transmission" in ups:
        lines.append("Android vendor: transmission only (nothing shown)")
    else:
        lines.append("Android vendor notification: missing")
    alert = _at(message, "push_channel", "ios", "aps", "alert")
    if isinstance(alert, Mapping):
        lines.append(f"iOS alert: {_shown(alert.get('title'), alert.get('body'))}")
    elif isinstance(alert, str):
        lines.append(f"iOS alert: {alert}")
    elif _at(message, "push_channel", "ios") is not None:
        lines.append("iOS: no alert (silent)")
    else:
        lines.append("iOS: missing")
    options = _at(ups, "options")
    if isinstance(options, Mapping) and options:
        for vendor, keys in options.items():
            shown = (
                ", ".join(f"{path}={value!r}" for path, value in keys.items())
                if isinstance(keys, Mapping)
                else keys
            )
            lines.append(f"vendor options {vendor}: {shown}")
    else:
        lines.append("vendor options: none")
    if message.get("group_name") is not None:
        lines.append(f"group_name: {message['group_name']}")
    return "\n".join(lines)
