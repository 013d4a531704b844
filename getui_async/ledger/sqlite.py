"""The ledger in one SQLite file: the embedded default, shared by every process on one host.

Each call is one ``BEGIN IMMEDIATE`` transaction (the write lock first, so two processes claiming the
same recipient serialise and the second sees the first's claim), in WAL mode so readers never wait.
Nothing of the ledger is held in memory: a claim is a few primary-key seeks per recipient, so a ledger
of millions of rows costs what a small one does. Calls run in a worker thread, one at a time.

A ledger file deleted or replaced while a run uses it is noticed at the next call (its inode changed).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from getui_async.outcome import Kind
from getui_async.safe_open import create_private
from getui_async.sqlite_wal import enter_wal

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
from .schema import SCHEMA_VERSION, SQLITE_CREATE, SQLITE_FROM_V1

__all__ = ["SqliteLedger"]

T = TypeVar("T")

_BUSY_TIMEOUT_MS: Final = 30_000
#: WAL pages between automatic checkpoints (64 MB of 4 KiB pages; SQLite's default is 1000).
_WAL_CHECKPOINT_PAGES: Final = 16_384
_SQLITE_FULL: Final = 13
_KINDS: Final[tuple[Kind, Kind]] = ("cid", "alias")
_DEAD_PAGE: Final = 10_000
#: Recipients per ``IN (...)`` list (SQLite allows 32,766 parameters a statement).
_IN_LIST: Final = 10_000


def reason_of(exc: BaseException) -> str:
    """An SQLite or OS error as the plain cause a person acts on ("No space left on device")."""
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL:
        return os.strerror(errno.ENOSPC)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


class SqliteLedger:
    """A ledger file; open with :meth:`open` (creates it, with ``zone``, when missing)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, zone: ZoneInfo, schema: int) -> None:
        self.path = path
        self.where = str(path)
        self.zone = zone
        self._schema = schema
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._identity = _identity(path)

    @classmethod
    async def open(cls, path: str | Path, *, zone: str | None = None) -> SqliteLedger:
        """Open (or create, in ``zone``) the ledger at ``path``; :class:`LedgerError` if unusable."""
        return await asyncio.to_thread(cls._open, Path(path), zone)

    @classmethod
    def _open(cls, path: Path, zone: str | None) -> SqliteLedger:
        where = str(path)
        try:
            create_private(path)  # it names recipients: 0600, and never through a planted link
            conn = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(where, f"cannot open: {reason_of(exc)}") from None
        try:
            enter_wal(conn, _BUSY_TIMEOUT_MS / 1000)  # several processes may create it at once
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
            # Claims dirty a page per recipient (random keys): checkpoint the WAL less often, so a page
            # claimed, then settled, is copied into the database once.
            conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
            with _transaction(conn):
                stored_zone, schema = _setup(conn, zone)
                conn.execute("DELETE FROM marks WHERE delivered = 0 AND at < ?", (_now() - CLAIM_TTL_S,))
        except (sqlite3.Error, ValueError) as exc:
            conn.close()
            raise LedgerError(where, f"not a usable ledger: {reason_of(exc)}") from None
        return cls(path, conn, ZoneInfo(stored_zone), schema)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise LedgerError(self.where, "the ledger is closed")
            try:
                if _identity(self.path) != self._identity:
                    raise LedgerError(self.where, "the ledger file was replaced while this run used it")
                with _transaction(conn):
                    return work(conn)
            except FileNotFoundError:
                raise LedgerError(self.where, os.strerror(errno.ENOENT)) from None
            except (sqlite3.Error, OSError) as exc:
                raise LedgerError(self.where, reason_of(exc)) from None

    async def screen(
        self, lineage: str, day: int, kind: Kind, targets: Sequence[str], *, cap: int | None, suppress: bool
    ) -> Screened:
        """See :meth:`~getui_async.ledger.interface.Ledger.screen`."""
        work = partial(
            _screen, lineage=lineage, day=day, kind=kind, targets=targets, cap=cap, suppress=suppress
        )
        return await asyncio.to_thread(self._call, work)

    async def settle(self, lineage: str, settlement: Settlement) -> None:
        """See :meth:`~getui_async.ledger.interface.Ledger.settle`."""
        if len(settlement):
            await asyncio.to_thread(self._call, lambda c: _settle(c, lineage, settlement))

    async def info(self) -> LedgerInfo:
        """See :meth:`~getui_async.ledger.interface.Ledger.info`."""
        day = today(self.zone)

        def work(conn: sqlite3.Connection) -> LedgerInfo:
            rows = conn.execute("SELECT count(*) FROM marks WHERE day = ?", (day,)).fetchone()[0]
            live = _now() - CLAIM_TTL_S
            claims = conn.execute("SELECT count(*) FROM marks WHERE delivered = 0 AND at > ?", (live,))
            dead = conn.execute("SELECT count(*) FROM dead").fetchone()[0]
            held = claims.fetchone()[0]
            return LedgerInfo(self.where, self.zone.key, day, int(rows), int(held), int(dead), self._schema)

        return await asyncio.to_thread(self._call, work)

    async def dead_recipients(self) -> AsyncIterator[Dead]:
        """See :meth:`~getui_async.ledger.interface.Ledger.dead_recipients` (read a page at a time)."""
        after: tuple[int, str] = (-1, "")
        while True:
            page = await asyncio.to_thread(self._call, lambda c, a=after: _dead_page(c, a))
            for kind, target, since in page:
                yield (_KINDS[kind], target, since)
            if len(page) < _DEAD_PAGE:
                return
            after = (page[-1][0], page[-1][1])

    async def close(self) -> None:
        """Close the file; idempotent, never raises (every write was committed already)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()


def _setup(conn: sqlite3.Connection, zone: str | None) -> tuple[str, int]:
    """Create or migrate the tables; the ledger's zone and schema version (``ValueError``: too new)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not tables & {"marks", "deliveries"}:
        raise ValueError(f"not a ledger (it holds other tables: {', '.join(sorted(tables))})")
    if "marks" not in tables:
        for statement in SQLITE_CREATE:
            conn.execute(statement)
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    version = int(meta.get("schema", SCHEMA_VERSION))
    if version > SCHEMA_VERSION:
        raise ValueError(f"schema version {version} is newer than this tool's {SCHEMA_VERSION}; upgrade it")
    if "deliveries" in tables:  # version 1
        for statement in SQLITE_FROM_V1:
            conn.execute(statement)
    stored = meta.get("zone") or zone or DEFAULT_ZONE
    ZoneInfo(stored)  # a bad zone fails here
    # Written only when they change: opening a ledger on a full disk must not need a page.
    for key, value in (("schema", str(SCHEMA_VERSION)), ("zone", stored)):
        if meta.get(key) != value:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    return stored, SCHEMA_VERSION


