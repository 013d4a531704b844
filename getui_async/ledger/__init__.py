"""Per-recipient state shared across campaigns, runs and hosts: claims before send, deliveries, dead cids.

- :mod:`.interface`: the :class:`Ledger` protocol, its words (:class:`Settlement`, :class:`Screened`),
  the claim's time to live and the ledger's day;
- :mod:`.sqlite`: the embedded default, a file (every process on one host);
- :mod:`.postgres`: PostgreSQL (``postgresql://``), for runs on several hosts;
- :mod:`.schema`: both backends' tables, versioned; :mod:`.fate`: what an outcome does to a claim;
- :mod:`.resume`: a killed run's claims settled from its results file; :mod:`.command`: ``getui-push ledger``.
"""

from __future__ import annotations

from typing import Final

from getui_async.redact import redact_url, scrub

from .fate import Fate, fate_of
from .interface import (
    CLAIM_TTL_S,
    DEFAULT_ZONE,
    Dead,
    Key,
    Ledger,
    LedgerError,
    LedgerInfo,
    Mark,
    Screened,
    Settlement,
    day_number,
    day_text,
    today,
)
from .resume import settle_from_results
from .sqlite import SqliteLedger

__all__ = [
    "CLAIM_TTL_S",
    "DEFAULT_ZONE",
    "Dead",
    "Fate",
    "Key",
    "Ledger",
    "LedgerError",
    "LedgerInfo",
    "Mark",
    "Screened",
    "Settlement",
    "SqliteLedger",
    "day_number",
    "day_text",
    "fate_of",
    "is_url",
    "open_ledger",
    "redact_url",
    "scrub",
    "settle_from_results",
    "today",
]

_PG_SCHEMES: Final = ("postgresql://", "postgres://")


def is_url(spec: str) -> bool:
    """True for a PostgreSQL ledger (``postgresql://…``), False for a SQLite file."""
    return spec.lower().startswith(_PG_SCHEMES)


async def open_ledger(spec: str, *, zone: str | None = None, connections: int = 4) -> Ledger:
    """Open (creating it, in ``zone``, on first use) the ledger ``spec`` names: a file or a URL.

    Raises :class:`LedgerError` (the URL's password never in it) when it cannot be opened or read.
    """
    if is_url(spec):
        from .postgres import PostgresLedger  # noqa: PLC0415 - asyncpg only for postgresql:// ledgers

        return await PostgresLedger.open(spec, zone=zone, connections=connections)
    return await SqliteLedger.open(spec, zone=zone)
