"""Settling a killed run's claims on ``--resume``, from its results file (the truth).

A delivered line makes its claim a delivery (on the ledger day of its ``ts``); a definitely refused
line releases the claim (on that day or the day before: a claim is made just before its request); a
record without a line keeps its claim, which the resume re-uses. Replaying is idempotent. A dead
target's line also remembers it as dead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from getui_async.outcome import DELIVERED_STATUSES, Kind, Status
from getui_async.results.reader import ResultsReader, status_needles
from getui_async.results.record import F_ALIAS, F_CID, F_CODE, F_MSG, F_STATUS, F_TS, F_UNCONFIRMED

from .fate import Fate, fate_of
from .interface import Ledger, Settlement, day_number

__all__ = ["settle_from_results"]

_NEEDLES: Final = status_needles({*DELIVERED_STATUSES, Status.FAILED})
#: Result lines settled per transaction.
_BATCH: Final = 10_000


async def settle_from_results(ledger: Ledger, lineage: str, path: Path) -> int:
    """Settle ``lineage``'s claims from the lines of ``path``; returns the lines settled."""
    settled = 0
    for settlement, lines in _settlements(path, ledger.zone):
        await ledger.settle(lineage, settlement)
        settled += lines
    return settled


def _settlements(path: Path, zone: ZoneInfo) -> Iterator[tuple[Settlement, int]]:
    """(a settlement, the lines it came from), about :data:`_BATCH` entries at a time."""
    pending, lines = Settlement(), 0
    days: dict[str, date] = {}  # ts prefix (to the minute) -> its ledger day
    try:
        for _number, line in ResultsReader(path).decoded(having=_NEEDLES):
            if line is None:
                continue
            key, ts, status = _key_of(line), line.get(F_TS), line.get(F_STATUS)
            if key is None or not isinstance(ts, str) or not isinstance(status, str):
                continue
            code, msg = line.get(F_CODE), line.get(F_MSG)
            fate = fate_of(
                status,
                code if isinstance(code, int) else None,
                msg if isinstance(msg, str) else "",
                unconfirmed=line.get(F_UNCONFIRMED) is True,
            )
            if fate is None:
                continue
            minute = ts[:16]  # zone offsets are whole minutes
            day = days.get(minute)
            if day is None:
                day = days[minute] = _utc(ts).astimezone(zone).date()
            kind, target = key
            if fate is Fate.DELIVERED:
                pending.delivered.append((day_number(day), kind, target))
            else:
                pending.released.append((day_number(day), kind, target))
                pending.released.append((day_number(day - timedelta(days=1)), kind, target))
                if fate is Fate.DEAD:
                    pending.dead.append((kind, target, day.isoformat()))
            lines += 1
            if len(pending) >= _BATCH:
                yield pending, lines
                pending, lines = Settlement(), 0
    except FileNotFoundError:
        return
    if len(pending):
        yield pending, lines


def _key_of(line: dict[str, object]) -> tuple[Kind, str] | None:
    cid, alias = line.get(F_CID), line.get(F_ALIAS)
    if isinstance(cid, str) and cid:
        return ("cid", cid)
    if isinstance(alias, str) and alias:
        return ("alias", alias)
    return None


def _utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts[:-1] + "+00:00" if ts.endswith("Z") else ts)
