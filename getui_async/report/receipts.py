"""``report R --receipts STORE``: Getui's receipt callbacks joined to the campaign by (taskid, cid).

``successed_offline`` only says Getui handed the push to a vendor; the receipts say what reached the
device. Each recipient Getui accepted (its final line is ``successed_online``, ``successed_offline`` or
``accepted``, with a taskid and a cid) is matched with the receipts of its task: the furthest stage
reached (arrived, displayed, clicked: a later stage counts for the earlier ones, since a lost arrival
receipt does not mean a click happened on nothing) and the vendor failures by reason. Receipts of other
tasks or cids in the same store are left out. Those that never arrived are the ``--unreached`` records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from getui_async.errors import ResultsFileError
from getui_async.outcome import Status
from getui_async.receipts import FUNNEL, Stage, StoreSpec, open_store, recipients
from getui_async.results.reader import RecordBitmap, ResultsReader
from getui_async.results.record import F_CID, F_RECORD, F_STATUS, F_TASKID, F_VARIANT, decode_line

__all__ = ["ACCEPTED_STATUSES", "ReceiptJoin", "join_receipts", "read_accepted"]

#: Final statuses that mean Getui took the push for a device (``successed_ignore``: it did not send).
ACCEPTED_STATUSES: Final = frozenset({Status.SUCCESSED_ONLINE, Status.SUCCESSED_OFFLINE, Status.ACCEPTED})
_ACCEPTED_VALUES: Final = frozenset(s.value for s in ACCEPTED_STATUSES)


@dataclass
class Accepted:
    """The recipients Getui accepted: (taskid, cid) -> record number, and those that cannot be joined."""

    by_key: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Accepted records without a taskid or a cid (alias pushes, async replies): receipts name neither.
    not_joinable: int = 0
    #: An experiment's records: record -> variant (absent without ``--variant``).
    variant_of: dict[int, str] = field(default_factory=dict)


def read_accepted(path: Path) -> Accepted:
    """Each record's final line (the last one for it) when Getui accepted it, read backwards once."""
    found = Accepted()
    seen = RecordBitmap()
    reader = ResultsReader(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for _, parts in reader.blocks_backwards(handle):
            for raw in reversed(parts):
                line = decode_line(raw)
                record = line.get(F_RECORD) if line is not None else None
                if line is None or type(record) is not int or seen.add(record):
                    continue  # not a result line (read_outcomes refused those), or superseded
                if line.get(F_STATUS) not in _ACCEPTED_VALUES:
                    continue
                taskid, cid = line.get(F_TASKID), line.get(F_CID)
                if type(taskid) is str and taskid and type(cid) is str and cid:
                    found.by_key[(taskid, cid)] = record
                    variant = line.get(F_VARIANT)
                    if type(variant) is str:
                        found.variant_of[record] = variant
                else:
                    found.not_joinable += 1
    return found


@dataclass
class ReceiptJoin:
    """The campaign's recipients as the receipts saw them."""

    store: str
    accepted: int = 0
    not_joinable: int = 0
    with_receipts: int = 0
    stages: Counter[Stage] = field(default_factory=Counter)  # furthest stage per recipient
    failed_by_reason: Counter[str] = field(default_factory=Counter)  # recipients per failure reason
    by_action: Counter[int] = field(default_factory=Counter)  # receipts per actionId
    #: Records Getui accepted whose receipts show no arrival (none at all, or failures only).
    unreached: RecordBitmap = field(default_factory=RecordBitmap)
    #: An experiment's recipients by variant: accepted, and the furthest stage their receipts reached.
    by_variant: dict[str, Counter[str]] = field(default_factory=dict)

    def reached(self, stage: Stage) -> int:
        """Recipients that reached ``stage`` or a later one of the funnel."""
        later = FUNNEL[FUNNEL.index(stage) :]
        return sum(self.stages[s] for s in later)

    def to_dict(self) -> dict[str, Any]:
        """The ``receipts`` block of ``report --json`` (and of the HTML page)."""
        arrived = self.reached(Stage.ARRIVED)
        return {
            "store": self.store,
            "accepted": self.accepted,
            "not_joinable": self.not_joinable,
            "recipients_with_receipts": self.with_receipts,
            "coverage": round(self.with_receipts / self.accepted, 4) if self.accepted else None,
            "arrived": arrived,
            "displayed": self.reached(Stage.DISPLAYED),
            "clicked": self.reached(Stage.CLICKED),
            "unreached": self.accepted - arrived,
            "failed_by_reason": dict(sorted(self.failed_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_action": {str(a): n for a, n in sorted(self.by_action.items())},
        } | ({"variants": {name: dict(c) for name, c in self.by_variant.items()}} if self.by_variant else {})


async def join_receipts(results: Sequence[Path], spec: StoreSpec) -> ReceiptJoin:
    """Join the receipts in ``spec`` to the recipients Getui accepted in ``results`` (a campaign's file,
    or each of its shards' files: their record numbers never overlap)."""
    accepted = Accepted()
    for path in results:
        part = read_accepted(path)
        accepted.by_key.update(part.by_key)
        accepted.not_joinable += part.not_joinable
        accepted.variant_of.update(part.variant_of)
    join = ReceiptJoin(spec.redacted, accepted=len(accepted.by_key), not_joinable=accepted.not_joinable)
    if accepted.by_key:
        store = await open_store(spec)
        try:
            rows = await recipients(store, {taskid for taskid, _ in accepted.by_key})
        finally:
            await store.close()
    else:
        rows = []
    arrived: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.taskid, row.cid)
        if key not in accepted.by_key:
            continue
        join.with_receipts += 1
        join.by_action.update(row.actions)
        join.failed_by_reason.update(row.failures.keys())
        if row.furthest is not None:
            join.stages[row.furthest] += 1
            arrived.add(key)
            variant = accepted.variant_of.get(accepted.by_key[key])
            if variant is not None and row.furthest in FUNNEL:
                _variant_row(join, variant).update(s.value for s in FUNNEL[: FUNNEL.index(row.furthest) + 1])
    for key, record in accepted.by_key.items():
        if key not in arrived:
            join.unreached.add(record)
        variant = accepted.variant_of.get(record)
        if variant is not None:
            _variant_row(join, variant)[_ACCEPTED] += 1
    return join


#: The key of a variant's row that counts the recipients Getui accepted (the rates' denominator).
_ACCEPTED: Final = "accepted"


def _variant_row(join: ReceiptJoin, variant: str) -> Counter[str]:
    row = join.by_variant.get(variant)
    if row is None:
        row = join.by_variant[variant] = Counter()
    return row
