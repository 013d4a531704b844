"""What a revoke message does to what the mock delivered, as a device would do it.

A revoke reaches a cid like any push (it has its own taskid and status) but shows nothing: the device
deletes the notification of ``old_task_id`` when that task delivered to it. When the task never did,
the device does nothing, unless ``force`` is true: then it deletes every notification of the app (the
Java SDK's ``RevokeBean``), the accident a recall must never cause. The mock counts each case.

Which channel took the original decides whether a revoke can reach it: Getui's own (``gt``, online) needs
``push_message.revoke``; Xiaomi and vivo need ``push_channel.android.ups.revoke``; Huawei, OPPO and iOS
cannot revoke at all (override is the only lever there). A revoke that names a delivered task is recorded
either way (``revocations``: what the sender asked); one its original's channel cannot act on is also
counted as ``revokes_unreachable``.

UNCERTAIN: whether Getui refuses a revoke naming a task that never delivered to the cid is undocumented;
``force``'s meaning suggests the device decides, so by default the mock accepts it and counts it
(``revokes_unmatched``); ``revoke_unmatched="refuse"`` answers 20001 instead.
"""

from __future__ import annotations

from typing import Final

from .checks import Invalid
from .message_rules import Revoke
from .recipients import Recipients
from .state import DeliveryStore, Live

__all__ = ["Revoker"]

#: The revoke part that reaches a delivery, by the channel it went through; absent: none can.
_REVOKED_VIA: Final = {"gt": "getui", "xm": "ups", "vv": "ups"}


class Revoker:
    """Checks and applies revoke messages against the delivery store."""

    __slots__ = ("_live", "_recipients", "_store")

    def __init__(self, live: Live, store: DeliveryStore, recipients: Recipients) -> None:
        self._live = live
        self._store = store
        self._recipients = recipients

    def check(self, revoke: Revoke, cids: list[str]) -> None:
        """Under ``revoke_unmatched="refuse"``, refuse a revoke naming a task one of ``cids`` never got."""
        if self._live.config.revoke_unmatched != "refuse":
            return
        if not all(self._store.delivered(cid, revoke.old_task_id) for cid in cids):
            raise Invalid("revoke.old_task_id is invalid")

    def apply(self, revoke: Revoke, cids: list[str]) -> None:
        """Revoke ``old_task_id``'s delivery on each cid (or, forced on an unknown task, every one)."""
        counters = self._live.counters
        store = self._store
        revoked = store.revocations()
        for cid in cids:
            counters.revoke_pushes += 1
            counters.force_revokes += revoke.force
            if store.delivered(cid, revoke.old_task_id):
                counters.revokes_repeated += (revoke.old_task_id, cid) in revoked
                reach = _REVOKED_VIA.get(self._recipients.channel(cid))
                counters.revokes_unreachable += reach not in revoke.via
                store.revoke(cid, [revoke.old_task_id])
            elif revoke.force:
                counters.force_revokes_all += 1
                store.revoke(cid, list(dict.fromkeys(d.taskid for d in store.log(cid))))
            else:
                counters.revokes_unmatched += 1
