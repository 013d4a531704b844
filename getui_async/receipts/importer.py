"""``receipts import FILE…``: saved receipt lines into the store, with the server's checks.

For receipts that reached another endpoint first (a web server that logged the POST bodies, one JSON
object per line) or that were kept while the store was down. A line that is not a JSON object at all
(log noise: timestamps, access lines) is skipped and counted; a line that looks like one (it starts with
``{``) goes through the same checks as at the server and is refused by reason when it fails. Lines are
stored in batches, each one transaction; importing a file twice stores nothing new (same unique key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from .protocol import Verifier
from .store import ReceiptStore
from .tally import Tally

__all__ = ["BATCH_LINES", "import_files", "import_lines"]

#: Lines per store transaction.
BATCH_LINES: Final = 5_000


def _batches(lines: Iterable[bytes], tally: Tally, size: int) -> Iterator[list[bytes]]:
    """Candidate receipt lines in lists of ``size``; blank lines dropped, non-JSON ones counted skipped."""
    batch: list[bytes] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(b"{"):
            tally.skipped += 1
            continue
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_lines(
    lines: Iterable[bytes],
    verifier: Verifier,
    store: ReceiptStore,
    *,
    tally: Tally | None = None,
    batch_lines: int = BATCH_LINES,
) -> Tally:
    """Check and store ``lines``; returns the counts (added to ``tally`` when one is given)."""
    tally = tally if tally is not None else Tally()
    for batch in _batches(lines, tally, batch_lines):
        receipts = tally.check(verifier, batch)
        stored = await store.add(receipts)
        tally.stored += stored
        tally.duplicate += len(receipts) - stored
    return tally


async def import_files(
    paths: Iterable[Path], verifier: Verifier, store: ReceiptStore, *, batch_lines: int = BATCH_LINES
) -> Tally:
    """Import every file in ``paths`` in order; one :class:`Tally` for them all."""
    tally = Tally()
    for path in paths:
        with path.open("rb") as handle:
            await import_lines(handle, verifier, store, tally=tally, batch_lines=batch_lines)
    return tally