def _screen(
    conn: sqlite3.Connection,
    *,
    lineage: str,
    day: int,
    kind: Kind,
    targets: Sequence[str],
    cap: int | None,
    suppress: bool,
) -> Screened:
    code, now = KIND_CODE[kind], _now()
    dead: dict[str, str] = {}
    capped: dict[str, int] = {}
    for start in range(0, len(targets), _IN_LIST):  # SQLite bounds the parameters of one statement
        some = targets[start : start + _IN_LIST]
        marks = ",".join("?" * len(some))
        if suppress:
            found = conn.execute(
                f"SELECT target, since FROM dead WHERE kind = ? AND target IN ({marks})",  # noqa: S608 - only ? marks
                (code, *some),
            )
            dead.update(found.fetchall())
        if cap is not None:
            held = conn.execute(
                "SELECT target, count(*) FROM marks WHERE day = ? AND kind = ? AND target IN "  # noqa: S608 - only ? marks
                f"({marks}) AND lineage != ? AND (delivered = 1 OR at > ?) GROUP BY target",
                (day, code, *some, lineage, now - CLAIM_TTL_S),
            )
            capped.update((target, n) for target, n in held.fetchall() if n >= cap)
    if cap is not None:
        conn.executemany(
            "INSERT INTO marks VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO UPDATE SET at = excluded.at"
            " WHERE delivered = 0",
            [(day, code, t, lineage, now) for t in targets if t not in capped and t not in dead],
        )
    return Screened(dead, capped)


def _settle(conn: sqlite3.Connection, lineage: str, settlement: Settlement) -> None:
    now, codes = _now(), KIND_CODE
    conn.executemany(
        "INSERT INTO marks VALUES (?, ?, ?, ?, 1, ?)"
        " ON CONFLICT DO UPDATE SET delivered = 1, at = excluded.at",
        [(day, codes[kind], target, lineage, now) for day, kind, target in settlement.delivered],
    )
    conn.executemany(
        "DELETE FROM marks WHERE day = ? AND kind = ? AND target = ? AND lineage = ? AND delivered = 0",
        [(day, codes[kind], target, lineage) for day, kind, target in settlement.released],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO dead VALUES (?, ?, ?)",
        [(codes[kind], target, since) for kind, target, since in settlement.dead],
    )


def _dead_page(conn: sqlite3.Connection, after: tuple[int, str]) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        "SELECT kind, target, since FROM dead WHERE (kind, target) > (?, ?) ORDER BY kind, target LIMIT ?",
        (*after, _DEAD_PAGE),
    )
    return [(int(k), str(t), str(s)) for k, t, s in rows.fetchall()]


def _now() -> int:
    return int(time.time())


def _identity(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    return (found.st_dev, found.st_ino)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction (the connection is in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # the transaction may be gone already (a full disk can end it)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
