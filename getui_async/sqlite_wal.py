"""Switching a new SQLite file to WAL mode when several connections open it at the same moment.

Two connections that both read a new file and then both want it exclusive would deadlock, so SQLite
answers one of them SQLITE_BUSY at once, without calling its busy handler: several processes opening
one new ledger together lost one of them this way (~1 in 30 runs of six). Once a file is in WAL mode
the pragma takes no lock, so the wait here happens only when a file is created.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

__all__ = ["enter_wal"]

_SQLITE_BUSY: Final = 5
#: The pause before asking again after an immediate SQLITE_BUSY.
_RETRY_S: Final = 0.01


def enter_wal(conn: sqlite3.Connection, timeout_s: float) -> str:
    """``PRAGMA journal_mode=WAL``, asked again while SQLite answers busy until ``timeout_s`` has passed;
    the journal mode the file is in afterwards (``"wal"`` unless the file system cannot have it).

    One ask may itself wait out the connection's own busy timeout (when SQLite does call its handler),
    so the whole call is bounded by ``timeout_s`` plus one such wait.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0)  # typeshed does not list it yet
            if code & 0xFF != _SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_S)
