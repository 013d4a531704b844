"""The receipt store in one SQLite file: WAL, one writer thread, group commit, ``synchronous=FULL``.

Why FULL and not NORMAL: in WAL mode NORMAL already survives a killed process, but a commit may be lost
to a power cut or a kernel crash; Getui never re-sends a line we answered, so an answered line must be
on disk. FULL costs one fsync of the WAL per commit, and the writer thread pays it once per *group*:
every request batch waiting when a commit starts goes into the same transaction (each batch still
whole: its own ``executemany``), so a burst of small POSTs costs a few fsyncs, not one each. Each waiting
request is answered after the group's COMMIT returned.

The UNIQUE key (taskid, cid, action_id, msgid) with ``INSERT OR IGNORE`` makes repeats free and
counted: a batch's new rows are the connection's ``total_changes`` difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from getui_async import _json
from getui_async.errors import GetuiError
from getui_async.safe_open import create_private
from getui_async.sqlite_wal import enter_wal

from .protocol import Receipt
from .store import ActionRow, StoreError

__all__ = ["SqliteReceiptStore"]

SCHEMA_VERSION: Final = 1
_KIND: Final = "getui_async receipts"
#: A group commit stops taking waiting batches at this many rows (bounds one transaction's time).
MAX_GROUP_ROWS: Final = 50_000
_BUSY_TIMEOUT_S: Final = 30.0
#: Receipts arrive in random cid order, so each commit dirties index pages all over the file. A 64 MiB
#: page cache keeps the index in memory, and checkpointing every 20,000 WAL pages (not SQLite's 1,000)
#: copies a page dirtied by many commits once: measured 98 -> 63 µs a row (random 32-hex cids, groups of
#: 1,600). The WAL file is truncated back to 64 MiB after a checkpoint.
_TUNING: Final = (
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=20000",
    "PRAGMA journal_size_limit=67108864",
)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS receipt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (
    taskid TEXT NOT NULL,
    cid TEXT NOT NULL,
    action_id INTEGER NOT NULL,
    msgid TEXT NOT NULL,
    appid TEXT NOT NULL,
    code INTEGER,
    recvtime INTEGER,
    alias TEXT,
    received_ms INTEGER NOT NULL,
    line TEXT NOT NULL,
    UNIQUE (taskid, cid, action_id, msgid)
);
"""
_INSERT: Final = (
    "INSERT OR IGNORE INTO receipts (taskid, cid, action_id, msgid, appid, code, recvtime, alias, "
    "received_ms, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ACTION_ROWS: Final = (
    "SELECT taskid, cid, action_id, code, count(*) FROM receipts {where} "
    "GROUP BY taskid, cid, action_id, code ORDER BY taskid, cid"
)
_WHERE_TASKS: Final = "WHERE taskid IN (SELECT value FROM json_each(?))"
_Row = tuple[str, str, int, str, str, "int | None", "int | None", "str | None", int, str]
_Job = tuple[list[_Row], "asyncio.Future[int]", asyncio.AbstractEventLoop]


def _connect(path: str) -> sqlite3.Connection:
    """Open ``path``, check it is a receipt store (or empty), and create the schema on first use."""
    try:
        create_private(Path(path))  # it names recipients: 0600, and never through a planted link
    except (OSError, GetuiError) as exc:
        raise StoreError(f"{path}: cannot open the receipt store: {exc}") from None
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
    try:
        mode = enter_wal(conn, _BUSY_TIMEOUT_S)  # several receivers may create it at once
        if mode != "wal":
            raise StoreError(f"{path}: cannot use WAL mode (journal_mode={mode})")
        conn.execute("PRAGMA synchronous=FULL")
        for pragma in _TUNING:
            conn.execute(pragma)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "receipt_meta" not in tables:
            raise StoreError(f"{path}: not a receipt store (a ledger or another database?)")
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        meta = dict(conn.execute("SELECT key, value FROM receipt_meta").fetchall())
        if not meta:
            conn.executemany(
                "INSERT INTO receipt_meta VALUES (?, ?)", [("kind", _KIND), ("version", str(SCHEMA_VERSION))]
            )
        elif meta.get("kind") != _KIND or int(meta.get("version", "0")) > SCHEMA_VERSION:
            raise StoreError(f"{path}: a receipt store of a newer version; upgrade getui_async")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"{path}: cannot open the receipt store: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _settle(future: asyncio.Future[int], value: int | BaseException) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)


