"""Android vendor channels: the message-class table, test-send flags, and warnings for silent drops.

Since 2023 the phone vendors (Huawei ``HW``, Honor ``HO``, Xiaomi ``XM``, OPPO ``OP``, vivo ``VV``) class
every offline notification as marketing or service; marketing is capped per device per day and the
excess is dropped *after* Getui answered ``successed_offline``. Getui carries the vendors' own fields
in ``push_channel.android.ups.options``, keyed by vendor, each a map of the vendor's field path to a
value. This module is the one place those keys live (docs/getui-api.md has the sources):

- :data:`CLASS_KEYS`: what ``--vendor-class marketing|service|none`` adds; :func:`apply_vendor_class`.
- :data:`TEST_KEYS`: the vendors' test-message flags; :func:`as_test_send`, :func:`derive_test_campaign_id`.
- :func:`with_group_name`: Getui's per-campaign statistics need a ``group_name``.
- :func:`vendor_warnings`: known causes of silent drops, as ``{code, message}`` dicts.
- :func:`prepare_campaign`: all of the above in the order ``send`` applies them.

Nothing here overrides a key the template sets: the user's explicit choice always wins.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypedDict

from getui_async.errors import MessageError

from .compiler import _parse
from .rules import _NOTE, _UPS_NOTE, LIMITS, _lookup
from .template import MessageTemplate
from .wire import derive_campaign_id

__all__ = [
    "CLASS_KEYS",
    "DISPLAY_LIMITS",
    "TEST_KEYS",
    "TEST_MARKER",
    "VENDORS",
    "VENDOR_TTL_MIN_MS",
    "Fill",
    "VendorClass",
    "VendorKey",
    "VendorWarning",
    "apply_vendor_class",
    "as_test_send",
    "derive_test_campaign_id",
    "fit_group_name",
    "prepare_campaign",
    "vendor_options",
    "vendor_warnings",
    "with_group_name",
]

#: Getui's vendor keys in ``ups.options``, in the order the docs list them.
VENDORS: Final = ("HW", "HO", "XM", "OP", "VV")
_OPTIONS: Final = "push_channel.android.ups.options"
_UPS: Final = "push_channel.android.ups"


class VendorClass(str, enum.Enum):
    """How the vendors are told to class the notification (``--vendor-class``)."""

    MARKETING = "marketing"
    SERVICE = "service"
    NONE = "none"


class Fill(str, enum.Enum):
    """A value known only per run: filled from the caller's settings, or the key is left out."""

    CATEGORY = "category"  # --vendor-category NAME
    XM_CHANNEL_ID = "xm_channel_id"  # config key xm_channel_id / GETUI_XM_CHANNEL_ID


@dataclass(frozen=True, slots=True)
class VendorKey:
    """One vendor field: its path in ``ups.options[vendor]``, its value, and how sure we are of it."""

    vendor: str
    path: str
    value: str | int | Fill
    source: str
    #: ``documented``: stated by the cited page; ``secondary``: only a third party's integration doc;
    #: ``uncertain``: inferred, to be confirmed against the vendor's console.
    confidence: str


_UNIPUSH: Final = "dcloudio/unidocs-zh docs/uniCloud/uni-cloud-push/options.md"
_TENCENT_IM: Final = "Tencent Cloud IM OfflinePushInfo (cloud.tencent.com/document/product/269)"
_GOEASY: Final = "docs.goeasy.io channel_category (OPPO rule for apps after 2024-11-20)"

