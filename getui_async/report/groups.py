"""The report's vocabulary: which group a final result line belongs to, and what each group means.

One place decides. For a ``failed`` line the engine's own ``retryable`` field wins when present; older
files without it are classified by :mod:`getui_async.errors` (the code table and the HTTP-status bands),
so the report and the engine never disagree on what a code means.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from getui_async.errors import Action, InvalidTargetError, error_for_reply, error_for_status

__all__ = ["EXPLAIN", "GROUP_ORDER", "Group", "classify"]


class Group(str, enum.Enum):
    """What a final outcome means to the person who sent the campaign."""

    REACHED = "reached"
    INACTIVE = "inactive"
    ACCEPTED = "accepted"
    DEAD = "dead"
    RETRYABLE = "retryable"
    FAILED = "failed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    EXCLUDED = "excluded"
    CAPPED = "capped"
    VALIDATED = "validated"
    OTHER = "other"


#: Display order (best outcome first).
GROUP_ORDER: Final = tuple(Group)

#: One line per group, shown next to its count.
EXPLAIN: Final[Mapping[Group, str]] = {
    Group.REACHED: "delivered: online over Getui's channel, or stored offline / handed to the vendor channel",
    Group.INACTIVE: "successed_ignore: Getui did not send, the device has been inactive for 90 days",
    Group.ACCEPTED: "Getui took the request without a per-cid status (async mode, or already taken)",
    Group.DEAD: "Getui says the target is invalid (20001 target user invalid): remove these cids",
    Group.RETRYABLE: "failed for a cause that may pass later (network, 5xx, busy, throttle, timeout)",
    Group.FAILED: "failed for a reason that will not pass by re-sending (see codes below)",
    Group.REJECTED: "bad input record, never sent (see fields below)",
    Group.DUPLICATE: "the same recipient appears earlier in the input; sent once",
    Group.EXCLUDED: "on an exclusion list, not sent",
    Group.CAPPED: "over the per-day cap, not sent",
    Group.VALIDATED: "dry run: checked, not sent",
    Group.OTHER: "a status this report does not know",
}

_BY_STATUS: Final[Mapping[str, Group]] = {
    "successed_online": Group.REACHED,
    "successed_offline": Group.REACHED,
    "successed_ignore": Group.INACTIVE,
    "accepted": Group.ACCEPTED,
    "rejected": Group.REJECTED,
    "duplicate": Group.DUPLICATE,
    "excluded": Group.EXCLUDED,
    "capped": Group.CAPPED,
    "validated": Group.VALIDATED,
}

#: Actions that mean "the same request may pass later". A daily quota passes tomorrow.
_LATER: Final = frozenset(
    {Action.RETRY, Action.REFRESH_TOKEN, Action.SWITCH_HOST, Action.WAIT_WINDOW, Action.STOP_QUOTA}
)


def classify(line: Mapping[str, Any]) -> Group:
    """The group of one result line (a decoded JSON object)."""
    status = line.get("status")
    if status != "failed":
        return _BY_STATUS.get(status, Group.OTHER) if isinstance(status, str) else Group.OTHER
    code, msg = _int_or_none(line.get("code")), line.get("msg")
    http_status = _int_or_none(line.get("http_status"))
    exc = None
    if code is not None and code != 0:
        exc = error_for_reply(code, msg if isinstance(msg, str) else "", http_status=http_status)
        if isinstance(exc, InvalidTargetError):
            return Group.DEAD
    flag = line.get("retryable")
    if isinstance(flag, bool):
        return Group.RETRYABLE if flag else Group.FAILED
    if code == 0:
        return Group.FAILED  # Getui took it but named an unknown status: re-sending would be dropped
    if exc is None:
        if http_status is None:
            # No Getui code and no HTTP status: a transport failure (or an older file's 5xx/timeout).
            return Group.RETRYABLE
        exc = error_for_status(http_status)
    return Group.RETRYABLE if exc.action in _LATER else Group.FAILED


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