class SqliteReceiptStore:
    """Receipts in a SQLite file; one writer thread commits what all waiting requests brought."""

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self._path = path
        self._conn = conn
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="receipt-writer", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"SqliteReceiptStore({self._path!r})"

    @classmethod
    async def open(cls, path: str) -> SqliteReceiptStore:
        """Open or create the store at ``path``."""
        conn = await asyncio.to_thread(_connect, path)
        return cls(path, conn)

    async def add(self, receipts: Sequence[Receipt]) -> int:
        """Store ``receipts`` (committed with fsync before this returns); how many were new."""
        if self._closed:
            raise StoreError(f"{self._path}: the receipt store is closed")
        if not receipts:
            return 0
        now_ms = int(time.time() * 1000)
        rows: list[_Row] = [
            (r.taskid, r.cid, r.action_id, r.msgid, r.appid, r.code, r.recvtime, r.alias, now_ms, r.line)
            for r in receipts
        ]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._jobs.put((rows, future, loop))
        return await future

    def _take_group(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and the jobs already waiting (up to :data:`MAX_GROUP_ROWS`); True when told to stop."""
        group, rows = [first], len(first[0])
        while rows < MAX_GROUP_ROWS:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return group, False
            if job is None:
                return group, True
            group.append(job)
            rows += len(job[0])
        return group, False

    def _write_loop(self) -> None:
        """The writer thread: one transaction per group of waiting batches, answered after COMMIT."""
        stop = False
        while not stop:
            first = self._jobs.get()
            if first is None:
                return
            group, stop = self._take_group(first)
            results: list[int | BaseException] = []
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for rows, _, _ in group:
                    before = self._conn.total_changes
                    self._conn.executemany(_INSERT, rows)
                    results.append(self._conn.total_changes - before)
                self._conn.execute("COMMIT")
            except Exception as exc:  # every waiting request must hear of it
                results = [StoreError(f"{self._path}: cannot store receipts: {exc}")] * len(group)
                with contextlib.suppress(sqlite3.Error):
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
            for (_, future, loop), result in zip(group, results, strict=True):
                with contextlib.suppress(RuntimeError):  # that request's loop is already closed
                    loop.call_soon_threadsafe(_settle, future, result)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def action_rows(self, taskids: Iterable[str] | None = None) -> list[ActionRow]:
        """(taskid, cid, action_id, code, receipts), ordered by taskid and cid."""
        if taskids is None:
            rows = await asyncio.to_thread(self._query, _ACTION_ROWS.format(where=""))
        else:
            wanted = [_json.dumps(list(taskids)).decode()]
            rows = await asyncio.to_thread(self._query, _ACTION_ROWS.format(where=_WHERE_TASKS), wanted)
        return [(str(t), str(c), int(a), None if k is None else int(k), int(n)) for t, c, a, k, n in rows]

    async def by_action(self) -> dict[int, int]:
        """Stored receipts per actionId."""
        rows = await asyncio.to_thread(
            self._query, "SELECT action_id, count(*) FROM receipts GROUP BY action_id"
        )
        return {int(a): int(n) for a, n in rows}

    async def count(self) -> int:
        """Stored receipts in all."""
        rows = await asyncio.to_thread(self._query, "SELECT count(*) FROM receipts")
        return int(rows[0][0])

    async def close(self) -> None:
        """Let the writer finish what was queued, then close the file; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._writer.join)
        self._conn.close()