#: The keys each class adds, per vendor (docs/getui-api.md "Vendor message classes" cites each).
CLASS_KEYS: Final[Mapping[VendorClass, tuple[VendorKey, ...]]] = MappingProxyType(
    {
        VendorClass.MARKETING: (
            VendorKey("HW", "/message/android/notification/importance", "LOW", _UNIPUSH, "documented"),
            VendorKey("HW", "/message/android/category", "MARKETING", _TENCENT_IM, "secondary"),
            VendorKey("HO", "/android/notification/importance", "LOW", _UNIPUSH, "secondary"),
            VendorKey("OP", "/category", "MARKETING", _GOEASY, "secondary"),
            VendorKey("VV", "/classification", 0, _TENCENT_IM, "secondary"),
            VendorKey("VV", "/category", "MARKETING", _TENCENT_IM, "uncertain"),
            VendorKey("XM", "/extra.channel_id", Fill.XM_CHANNEL_ID, _UNIPUSH, "documented"),
        ),
        VendorClass.SERVICE: (
            VendorKey("HW", "/message/android/notification/importance", "NORMAL", _UNIPUSH, "documented"),
            VendorKey("HW", "/message/android/category", Fill.CATEGORY, _TENCENT_IM, "uncertain"),
            VendorKey("HO", "/android/notification/importance", "NORMAL", _UNIPUSH, "secondary"),
            VendorKey("OP", "/category", Fill.CATEGORY, _GOEASY, "uncertain"),
            VendorKey("VV", "/classification", 1, _TENCENT_IM, "secondary"),
            VendorKey("VV", "/category", Fill.CATEGORY, _TENCENT_IM, "uncertain"),
        ),
        VendorClass.NONE: (),
    }
)

#: Test-message flags: the vendors deliver these to registered test devices outside the daily caps.
TEST_KEYS: Final[tuple[VendorKey, ...]] = (
    VendorKey("HW", "/message/android/target_user_type", 1, _UNIPUSH, "secondary"),
    VendorKey("HO", "/android/targetUserType", 1, _UNIPUSH, "secondary"),
    VendorKey("VV", "/pushMode", 1, _UNIPUSH, "secondary"),
)

#: Appended to a campaign id for ``--test``, so the real send's request_ids differ from the test's.
TEST_MARKER: Final = "-test"


class _Display(TypedDict):
    title: int
    body: int
    units: str  # "chars": one per character; "bytes2": a non-ASCII character counts 2 (vivo)
    source: str


#: What each vendor's notification shows before truncating or refusing (UNCERTAIN: vendor-rules.md has
#: no display limits; these are the vendors' server API docs as published, not re-checked here).
DISPLAY_LIMITS: Final[Mapping[str, _Display]] = MappingProxyType(
    {
        "XM": {
            "title": 50,
            "body": 128,
            "units": "chars",
            "source": "Xiaomi server API: title < 50, description < 128",
        },
        "OP": {
            "title": 50,
            "body": 200,
            "units": "chars",
            "source": "OPPO push API: title ≤ 50, content ≤ 200",
        },
        "VV": {
            "title": 40,
            "body": 100,
            "units": "bytes2",
            "source": "vivo push API: title ≤ 20 Chinese / 40 ASCII, content ≤ 50 Chinese / 100 ASCII",
        },
    }
)

#: UNCERTAIN: vivo's API takes timeToLive of at least 60 s; a shorter Getui ttl cannot reach vivo devices.
VENDOR_TTL_MIN_MS: Final = 60_000

#: Getui ``settings.strategy`` 2 means "vendor channel only": a cid without a vendor token gets nothing.
_VENDOR_ONLY: Final = 2


