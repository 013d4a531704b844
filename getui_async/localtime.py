"""Moments as people read them: in the run's zone (``--tz``, or the zone a campaign recorded) with the
UTC offset shown, so a campaign sent at 01:16 on 8 Dec in Shanghai is not dated 7 Dec."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .schedule import DEFAULT_TZ

__all__ = ["local_text", "zone_of"]


def zone_of(name: str | None) -> ZoneInfo:
    """The zone named ``name`` (an IANA name), else the default (Asia/Shanghai, Getui's day)."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def local_text(moment: str | datetime | None, zone: ZoneInfo) -> str | None:
    """``2026-12-08 01:16:02 +08:00`` for an ISO timestamp or an aware datetime (naive: UTC); None
    for None, and the text unchanged when it is no timestamp."""
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
    else:
        parsed = moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    local = parsed.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"
