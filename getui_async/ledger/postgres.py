"""The ledger in PostgreSQL (``--ledger postgresql://…``): one cap shared by runs on many hosts.

asyncpg (the ``postgres`` extra, as the receipt store uses): native asyncio, so a claim never needs a
thread hop, and arrays bind as one parameter, so a chunk is one round trip. A claim or a settlement is
one call of a server-side function (:data:`~getui_async.ledger.schema.PG_CREATE`) in its own
transaction; a claim takes its day's advisory lock first, so two hosts claiming one recipient
serialise. The schema is created and versioned under a transaction-scoped advisory lock,
so hosts starting together do not race. A URL's password never reaches a message.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final
from zoneinfo import ZoneInfo

from getui_async.outcome import Kind
from getui_async.redact import redact_url, scrub

from .interface import (
    CLAIM_TTL_S,
    DEFAULT_ZONE,
    KIND_CODE,
    Dead,
    LedgerError,
    LedgerInfo,
    Screened,
    Settlement,
    today,
)
from .schema import PG_CREATE, SCHEMA_VERSION

__all__ = ["PostgresLedger", "pool_size"]

#: pg_advisory_xact_lock key for creating or migrating the schema ("GLDG" in ASCII).
_LOCK_KEY: Final = 0x474C4447
_CONNECT_TIMEOUT_S: Final = 10.0
_POOL_MAX: Final = 16
_KINDS: Final[tuple[Kind, Kind]] = ("cid", "alias")
_CLAIM: Final = "SELECT o_target, o_since, o_held FROM getui_ledger.claim($1, $2, $3, $4, $5, $6, $7, $8)"
_SETTLE: Final = "SELECT getui_ledger.settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


def pool_size(concurrency: int) -> int:
    """Connections for a run: one per worker that may claim or settle at once, within a small bound."""
    return max(2, min(_POOL_MAX, concurrency + 1))


class PostgresLedger:
    """A ledger in one PostgreSQL database, through an asyncpg pool."""

    def __init__(self, url: str, pool: Any, zone: ZoneInfo) -> None:
        self._url = url
        self.where = redact_url(url)
        self.zone = zone
        self._pool = pool
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresLedger({self.where!r})"

    def _error(self, exc: BaseException) -> LedgerError:
        return LedgerError(self.where, scrub(f"{type(exc).__name__}: {exc}", self._url))

    @classmethod
    async def open(cls, url: str, *, zone: str | None = None, connections: int = 4) -> PostgresLedger:
        """Connect a pool to ``url``, create or check the schema (the zone stored at creation)."""
        where = redact_url(url)
        try:
            import asyncpg  # noqa: PLC0415 - the postgres extra, only for postgresql:// ledgers
        except ImportError:
            raise LedgerError(where, "needs asyncpg: pip install 'getui-async[postgres]'") from None
        try:
            # min_size 0: a pool with a floor reconnects in the background after a lost connection and logs
            # a traceback each time it fails; a run's next claim finds the loss and stops instead.
            pool = await asyncpg.create_pool(
                url, min_size=0, max_size=max(1, connections), timeout=_CONNECT_TIMEOUT_S
            )
        except Exception as exc:  # any driver error, re-raised without the password
            detail = scrub(f"{type(exc).__name__}: {exc}", url)
            raise LedgerError(where, f"cannot connect: {detail}") from None
        ledger = cls(url, pool, ZoneInfo(DEFAULT_ZONE))
        try:
            ledger.zone = ZoneInfo(await ledger._create(zone))
        except BaseException:
            await ledger.close()
            raise
        return ledger

    async def _create(self, zone: str | None) -> str:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                exists = await conn.fetchval("SELECT to_regclass('getui_ledger.meta') IS NOT NULL")
                meta: dict[str, str] = {}
                if exists:
                    rows = await conn.fetch("SELECT key, value FROM getui_ledger.meta")
                    meta = {r[0]: r[1] for r in rows}
                version = int(meta.get("schema", 0))
                if version > SCHEMA_VERSION:
                    raise LedgerError(
                        self.where, f"schema version {version} is newer than this tool's {SCHEMA_VERSION}"
                    )
                if version < SCHEMA_VERSION:
                    await conn.execute(PG_CREATE)
                    await conn.execute(
                        "INSERT INTO getui_ledger.meta VALUES ('schema', $1)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        str(SCHEMA_VERSION),
                    )
                stored = meta.get("zone") or zone or DEFAULT_ZONE
                ZoneInfo(stored)
                await conn.execute(
                    "INSERT INTO getui_ledger.meta VALUES ('zone', $1) ON CONFLICT (key) DO NOTHING", stored
                )
                await conn.execute(
                    "DELETE FROM getui_ledger.marks WHERE NOT delivered AND at < $1", _now() - CLAIM_TTL_S
                )
                return stored
        except LedgerError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    async def screen(
        self, lineage: str, day: int, kind: Kind, targets: Sequence[str], *, cap: int | None, suppress: bool
    ) -> Screened:
        """See :meth:`~getui_async.ledger.interface.Ledger.screen`: one function call."""
        now = _now()
        args = (day, KIND_CODE[kind], list(targets), lineage, cap, now - CLAIM_TTL_S, now, suppress)
        rows = await self._fetch(_CLAIM, *args)
        dead = {r[0]: r[1] for r in rows if r[1] is not None}
        capped = {r[0]: int(r[2]) for r in rows if r[1] is None}
        return Screened(dead, capped)

    async def settle(self, lineage: str, settlement: Settlement) -> None:
        """See :meth:`~getui_async.ledger.interface.Ledger.settle`: one function call."""
        if not len(settlement):
            return
        d, r, x = settlement.delivered, settlement.released, settlement.dead
        codes = KIND_CODE
        await self._fetch(
            _SETTLE,
            lineage,
            _now(),
            [m[0] for m in d],
            [codes[m[1]] for m in d],
            [m[2] for m in d],
            [m[0] for m in r],
            [codes[m[1]] for m in r],
            [m[2] for m in r],
            [codes[m[0]] for m in x],
            [m[1] for m in x],
            [m[2] for m in x],
        )

    async def info(self) -> LedgerInfo:
        """See :meth:`~getui_async.ledger.interface.Ledger.info`."""
        day = today(self.zone)
        rows = await self._fetch(
            "SELECT (SELECT count(*) FROM getui_ledger.marks WHERE day = $1),"
            " (SELECT count(*) FROM getui_ledger.marks WHERE NOT delivered AND at > $2),"
            " (SELECT count(*) FROM getui_ledger.dead)",
            day,
            _now() - CLAIM_TTL_S,
        )
        today_rows, claims, dead = (int(v) for v in rows[0])
        return LedgerInfo(self.where, self.zone.key, day, today_rows, claims, dead, SCHEMA_VERSION)

    async def dead_recipients(self) -> AsyncIterator[Dead]:
        """See :meth:`~getui_async.ledger.interface.Ledger.dead_recipients` (a server-side cursor)."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                query = "SELECT kind, target, since FROM getui_ledger.dead ORDER BY kind, target"
                async for row in conn.cursor(query):
                    yield (_KINDS[int(row[0])], str(row[1]), str(row[2]))
        except Exception as exc:
            raise self._error(exc) from None

    async def _fetch(self, sql: str, *args: object) -> list[Any]:
        if self._closed:
            raise LedgerError(self.where, "the ledger is closed")
        try:
            return list(await self._pool.fetch(sql, *args))
        except Exception as exc:
            raise self._error(exc) from None

    async def close(self) -> None:
        """Close the pool; idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._pool.close()
        except Exception:  # a lost server: nothing left to release cleanly
            self._pool.terminate()


def _now() -> int:
    return int(time.time())
