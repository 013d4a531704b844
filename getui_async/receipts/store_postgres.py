"""The receipt store in PostgreSQL (``--store postgresql://…``): several receivers share one store.

Its own schema (:data:`SCHEMA`), never the ledger's tables. The schema is created and versioned on first
use under a transaction-scoped advisory lock, so receivers starting together do not race. A batch is one
round trip: ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING`` in its own (autocommit)
transaction, answered by PostgreSQL after the commit is durable (``synchronous_commit`` as the server
has it; on by default); concurrent batches use a pool and PostgreSQL's own group commit.

The URL's password never reaches a message: driver errors are re-raised as :class:`StoreError` with
the URL redacted and any copy of the password masked, without the original exception chained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from .protocol import Receipt
from .store import ActionRow, StoreError, redact_url, scrub

__all__ = ["SCHEMA", "PostgresReceiptStore"]

SCHEMA: Final = "getui_receipts"
SCHEMA_VERSION: Final = 1
#: pg_advisory_xact_lock key for creating the schema (any fixed 64-bit number; "GRCP" in ASCII).
_LOCK_KEY: Final = 0x47524350
POOL_MIN: Final = 1
POOL_MAX: Final = 8
_CONNECT_TIMEOUT_S: Final = 10.0

_CREATE: Final = """
CREATE SCHEMA IF NOT EXISTS getui_receipts;
CREATE TABLE IF NOT EXISTS getui_receipts.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS getui_receipts.receipts (
    taskid text NOT NULL,
    cid text NOT NULL,
    action_id bigint NOT NULL,
    msgid text NOT NULL,
    appid text NOT NULL,
    code bigint,
    recvtime bigint,
    alias text,
    received_at timestamptz NOT NULL DEFAULT now(),
    line text NOT NULL,
    PRIMARY KEY (taskid, cid, action_id, msgid)
);
"""
_INSERT: Final = (
    "INSERT INTO getui_receipts.receipts (taskid, cid, action_id, msgid, appid, code, recvtime, alias, line) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], "
    "$7::bigint[], $8::text[], $9::text[]) ON CONFLICT DO NOTHING"
)

_ACTION_ROWS: Final = (
    "SELECT taskid, cid, action_id, code, count(*) FROM getui_receipts.receipts {where} "
    "GROUP BY taskid, cid, action_id, code ORDER BY taskid, cid"
)
_WHERE_TASKS: Final = "WHERE taskid = ANY($1::text[])"


class PostgresReceiptStore:
    """Receipts in PostgreSQL through an asyncpg pool."""

    def __init__(self, url: str, pool: Any) -> None:
        self._url = url
        self._pool = pool
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresReceiptStore({redact_url(self._url)!r})"

    def _error(self, what: str, exc: BaseException) -> StoreError:
        detail = scrub(f"{type(exc).__name__}: {exc}", self._url)
        return StoreError(f"{redact_url(self._url)}: {what}: {detail}")

    @classmethod
    async def open(cls, url: str) -> PostgresReceiptStore:
        """Connect a pool to ``url`` and create or check the schema."""
        try:
            import asyncpg  # noqa: PLC0415 - the postgres extra, only for postgresql:// stores
        except ImportError:
            raise StoreError(
                "a postgresql:// store needs asyncpg: pip install 'getui-async[postgres]'"
            ) from None
        store = cls(url, None)
        try:
            store._pool = await asyncpg.create_pool(
                url, min_size=POOL_MIN, max_size=POOL_MAX, timeout=_CONNECT_TIMEOUT_S
            )
        except Exception as exc:  # any driver error, re-raised without the password
            raise store._error("cannot connect", exc) from None
        try:
            await store._create_schema()
        except BaseException:
            await store.close()
            raise
        return store

    async def _create_schema(self) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                await conn.execute(_CREATE)
                version = await conn.fetchval("SELECT value FROM getui_receipts.meta WHERE key = 'version'")
                if version is None:
                    await conn.execute(
                        "INSERT INTO getui_receipts.meta VALUES ('version', $1)", str(SCHEMA_VERSION)
                    )
                elif int(version) > SCHEMA_VERSION:
                    raise StoreError(
                        f"{redact_url(self._url)}: schema {SCHEMA} is version {version}, newer than "
                        f"{SCHEMA_VERSION}; upgrade getui_async"
                    )
        except StoreError:
            raise
        except Exception as exc:
            raise self._error("cannot create the receipt schema", exc) from None

    async def add(self, receipts: Sequence[Receipt]) -> int:
        """Store ``receipts`` in one round trip (committed before this returns); how many were new."""
        if self._closed:
            raise StoreError(f"{redact_url(self._url)}: the receipt store is closed")
        if not receipts:
            return 0
        columns = (
            [r.taskid for r in receipts],
            [r.cid for r in receipts],
            [r.action_id for r in receipts],
            [r.msgid for r in receipts],
            [r.appid for r in receipts],
            [r.code for r in receipts],
            [r.recvtime for r in receipts],
            [r.alias for r in receipts],
            [r.line for r in receipts],
        )
        try:
            status = await self._pool.execute(_INSERT, *columns)
        except Exception as exc:
            raise self._error("cannot store receipts", exc) from None
        return int(str(status).rsplit(" ", 1)[-1])

    async def _fetch(self, sql: str, *args: object) -> list[Any]:
        try:
            return list(await self._pool.fetch(sql, *args))
        except Exception as exc:
            raise self._error("cannot read receipts", exc) from None

    async def action_rows(self, taskids: Iterable[str] | None = None) -> list[ActionRow]:
        """(taskid, cid, action_id, code, receipts), ordered by taskid and cid."""
        if taskids is None:
            rows = await self._fetch(_ACTION_ROWS.format(where=""))
        else:
            rows = await self._fetch(_ACTION_ROWS.format(where=_WHERE_TASKS), list(taskids))
        return [(r[0], r[1], int(r[2]), None if r[3] is None else int(r[3]), int(r[4])) for r in rows]

    async def by_action(self) -> dict[int, int]:
        """Stored receipts per actionId."""
        rows = await self._fetch("SELECT action_id, count(*) FROM getui_receipts.receipts GROUP BY action_id")
        return {int(r[0]): int(r[1]) for r in rows}

    async def count(self) -> int:
        """Stored receipts in all."""
        rows = await self._fetch("SELECT count(*) FROM getui_receipts.receipts")
        return int(rows[0][0])

    async def close(self) -> None:
        """Close the pool; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
