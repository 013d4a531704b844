"""Replace ids: the ``notify_id`` of each notification and iOS's ``apns-collapse-id`` a send carries.

A later notification with the same id replaces the one shown instead of stacking beside it. That makes
a repeated list push harmless, and it is the only way to take back a notification on Huawei, Honor,
OPPO and iOS, where Getui has no revoke (``getui-push recall --replace-title``); a harmony revoke, too,
works only when the original carried a notify_id. So every send carries ids derived from its campaign
(and variant), unless the template sets its own, and the results sidecar records the ids it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .rules import _IOS, _NOTE, _UPS_NOTE, _lookup
from .template import MessageTemplate
from .wire import derive_collapse_id, derive_notify_id

__all__ = ["ReplaceIds", "replace_ids_of", "variant_ids", "with_replace_ids"]

#: Where each channel's id sits in a message (the keys of :meth:`ReplaceIds.to_dict`).
_PATHS: Final = {
    "getui": f"{_NOTE}.notify_id",
    "ups": f"{_UPS_NOTE}.notify_id",
    "harmony": "push_channel.harmony.notification.notify_id",
    "ios": f"{_IOS}.apns-collapse-id",
}


@dataclass(frozen=True, slots=True)
class ReplaceIds:
    """The replace id a message carries per channel (None: that channel has none, or no section).

    ``getui`` is Getui's own channel, ``ups`` the Android vendors', ``harmony`` HarmonyOS's, ``ios`` the
    ``apns-collapse-id``. A value the template gave as a placeholder is kept as its text: it differs per
    recipient, so an override cannot reuse it (:meth:`fixed` says which can).
    """

    getui: int | str | None = None
    ups: int | str | None = None
    harmony: int | str | None = None
    ios: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"getui": self.getui, "ups": self.ups, "harmony": self.harmony, "ios": self.ios}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplaceIds:
        """Read back what :meth:`to_dict` wrote (a sidecar's); anything else in it is ignored."""
        ios = data.get("ios")
        return cls(
            getui=_notify_id(data.get("getui")),
            ups=_notify_id(data.get("ups")),
            harmony=_notify_id(data.get("harmony")),
            ios=ios if isinstance(ios, str) else None,
        )

    def fixed(self, channel: str) -> bool:
        """True when ``channel``'s id is the same for every recipient (an override can reuse it)."""
        value = getattr(self, channel)
        if isinstance(value, str):
            return "{" not in value
        return isinstance(value, int) and not isinstance(value, bool)

    @property
    def any(self) -> bool:
        """True when at least one channel has an id an override can reuse."""
        return any(self.fixed(channel) for channel in _PATHS)


def _notify_id(value: Any) -> int | str | None:
    """A notify_id as a message may hold it: a number, or a string (the SDK's, or a placeholder)."""
    if isinstance(value, bool):
        return None
    return value if isinstance(value, int | str) else None


def with_replace_ids(
    template: MessageTemplate, campaign_id: str, variant: str | None = None
) -> MessageTemplate:
    """The template with the campaign's (and variant's) replace ids wherever it has none of its own."""
    return template.with_notify_id(
        derive_notify_id(campaign_id, variant), derive_collapse_id(campaign_id, variant)
    )


def variant_ids(ids: ReplaceIds, campaign_id: str, variant: str) -> ReplaceIds:
    """The ids a variant's messages carried, from the ids the campaign recorded: where the campaign's
    own derived id stands (the template set none), the variant's derived id stood instead."""
    notify, collapse = derive_notify_id(campaign_id), derive_collapse_id(campaign_id)
    own_notify, own_collapse = (
        derive_notify_id(campaign_id, variant),
        derive_collapse_id(campaign_id, variant),
    )

    def swap(value: int | str | None) -> int | str | None:
        return own_notify if value == notify else value

    ios = own_collapse if ids.ios == collapse else ids.ios
    return ReplaceIds(getui=swap(ids.getui), ups=swap(ids.ups), harmony=swap(ids.harmony), ios=ios)


def replace_ids_of(template: MessageTemplate) -> ReplaceIds:
    """The replace ids ``template`` carries, per channel (what the sidecar records)."""
    tree = template.to_dict()
    found = {key: _lookup(tree, path) for key, path in _PATHS.items()}
    return ReplaceIds.from_dict(found)
