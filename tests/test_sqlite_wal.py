"""SQLite files several connections may create at once (the ledger, the receipt store): all open them.

Two connections switching one new file to WAL at the same moment: SQLite answers one of them
SQLITE_BUSY at once, without its busy handler (deadlock avoidance). Threads, not processes (SQLite
locks connections of one process against each other too), so 100 rounds take a second or two; two at
once failed ~1 round in 5 before the retry in :mod:`getui_async.sqlite_wal`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from getui_async.ledger import open_ledger
from getui_async.receipts.store_sqlite import SqliteReceiptStore
from getui_async.sqlite_wal import enter_wal

ROUNDS = 100


def _ledger(path: Path) -> None:
    async def open_close() -> None:
        await (await open_ledger(str(path))).close()

    asyncio.run(open_close())


def _receipt_store(path: Path) -> None:
    async def open_close() -> None:
        await (await SqliteReceiptStore.open(str(path))).close()

    asyncio.run(open_close())


def _open_together(open_it: Callable[[Path], None], path: Path, connections: int) -> list[str]:
    """``connections`` threads open ``path`` at the same moment; the errors they met."""
    barrier = threading.Barrier(connections)
    errors: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            open_it(path)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize("open_it", [_ledger, _receipt_store], ids=["ledger", "receipt store"])
def test_connections_creating_one_file_at_once_all_open_it(
    open_it: Callable[[Path], None], tmp_path: Path
) -> None:
    for round_ in range(ROUNDS):
        assert _open_together(open_it, tmp_path / f"{round_}.sqlite", 2) == [], f"round {round_}"


def test_a_busy_answer_past_the_timeout_is_raised(tmp_path: Path) -> None:
    """A file held in a write transaction for longer than the wait: the busy error, not a hang."""
    path = tmp_path / "held.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            enter_wal(conn, 0.05)
        conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert enter_wal(conn, 0.05) == "wal"
    conn.close()
