"""The send's results as a recall needs them: its campaign, replace ids, list tasks and delivered
recipients, read only through :mod:`getui_async.results` (its reader, line record and sidecar keys)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from getui_async.errors import ResultsFileError
from getui_async.messages import ReplaceIds
from getui_async.messages.replace import variant_ids
from getui_async.outcome import DELIVERED_STATUSES, RECALL_CHANNEL_OF, Kind, RecallChannel
from getui_async.results import RecordBitmap, ResultLine, ResultsReader, stored_campaign, stored_replace_ids
from getui_async.results.record import F_VARIANT

__all__ = ["Delivered", "SendResults", "is_list_task"]

#: Getui's list tasks are ``RASL-MMdd_...`` (single and batch pushes ``RASS_...``): only those stop.
_LIST_TASK_PREFIX: Final = "RASL"


def is_list_task(taskid: str | None) -> bool:
    """True for a list task's id (``DELETE /task/{taskid}`` stops only those)."""
    return taskid is not None and taskid.startswith(_LIST_TASK_PREFIX)


@dataclass(frozen=True, slots=True)
class Delivered:
    """One recipient Getui took the send's push for: where it is in the send's file, and its task."""

    line: int
    record: int
    kind: Kind
    target: str
    taskid: str | None
    channel: RecallChannel


@dataclass(slots=True)
class Census:
    """What one pass over the send's file found (for the plan, the dry run and the summary)."""

    list_tasks: list[str]
    delivered: dict[RecallChannel, int]
    #: Records whose last line is not a delivery (failed, rejected, ...): a recall leaves them alone.
    left_alone: int


class SendResults:
    """The results file of the send to recall (any mode, one shard), with its sidecar."""

    def __init__(self, path: Path, variant: str | None = None) -> None:
        if not path.is_file():
            raise ResultsFileError(f"{path}: no such results file")
        self.path = path
        self.campaign_id = stored_campaign(path)
        recorded = stored_replace_ids(path)
        #: False for a sidecar written before the send recorded its replace ids.
        self.ids_recorded = recorded is not None
        self.replace_ids = ReplaceIds.from_dict(recorded or {})
        #: ``--variant NAME``: only that variant's recipients (and its list tasks) are acted on.
        self.variant = variant
        if variant is not None:
            self.replace_ids = variant_ids(self.replace_ids, self.campaign_id, variant)

    def _lines(self) -> Iterator[ResultLine]:
        reader = ResultsReader(self.path)
        try:
            for number, raw in reader.forwards():
                try:
                    line = ResultLine.parse(raw)
                except ValueError as exc:
                    raise ResultsFileError(f"{self.path}:{number}: {exc}") from None
                if self.variant is None or line.extra.get(F_VARIANT) == self.variant:
                    yield line
        except OSError as exc:
            raise ResultsFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def census(self) -> Census:
        """List tasks named anywhere in the file (in first-seen order), delivered recipients by channel,
        and how many records were never delivered."""
        tasks: dict[str, None] = {}
        delivered = dict.fromkeys(RecallChannel, 0)
        seen, taken = RecordBitmap(), RecordBitmap()
        for line in self._lines():
            seen.add(line.record)
            if is_list_task(line.taskid):
                tasks[str(line.taskid)] = None
            if line.status in DELIVERED_STATUSES and not taken.add(line.record):
                delivered[RECALL_CHANNEL_OF[line.status]] += 1
        return Census(list(tasks), delivered, len(seen) - len(taken))

    def delivered(self) -> Iterator[Delivered]:
        """Every delivered recipient, in file order (a record has at most one delivered line)."""
        for line in self._lines():
            if line.status not in DELIVERED_STATUSES or line.target is None:
                continue
            kind: Kind = "alias" if line.kind == "alias" else "cid"
            channel = RECALL_CHANNEL_OF[line.status]
            yield Delivered(line.line, line.record, kind, str(line.target), line.taskid, channel)
