"""Where verified receipts are kept: the interface every backend implements, and the funnel read back.

A store is a SQLite file or a ``postgresql://`` URL (several receivers behind a load balancer share one),
like the ledger, but always its own file or schema: a burst of receipts never waits on, or stalls, a
campaign's ledger. Every backend keeps one row per (taskid, cid, actionId, msgid), so Getui's re-sends
and repeated imports are counted once, and :meth:`ReceiptStore.add` returns only after the rows are
durable: the server answers Getui after it, and Getui never sends an answered line again. Opening a
backend by its ``--store`` is :mod:`.opening`'s job (the backends import this module, not the reverse).

The report's join asks :meth:`ReceiptStore.recipients` (per taskid and cid: the furthest stage reached
and failures by reason) and :meth:`ReceiptStore.by_action` (counts by actionId).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from getui_async.errors import GetuiError
from getui_async.redact import redact_url, scrub

from .protocol import FUNNEL, Receipt, Stage, classify

__all__ = [
    "ActionRow",
    "ReceiptStore",
    "RecipientReceipts",
    "StoreError",
    "fold_recipients",
    "recipients",
    "redact_url",
    "scrub",
]

#: An action row as the backends return it: (taskid, cid, action_id, code, receipts).
ActionRow = tuple[str, str, int, "int | None", int]


class StoreError(GetuiError):
    """The receipt store cannot be opened or written; the message never holds a password."""


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
