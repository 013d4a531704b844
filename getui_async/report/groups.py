"""The report's vocabulary: which group a final result line belongs to, and what each group means.

One place decides. A ``failed`` line is classified by :func:`getui_async.results.record.failed_kind` (the
engine's own ``retryable`` field when present, else the code table and HTTP-status bands), the rule
``send --retry-failed`` uses too, so the report and the engine never disagree on what a code means. A
list line whose chunk may have reached Getui (``unconfirmed``) is a group of its own, never retryable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from getui_async.outcome import FailedKind, Status
from getui_async.results.record import F_STATUS, failed_kind, is_unconfirmed

__all__ = ["EXPLAIN", "GROUP_ORDER", "Group", "classify"]


class Group(str, enum.Enum):
    """What a final outcome means to the person who sent the campaign."""

    REACHED = "reached"
    INACTIVE = "inactive"
    ACCEPTED = "accepted"
    DEAD = "dead"
    RETRYABLE = "retryable"
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    EXCLUDED = "excluded"
    CAPPED = "capped"
    HELD_OUT = "held_out"
    VALIDATED = "validated"
    OTHER = "other"


#: Display order (best outcome first).
GROUP_ORDER: Final = tuple(Group)

#: One line per group, shown next to its count.
EXPLAIN: Final[Mapping[Group, str]] = {
    Group.REACHED: "delivered: online over Getui's channel, or stored offline / handed to the vendor channel",
    Group.INACTIVE: (
        f"{Status.SUCCESSED_IGNORE}: Getui did not send, the device has been inactive for 90 days"
    ),
    Group.ACCEPTED: "Getui took the request without a per-cid status (async mode, or already taken)",
    Group.DEAD: "Getui says the target is invalid (20001 target user invalid): remove these cids",
    Group.RETRYABLE: "failed for a cause that may pass later (network, 5xx, busy, throttle, timeout)",
    Group.UNCONFIRMED: (
        "a list chunk whose reply was lost: Getui may have delivered it, so it is not re-sent "
        "(--retry-unconfirmed sends it again and may deliver twice)"
    ),
    Group.FAILED: "failed for a reason that will not pass by re-sending (see codes below)",
    Group.REJECTED: "bad input record, never sent (see fields below)",
    Group.DUPLICATE: "the same recipient appears earlier in the input; sent once",
    Group.EXCLUDED: "on an exclusion list, not sent",
    Group.CAPPED: "over the per-day cap, not sent",
    Group.HELD_OUT: "in the experiment's holdout group: not sent, by design (the control)",
    Group.VALIDATED: "dry run: checked, not sent",
    Group.OTHER: "a status this report does not know",
}

_BY_STATUS: Final[Mapping[str, Group]] = {
    Status.SUCCESSED_ONLINE: Group.REACHED,
    Status.SUCCESSED_OFFLINE: Group.REACHED,
    Status.SUCCESSED_IGNORE: Group.INACTIVE,
    Status.ACCEPTED: Group.ACCEPTED,
    Status.REJECTED: Group.REJECTED,
    Status.DUPLICATE: Group.DUPLICATE,
    Status.EXCLUDED: Group.EXCLUDED,
    Status.CAPPED: Group.CAPPED,
    Status.HELD_OUT: Group.HELD_OUT,
    Status.VALIDATED: Group.VALIDATED,
}

_BY_FAILED_KIND: Final[Mapping[FailedKind, Group]] = {
    FailedKind.DEAD: Group.DEAD,
    FailedKind.RETRYABLE: Group.RETRYABLE,
    FailedKind.FINAL: Group.FAILED,
}


def classify(line: Mapping[str, Any]) -> Group:
    """The group of one result line (a decoded JSON object)."""
    status = line.get(F_STATUS)
    if status != Status.FAILED:
        return _BY_STATUS.get(status, Group.OTHER) if isinstance(status, str) else Group.OTHER
    if is_unconfirmed(line):
        return Group.UNCONFIRMED
    return _BY_FAILED_KIND[failed_kind(line)]
