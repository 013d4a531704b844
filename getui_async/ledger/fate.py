"""What a recipient's outcome means for its claim: the one rule, for a live run and for a resume.

A claim is released only on a definite refusal: Getui answered with an error envelope (its code), or
no connection was ever made. Every other outcome (delivered, accepted, a reply lost, a list chunk
unconfirmed, an HTTP failure without Getui's code) counts as a delivery: the cap is never exceeded
because a fate was unknown. A refusal that says the target is invalid also marks it dead.
"""

from __future__ import annotations

import enum

from getui_async.errors import InvalidTargetError, error_for_reply
from getui_async.outcome import DELIVERED_STATUSES, Status

__all__ = ["Fate", "fate_of"]


class Fate(enum.Enum):
    """Where a settled recipient's claim goes."""

    DELIVERED = "delivered"
    RELEASED = "released"
    DEAD = "dead"  # released, and remembered as dead


def fate_of(
    status: str, code: int | None, msg: str, *, unconfirmed: bool = False, never_connected: bool = False
) -> Fate | None:
    """The fate of a recipient whose line has ``status``; None for lines no request was made for."""
    if status in DELIVERED_STATUSES:
        return Fate.DELIVERED
    if status != Status.FAILED:
        return None
    if unconfirmed:
        return Fate.DELIVERED
    if never_connected:
        return Fate.RELEASED
    if code is None or code == 0:
        return Fate.DELIVERED  # no envelope refused it: it may have reached Getui
    if isinstance(error_for_reply(code, msg), InvalidTargetError):
        return Fate.DEAD
    return Fate.RELEASED
