"""What is sent: Getui's field limits, message builders, per-recipient templates, request bodies, ids.

Modules by job, bottom up: ``rules`` (Getui's field rules), ``compiler`` (placeholders and
the render plan), ``builders`` (typed dataclasses), ``template`` (``MessageTemplate``, ``Rendered``),
``wire`` (bodies, ids, signing). Four layers:

- :data:`LIMITS` is the one table of Getui's length limits (docs/getui-api.md §3); every check reads it.
- Frozen builders (:class:`Message`, :class:`Notification`, ...) validate on construction and emit
  Getui's snake_case JSON with ``to_dict()``, for library users who prefer types to dicts.
- :class:`MessageTemplate` validates a message once, compiles the paths that hold ``{placeholders}``,
  and renders one :class:`Rendered` per recipient by copying only the containers on those paths. This is
  the hot path (tens of thousands of renders a second), so rendering is a handful of ``dict.copy`` and
  ``str.format_map`` calls; everything else is decided at compile time.
- Pure functions build the request bodies and derive deterministic ids, so a retry or a resumed run
  sends byte-identical requests and Getui drops the repeats.

Placeholder syntax: ``{identifier}`` in any string value is a placeholder; ``{{identifier}}`` is the
literal text ``{identifier}``; every other brace is literal (payloads are often JSON text).
"""

from __future__ import annotations

from .builders import AndroidChannel, IosChannel, Message, Notification, PushChannel, PushSettings
from .rules import CLICK_FIELD, LIMITS, NOTIFY_ID_MAX, TTL_MAX_MS, TTL_MIN_MS, ClickType
from .template import MessageTemplate, Rendered
from .wire import (
    auth_body,
    batch_body,
    derive_campaign_id,
    derive_notify_id,
    list_message_body,
    list_push_body,
    recipient_ids,
    single_body,
)

__all__ = [
    "CLICK_FIELD",
    "LIMITS",
    "NOTIFY_ID_MAX",
    "TTL_MAX_MS",
    "TTL_MIN_MS",
    "AndroidChannel",
    "ClickType",
    "IosChannel",
    "Message",
    "MessageTemplate",
    "Notification",
    "PushChannel",
    "PushSettings",
    "Rendered",
    "auth_body",
    "batch_body",
    "derive_campaign_id",
    "derive_notify_id",
    "list_message_body",
    "list_push_body",
    "recipient_ids",
    "single_body",
]
