"""Which campaign a report is about, in words and local time: the message's title and body, the input
file, each run (when it started and ended, and how it ended) and the whole duration, in the zone the
user asks for (``report --tz``) or the one the campaign's runs recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from getui_async.errors import ConfigError
from getui_async.localtime import local_text, zone_of
from getui_async.results.sidecar import K_RUNS

__all__ = ["campaign_identity", "check_zone"]


def campaign_identity(
    meta: Mapping[str, Any], first_ts: str | None, last_ts: str | None, tz: str | None
) -> dict[str, Any]:
    """The report's keys about the campaign itself (JSON types; times also as local text)."""
    runs = meta.get(K_RUNS)
    runs = [r for r in runs if isinstance(r, Mapping)] if isinstance(runs, list) else []
    last = runs[-1] if runs else {}
    recorded = last.get("tz")
    zone = zone_of(tz or (recorded if isinstance(recorded, str) else None))
    return {
        "tz": zone.key,
        "title": _text(last.get("title")),
        "body": _text(last.get("body")),
        "started_local": local_text(first_ts, zone),
        "ended_local": local_text(last_ts, zone),
        "duration_s": _seconds(first_ts, last_ts),
        "run_list": [
            {
                "started": run.get("started"),
                "ended": run.get("ended"),
                "started_local": local_text(_text(run.get("started")), zone),
                "ended_local": local_text(_text(run.get("ended")), zone),
                "stopped": run.get("stopped"),
                "exit": run.get("exit"),
                "resume": bool(run.get("resume")),
            }
            for run in runs
        ],
    }


def check_zone(name: str) -> None:
    """``report --tz``: refuse a zone that is no IANA name (exit 2), rather than fall back silently."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--tz {name}: not a time zone (an IANA name such as Asia/Shanghai)") from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _seconds(first: str | None, last: str | None) -> float | None:
    if not first or not last:
        return None
    try:
        start = datetime.fromisoformat(first.replace("Z", "+00:00"))
        end = datetime.fromisoformat(last.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((end - start).total_seconds(), 3)
