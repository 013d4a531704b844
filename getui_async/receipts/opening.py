"""Opening a receipt store by its ``--store``: a SQLite file or a ``postgresql://`` URL.

Apart from :mod:`.store` (the interface) so the backends, which import the interface, are imported here
and only here: nothing imports back, and asyncpg is loaded only when a PostgreSQL store is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from getui_async.errors import ConfigError

from .store import ReceiptStore, redact_url
from .store_sqlite import SqliteReceiptStore

__all__ = ["StoreSpec", "open_store", "parse_store"]

_PG_SCHEMES: Final = ("postgresql", "postgres")


@dataclass(frozen=True)
class StoreSpec:
    """A parsed ``--store``: a SQLite path or a PostgreSQL URL (``redacted`` is safe to print)."""

    kind: str  # "sqlite" or "postgresql"
    target: str
    redacted: str


def parse_store(spec: str) -> StoreSpec:
    """Check ``--store`` before anything is done (a bad one is exit 2)."""
    text = spec.strip()
    if not text:
        raise ConfigError("--store: empty; give a SQLite file or a postgresql:// URL")
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in _PG_SCHEMES:
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError(f"--store {redact_url(text)}: a postgresql:// URL needs a host")
        return StoreSpec("postgresql", text, redact_url(text))
    if scheme:
        raise ConfigError(f"--store {redact_url(text)}: only a SQLite file or a postgresql:// URL")
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"--store {text}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"--store {text}: the directory {str(path.parent)!r} does not exist")
    return StoreSpec("sqlite", text, text)


async def open_store(spec: str | StoreSpec) -> ReceiptStore:
    """Open (creating its schema on first use) the store ``spec`` names."""
    parsed = parse_store(spec) if isinstance(spec, str) else spec
    if parsed.kind == "postgresql":
        from .store_postgres import PostgresReceiptStore  # noqa: PLC0415 - asyncpg only when asked for

        return await PostgresReceiptStore.open(parsed.target)
    return await SqliteReceiptStore.open(parsed.target)
