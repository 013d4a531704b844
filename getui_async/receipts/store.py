"""Where verified receipts are kept: the interface, ``--store`` parsing, and the funnel read back.

A store is a SQLite file or a ``postgresql://`` URL (several receivers behind a load balancer share one),
like the ledger, but always its own file or schema: a burst of receipts never waits on, or stalls, a
campaign's ledger. Every backend keeps one row per (taskid, cid, actionId, msgid), so Getui's re-sends
and repeated imports are counted once, and :meth:`ReceiptStore.add` returns only after the rows are
durable: the server answers Getui after it, and Getui never sends an answered line again.

The report's join asks :meth:`ReceiptStore.recipients` (per taskid and cid: the furthest stage reached
and failures by reason) and :meth:`ReceiptStore.by_action` (counts by actionId).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

from getui_async.errors import ConfigError, GetuiError
from getui_async.ledger.redact import redact_url, scrub

from .protocol import FUNNEL, Receipt, Stage, classify

__all__ = [
    "ActionRow",
    "ReceiptStore",
    "RecipientReceipts",
    "StoreError",
    "StoreSpec",
    "fold_recipients",
    "open_store",
    "parse_store",
    "recipients",
    "redact_url",
    "scrub",
]

_PG_SCHEMES: Final = ("postgresql", "postgres")
#: An action row as the backends return it: (taskid, cid, action_id, code, receipts).
ActionRow = tuple[str, str, int, "int | None", int]


class StoreError(GetuiError):
    """The receipt store cannot be opened or written; the message never holds a password."""


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


class ReceiptStore(Protocol):
    """What the server, the importer and the report need from a receipt store."""

    async def add(self, receipts: Sequence[Receipt]) -> int:
        """Store ``receipts`` durably in one transaction; return how many were new (the rest repeats)."""
        ...

    async def action_rows(self, taskids: Iterable[str] | None = None) -> list[ActionRow]:
        """(taskid, cid, action_id, code, receipts) for each distinct action, ordered by taskid and cid."""
        ...

    async def by_action(self) -> dict[int, int]:
        """Stored receipts per actionId."""
        ...

    async def count(self) -> int:
        """Stored receipts in all."""
        ...

    async def close(self) -> None:
        """Release the backend; idempotent."""
        ...


@dataclass
class RecipientReceipts:
    """What the receipts say about one recipient of one task."""

    taskid: str
    cid: str
    #: The furthest funnel stage reached (``None``: only failures or unknown actionIds).
    furthest: Stage | None = None
    failures: Counter[str] = field(default_factory=Counter)
    #: Receipts by actionId (unknown ones included, by number).
    actions: Counter[int] = field(default_factory=Counter)


_RANK: Final = {stage: rank for rank, stage in enumerate(FUNNEL)}


def fold_recipients(rows: Iterable[ActionRow]) -> list[RecipientReceipts]:
    """Fold action rows (sorted by taskid, cid) into one :class:`RecipientReceipts` per recipient."""
    out: list[RecipientReceipts] = []
    current: RecipientReceipts | None = None
    for taskid, cid, action_id, code, n in rows:
        if current is None or (current.taskid, current.cid) != (taskid, cid):
            current = RecipientReceipts(taskid, cid)
            out.append(current)
        current.actions[action_id] += n
        stage, reason = classify(action_id, code)
        if stage is Stage.FAILED:
            current.failures[reason or "unknown"] += n
        elif stage in _RANK and (current.furthest is None or _RANK[stage] > _RANK[current.furthest]):
            current.furthest = stage
    return out


async def recipients(store: ReceiptStore, taskids: Iterable[str] | None = None) -> list[RecipientReceipts]:
    """Per (taskid, cid) of ``taskids`` (all when ``None``): the furthest stage and failures by reason."""
    return fold_recipients(await store.action_rows(taskids))


async def open_store(spec: str | StoreSpec) -> ReceiptStore:
    """Open (creating its schema on first use) the store ``spec`` names."""
    parsed = parse_store(spec) if isinstance(spec, str) else spec
    if parsed.kind == "postgresql":
        from .store_postgres import PostgresReceiptStore  # noqa: PLC0415 - asyncpg only when asked for

        return await PostgresReceiptStore.open(parsed.target)
    from .store_sqlite import SqliteReceiptStore  # noqa: PLC0415 - symmetric with the branch above

    return await SqliteReceiptStore.open(parsed.target)
