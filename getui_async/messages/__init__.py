"""What is sent: Getui's field rules, message builders, per-recipient templates, vendor classes, wire bytes.

Modules by job, bottom up (each imports only those before it):

- ``rules``: :data:`LIMITS`, the one table of Getui's length limits (docs/getui-api.md §3), the value
  ranges, and the structure checks every message passes.
- ``compiler``: placeholder syntax and the render plan (static byte chunks around personalized strings).
- ``builders``: frozen dataclasses (:class:`Message`, :class:`Notification`, ...) for library users
  who prefer types to dicts; each validates on construction exactly as a template would.
- ``template``: :class:`MessageTemplate` (validated, compiled once) renders one :class:`Rendered` per
  recipient; this is the hot path, so rendering is a join of chunks and a few ``format_map`` calls.
- ``vendors``: the vendor message-class table (marketing / service), test-send flags, warnings.
- ``wire``: request bodies, deterministic ids, the auth sign: byte-identical on a retry or a resume.
- ``replace``: the replace ids (notify_id, apns-collapse-id) every send carries, and reading them back.
- ``describe``: a rendered message as a person reads it (``--dry-run --show``).

Placeholder syntax: ``{name}`` in any string value is a placeholder (``name`` a letter or ``_`` then
letters, digits, ``_``; Unicode allowed); ``{{`` and ``}}`` are literal braces, so ``{{name}}`` is the
text ``{name}``; other braces are literal but must balance, so JSON text in a payload passes through and
``{name`` is an error.
"""

from __future__ import annotations

from .builders import AndroidChannel, IosChannel, Message, Notification, PushChannel, PushSettings
from .compiler import AllowEmpty
from .describe import describe_rendered
from .replace import ReplaceIds, replace_ids_of, with_replace_ids
from .rules import CLICK_FIELD, LIMITS, NOTIFY_ID_MAX, TTL_MAX_MS, TTL_MIN_MS, ClickType
from .template import MessageTemplate, Rendered, check_placeholders
from .vendors import (
    VendorClass,
    VendorWarning,
    apply_vendor_class,
    as_test_send,
    derive_test_campaign_id,
    prepare_campaign,
    vendor_warnings,
    with_group_name,
)
from .wire import (
    auth_body,
    batch_body,
    derive_campaign_id,
    derive_collapse_id,
    derive_notify_id,
    ids_for,
    list_message_body,
    list_push_body,
    recall_request_id,
    recipient_ids,
    single_body,
)

__all__ = [
    "CLICK_FIELD",
    "LIMITS",
    "NOTIFY_ID_MAX",
    "TTL_MAX_MS",
    "TTL_MIN_MS",
    "AllowEmpty",
    "AndroidChannel",
    "ClickType",
    "IosChannel",
    "Message",
    "MessageTemplate",
    "Notification",
    "PushChannel",
    "PushSettings",
    "Rendered",
    "ReplaceIds",
    "VendorClass",
    "VendorWarning",
    "apply_vendor_class",
    "as_test_send",
    "auth_body",
    "batch_body",
    "check_placeholders",
    "derive_campaign_id",
    "derive_collapse_id",
    "derive_notify_id",
    "derive_test_campaign_id",
    "describe_rendered",
    "ids_for",
    "list_message_body",
    "list_push_body",
    "prepare_campaign",
    "recall_request_id",
    "recipient_ids",
    "replace_ids_of",
    "single_body",
    "vendor_warnings",
    "with_group_name",
    "with_replace_ids",
]
