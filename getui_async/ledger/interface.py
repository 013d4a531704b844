"""What every ledger backend offers the engine: claims before send, settlements after, dead cids.

A recipient under a cap moves through the ledger as *free* → *claimed* (by one run lineage, before its
request) → *delivered*, or back to *free* when the request was definitely refused. A claim is granted
only while the recipient's deliveries plus live claims by *other* lineages on that day are below the
cap; a lineage never counts against itself, so its resumes re-use its claims. A claim nobody settles
(a run killed and never resumed) stops counting after :data:`CLAIM_TTL_S`.

Days are the ledger's own: numbers like ``20261207`` in the zone the ledger was created with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Protocol, TypeAlias
from zoneinfo import ZoneInfo

from getui_async.errors import GetuiError
from getui_async.outcome import Kind

__all__ = [
    "CLAIM_TTL_S",
    "DEFAULT_ZONE",
    "KIND_CODE",
    "Dead",
    "Key",
    "Ledger",
    "LedgerError",
    "LedgerInfo",
    "Mark",
    "Screened",
    "Settlement",
    "day_number",
    "day_text",
    "today",
]

#: A claim no run settles stops counting after this long (a run killed and never resumed).
CLAIM_TTL_S: Final = 24 * 3600
#: The zone a new ledger counts its days in, unless ``--ledger-tz`` says otherwise.
DEFAULT_ZONE: Final = "Asia/Shanghai"
#: How a recipient's kind is stored.
KIND_CODE: Final[dict[str, int]] = {"cid": 0, "alias": 1}

#: One recipient: (``"cid"`` or ``"alias"``, its value).
Key: TypeAlias = tuple[Kind, str]
#: One recipient on one ledger day: (day number, kind, target).
Mark: TypeAlias = tuple[int, Kind, str]
#: A dead recipient and the ISO date it was found dead: (kind, target, date).
Dead: TypeAlias = tuple[Kind, str, str]


class LedgerError(GetuiError):
    """The ledger can't be opened, read or written; ``reason`` is the plain cause (an OS error)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"--ledger {where}: {reason}")


def day_number(day: date) -> int:
    """2026-12-07 as 20261207: compact, sortable and readable in a database shell."""
    return day.year * 10_000 + day.month * 100 + day.day


def day_text(number: int) -> str:
    """20261207 as ``2026-12-07``."""
    return f"{number // 10_000:04d}-{number // 100 % 100:02d}-{number % 100:02d}"


def today(zone: ZoneInfo, now: datetime | None = None) -> int:
    """The ledger day of ``now`` (default: now) in ``zone``."""
    return day_number((now or datetime.now(zone)).astimezone(zone).date())


@dataclass(frozen=True, slots=True)
class Screened:
    """One chunk's answer: who is dead (target → since), who is at the cap (target → held by others)."""

    dead: dict[str, str] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Settlement:
    """What a run learned since its last settlement, written in one transaction."""

    delivered: list[Mark] = field(default_factory=list)
    released: list[Mark] = field(default_factory=list)
    dead: list[Dead] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.delivered) + len(self.released) + len(self.dead)


@dataclass(frozen=True, slots=True)
class LedgerInfo:
    """What ``getui-push ledger`` shows."""

    where: str
    zone: str
    day: int
    rows_today: int
    claims_held: int
    dead: int
    schema: int


class Ledger(Protocol):
    """A backend: each call is one transaction (one round trip) for a whole chunk."""

    #: The ledger named for messages (a path, or a URL without its password).
    where: str
    #: The zone the ledger's days are counted in (stored at creation).
    zone: ZoneInfo

    async def screen(
        self, lineage: str, day: int, kind: Kind, targets: Sequence[str], *, cap: int | None, suppress: bool
    ) -> Screened:
        """Claim ``targets`` for ``lineage`` on ``day`` (with a cap), except the dead and the capped."""
        ...

    async def settle(self, lineage: str, settlement: Settlement) -> None:
        """Claims become deliveries or are released; dead recipients are remembered."""
        ...

    async def info(self) -> LedgerInfo:
        """Zone, rows today, live claims and dead recipients."""
        ...

    def dead_recipients(self) -> AsyncIterator[Dead]:
        """Every remembered dead recipient, in order."""
        ...

    async def close(self) -> None:
        """Release the backend; idempotent, never raises."""
        ...