def vendor_options(
    cls: VendorClass | str, *, category: str | None = None, xm_channel_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """The ``ups.options`` a class adds, by vendor; :class:`MessageError` if ``service`` lacks a category."""
    vendor_class = _vendor_class(cls)
    if vendor_class is VendorClass.SERVICE and not category:
        raise MessageError(
            "vendor_category",
            "is required with vendor class 'service' (--vendor-category NAME, e.g. ACCOUNT or ORDER)",
        )
    fills: dict[Fill, str | None] = {Fill.CATEGORY: category, Fill.XM_CHANNEL_ID: xm_channel_id}
    options: dict[str, dict[str, Any]] = {}
    for key in CLASS_KEYS[vendor_class]:
        value = fills[key.value] if isinstance(key.value, Fill) else key.value
        if value is not None and value != "":
            options.setdefault(key.vendor, {})[key.path] = value
    return options


def apply_vendor_class(
    template: MessageTemplate,
    cls: VendorClass | str,
    category: str | None = None,
    xm_channel_id: str | None = None,
) -> MessageTemplate:
    """``template`` with the class's vendor keys in ``push_channel.android.ups.options``.

    Keys the template already sets are kept. A template without a vendor section (``ups``) is
    returned unchanged: :func:`vendor_warnings` reports that instead of inventing a notification.
    """
    return _merge(template, vendor_options(cls, category=category, xm_channel_id=xm_channel_id))


def as_test_send(template: MessageTemplate) -> MessageTemplate:
    """``template`` marked as a test message for the vendors that have a flag (:data:`TEST_KEYS`)."""
    options: dict[str, dict[str, Any]] = {}
    for key in TEST_KEYS:
        options.setdefault(key.vendor, {})[key.path] = key.value
    return _merge(template, options)


def derive_test_campaign_id(campaign_id: str) -> str:
    """The campaign id of a ``--test`` send: its own request_ids, so the real send is not a repeat."""
    return campaign_id if campaign_id.endswith(TEST_MARKER) else campaign_id + TEST_MARKER


_GROUP_BAD: Final = re.compile(r"[^A-Za-z0-9_-]+")


def fit_group_name(campaign_id: str) -> str:
    """``campaign_id`` fitted to Getui's group_name rule: ASCII letters, digits, ``-``, ``_``; ≤100."""
    fitted = _GROUP_BAD.sub("_", campaign_id).strip("_")[: LIMITS["group_name"]]
    return fitted or "campaign"


def with_group_name(template: MessageTemplate, campaign_id: str) -> MessageTemplate:
    """``template`` with ``group_name`` = the campaign id (fitted), unless the template sets one.

    Getui's per-campaign statistics (``report/push/task_group/{group_name}``) exist only for tasks
    that carry a group_name.
    """
    tree = template.to_dict()
    if tree.get("group_name") is not None:
        return template
    tree["group_name"] = fit_group_name(campaign_id)
    return template.with_tree(tree)


class VendorWarning(TypedDict):
    """A known cause of silent drops: a stable ``code`` and a sentence for people."""

    code: str
    message: str


def vendor_warnings(
    template: MessageTemplate,
    cls: VendorClass | str = VendorClass.MARKETING,
    *,
    xm_channel_id: str | None = None,
) -> list[VendorWarning]:
    """Every known silent-drop risk of sending ``template`` with vendor class ``cls`` (pure).

    Empty for a clean message. Codes: ``xm_channel_missing``, ``no_vendor_notification``, ``no_ios``,
    ``strategy_vendor_only``, ``ttl_below_vendor_minimum``, ``title_over_vendor_limit``,
    ``body_over_vendor_limit``.
    """
    tree = template.to_dict()
    out: list[VendorWarning] = []

    def warn(code: str, message: str) -> None:
        out.append({"code": code, "message": message})

    options = _lookup(tree, _OPTIONS)
    xm_set = (
        isinstance(options, Mapping)
        and isinstance(options.get("XM"), Mapping)
        and "/extra.channel_id" in options["XM"]
    )
    if _vendor_class(cls) is VendorClass.MARKETING and not xm_channel_id and not xm_set:
        warn(
            "xm_channel_missing",
            "marketing class without an xm_channel_id (config xm_channel_id or GETUI_XM_CHANNEL_ID): "
            "Xiaomi sends it on its default channel, capped and possibly folded",
        )
    ups_note = _lookup(tree, _UPS_NOTE)
    if _lookup(tree, _NOTE) is not None and not isinstance(ups_note, Mapping):
        warn(
            "no_vendor_notification",
            "Android notification without a vendor notification (push_channel.android.ups.notification): "
            "offline Android devices will not show it",
        )
    if _lookup(tree, "push_channel.ios") is None:
        warn("no_ios", "no iOS part (push_channel.ios): iPhones receive nothing while the app is not running")
    strategy = _lookup(tree, "settings.strategy")
    if isinstance(strategy, Mapping):
        for key, level in sorted(strategy.items()):
            if key != "ios" and str(level) == str(_VENDOR_ONLY):
                warn(
                    "strategy_vendor_only",
                    f"settings.strategy.{key} = 2 (vendor channel only): "
                    "cids without a vendor token get nothing",
                )
    ttl = _lookup(tree, "settings.ttl")
    if isinstance(ttl, int) and 0 <= ttl < VENDOR_TTL_MIN_MS:
        warn(
            "ttl_below_vendor_minimum",
            f"settings.ttl is {ttl} ms, under the vendors' minimum of {VENDOR_TTL_MIN_MS} ms: "
            "offline devices may never get it",
        )
    shown = ups_note if isinstance(ups_note, Mapping) else _lookup(tree, _NOTE)
    if isinstance(shown, Mapping):
        for field in ("title", "body"):
            text = shown.get(field)
            if isinstance(text, str):
                _check_display(text, field, warn)
    return out


def _check_display(text: str, field: str, warn: Callable[[str, str], None]) -> None:
    """Warn where the fixed part of ``text`` (placeholders count as empty) is over a vendor's limit."""
    fixed = _fixed_text(text)
    for vendor, display in DISPLAY_LIMITS.items():
        limit = display["title"] if field == "title" else display["body"]
        if display["units"] == "chars":
            size, unit = len(fixed), "characters"
        else:
            size, unit = (
                sum(1 if ord(char) < 128 else 2 for char in fixed),
                "units (a Chinese character is 2)",
            )
        if size > limit:
            warn(
                f"{field}_over_vendor_limit",
                f"the {field} is {size} {unit}, over {vendor}'s display limit of {limit}: "
                "it will be cut or refused",
            )


def _fixed_text(text: str) -> str:
    literal, pattern, names = _parse(text, "text")
    if literal is not None:
        return literal
    return pattern.format_map(dict.fromkeys(names, ""))


def _vendor_class(cls: VendorClass | str) -> VendorClass:
    try:
        return VendorClass(cls)
    except ValueError:
        choices = ", ".join(c.value for c in VendorClass)
        raise MessageError("vendor_class", f"must be one of {choices}, got {cls!r}") from None


def _merge(template: MessageTemplate, add: Mapping[str, Mapping[str, Any]]) -> MessageTemplate:
    """Add ``add`` under ``ups.options`` without replacing any key present; no ups, no change."""
    if not add:
        return template
    tree = template.to_dict()
    ups = _lookup(tree, _UPS)
    if not isinstance(ups, dict):
        return template
    options = ups.setdefault("options", {})
    for vendor, keys in add.items():
        mine = options.setdefault(vendor, {})
        if not isinstance(mine, dict):
            continue  # the template's own (odd) value stays; Getui will say what it thinks of it
        for path, value in keys.items():
            mine.setdefault(path, value)
    return template.with_tree(tree)


def prepare_campaign(
    template: MessageTemplate,
    *,
    vendor_class: VendorClass | str = VendorClass.MARKETING,
    category: str | None = None,
    xm_channel_id: str | None = None,
    campaign_id: str | None = None,
    test: bool = False,
) -> tuple[MessageTemplate, str]:
    """Everything ``send`` does to a template before the engine: ``(template, campaign_id)``.

    In order: the vendor class's keys; the campaign id (given, or derived from the classed template,
    so a test send and the real send of one message derive the same base); for ``test``, the vendors'
    test flags and the test campaign id; then ``group_name`` = that campaign id unless set. Pass the
    returned id to the engine (``CampaignSettings.campaign_id``) so group_name and request_ids agree.
    """
    classed = apply_vendor_class(template, vendor_class, category, xm_channel_id)
    campaign = campaign_id or derive_campaign_id(classed)
    if test:
        classed = as_test_send(classed)
        campaign = derive_test_campaign_id(campaign)
    return with_group_name(classed, campaign), campaign
