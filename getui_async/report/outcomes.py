"""Read a results file into the final outcome of each record, in one backward pass and near-constant memory.

The last line for a record wins (a ``--retry-failed`` run appends a line that supersedes the earlier one).
Reading the file from its end, the first line met for a record *is* its last line; a bitmap of records
already met (one bit per record: 125 KB per million) tells every earlier line for it is superseded. So
nothing per record is held but that bit and, for ``--retryable``, a second bit. The tables by reason
(failed code+message, rejected field+reason) keep at most :data:`MAX_REASONS` keys each; the timeline
coarsens its buckets (second, minute, hour, day) to stay under :data:`MAX_BUCKETS`.
"""

from __future__ import annotations

import calendar
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from getui_async import _json
from getui_async.errors import ResultsFileError
from getui_async.outcome import Status
from getui_async.results.reader import RecordBitmap, ResultsReader
from getui_async.results.record import (
    F_ATTEMPTS,
    F_CID,
    F_CODE,
    F_FIELD,
    F_HTTP_STATUS,
    F_MSG,
    F_RECORD,
    F_STATUS,
    F_SUPERSEDES,
    F_TASKID,
    F_TS,
    F_VARIANT,
)
from getui_async.results.sidecar import K_CAMPAIGN_ID, K_GROUP_NAME, K_REQUESTS, K_RETRIES, K_RUNS
from getui_async.results.sidecar import read_meta_strict as read_meta

from .groups import GROUP_ORDER, Group, classify

__all__ = [
    "MAX_BUCKETS",
    "MAX_REASONS",
    "OTHER_REASONS",
    "Bitmap",
    "Outcomes",
    "Timeline",
    "count_reason",
    "read_outcomes",
]

MAX_REASONS: Final = 200
MAX_BUCKETS: Final = 20_000
#: List taskids kept for --fetch (a campaign has a handful: one list message per run).
MAX_LIST_TASKS: Final = 100_000
OTHER_REASONS: Final = "(other reasons: too many distinct messages to list)"
#: ts prefix lengths of one bucket: 100 ms, second, minute, hour, day (``YYYY-MM-DDTHH:MM:SS.mmmZ``).
_TS_KEYS: Final = (21, 19, 16, 13, 10)
_TS_PAD: Final = {21: "", 19: "", 16: ":00", 13: ":00:00", 10: "T00:00:00"}
_BUCKET_S: Final = {21: 0.1, 19: 1.0, 16: 60.0, 13: 3600.0, 10: 86400.0}
#: Bins of the charted timeline, at most, and the widths (seconds) it may choose from.
MAX_BINS: Final = 240
_ROUND_S: Final = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_AFTER_ALL: Final = "\uffff"  # sorts after any timestamp
_GAVE_UP: Final = re.compile(r" \(gave up after \d+ attempts?\)$")
_GROUPS: Final = {g: i for i, g in enumerate(GROUP_ORDER)}


#: The report's name for the package's record bitmap (``--retryable`` keeps one).
Bitmap = RecordBitmap


class Timeline:
    """Result lines per bucket of time by group, from ``ts``; the bucket widens when there are too many."""

    def __init__(self) -> None:
        self.key_len = _TS_KEYS[0]
        self.buckets: dict[str, list[int]] = {}

    def add(self, ts: str, group: int) -> None:
        self._row(ts)[group] += 1

    def merge(self, other: Timeline) -> None:
        """Add ``other``'s lines (another shard's), in buckets as wide as the wider of the two."""
        while self.key_len > other.key_len:
            self._coarsen()
        for key, row in other.buckets.items():
            into = self._row(key)
            for group, n in enumerate(row):
                into[group] += n

    def _row(self, ts: str) -> list[int]:
        """The row of ``ts``'s bucket, made (and the buckets widened when too many) if new."""
        key = ts[: self.key_len]
        row = self.buckets.get(key)
        if row is None:
            if len(self.buckets) >= MAX_BUCKETS and self.key_len != _TS_KEYS[-1]:
                self._coarsen()
                key = ts[: self.key_len]
                row = self.buckets.get(key)
            if row is None:
                row = self.buckets[key] = [0] * len(GROUP_ORDER)
        return row

    def _coarsen(self) -> None:
        self.key_len = _TS_KEYS[_TS_KEYS.index(self.key_len) + 1]
        merged: dict[str, list[int]] = {}
        for key, row in self.buckets.items():
            into = merged.setdefault(key[: self.key_len], [0] * len(row))
            for i, n in enumerate(row):
                into[i] += n
        self.buckets = merged

    @property
    def bucket_s(self) -> float:
        """Seconds per bucket."""
        return _BUCKET_S[self.key_len]

    def series(self) -> list[tuple[float, dict[str, int]]]:
        """(epoch seconds of the bucket start, {group: lines}) in time order, groups with lines only."""
        out = []
        pad = _TS_PAD[self.key_len]
        for key in sorted(self.buckets):
            try:
                whole = calendar.timegm(time.strptime((key + pad)[:19], "%Y-%m-%dT%H:%M:%S"))
                start = whole + (int(key[20]) / 10 if self.key_len == 21 else 0.0)
            except (ValueError, IndexError):
                continue  # not an ISO timestamp: left out of the timeline, still counted elsewhere
            row = self.buckets[key]
            out.append((start, {GROUP_ORDER[i].value: n for i, n in enumerate(row) if n}))
        return out

    def binned(self, max_bins: int = MAX_BINS) -> tuple[float, list[tuple[float, dict[str, int]]]]:
        """(bin width in seconds, series) with at most ``max_bins`` bins of a round width."""
        series = self.series()
        if not series:
            return self.bucket_s, []
        span = series[-1][0] - series[0][0] + self.bucket_s
        width = next(
            (w for w in _ROUND_S if w >= self.bucket_s and span / w <= max_bins),
            max(self.bucket_s, span / max_bins),
        )
        origin = series[0][0] - series[0][0] % width
        bins: dict[int, dict[str, int]] = {}
        for start, row in series:
            into = bins.setdefault(int((start - origin) / width + 1e-9), {})
            for name, n in row.items():
                into[name] = into.get(name, 0) + n
        return width, [(origin + i * width, bins[i]) for i in sorted(bins)]


@dataclass
class Outcomes:
    """Everything the report says, from one results file and its sidecar."""

    path: Path
    meta: dict[str, Any]
    lines: int = 0
    records: int = 0
    superseded: int = 0
    supersedes_lines: int = 0
    torn_tail: bool = False
    by_status: Counter[str] = field(default_factory=Counter)
    by_group: Counter[str] = field(default_factory=Counter)
    failed_by_reason: Counter[tuple[int | None, str]] = field(default_factory=Counter)
    retryable_by_reason: Counter[tuple[int | None, str]] = field(default_factory=Counter)
    rejected_by_field: Counter[tuple[str, str]] = field(default_factory=Counter)
    already_taken: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    attempts: int = 0
    retried_records: int = 0
    single_push_records: int = 0
    list_taskids: set[str] = field(default_factory=set)
    list_push_records: int = 0
    runs_in_lines: set[Any] = field(default_factory=set)
    timeline: Timeline = field(default_factory=Timeline)
    retryable_records: Bitmap = field(default_factory=Bitmap)
    seen_bytes: int = 0
    #: An experiment's records: group counts (in :data:`GROUP_ORDER`) per variant and the holdout.
    by_variant: dict[str, list[int]] = field(default_factory=dict)

    @property
    def campaign_id(self) -> str | None:
        value = self.meta.get(K_CAMPAIGN_ID)
        return value if isinstance(value, str) else None

    @property
    def group_name(self) -> str | None:
        """The campaign's Getui ``group_name``: recorded in the sidecar, else the campaign id."""
        value = self.meta.get(K_GROUP_NAME)
        return value if isinstance(value, str) and value else self.campaign_id

    @property
    def runs(self) -> int | None:
        """Runs (the first and each resume): from the sidecar, else distinct ``run`` fields, else unknown."""
        value = self.meta.get(K_RUNS)
        if isinstance(value, list):
            return len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return len(self.runs_in_lines) or None

    @property
    def requests(self) -> int | None:
        """Requests sent, when the sidecar recorded them (lines of a batch share their request)."""
        for key in (K_REQUESTS, "requests_sent"):
            value = self.meta.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    @property
    def retries(self) -> int | None:
        """Requests sent again after a transient failure, over every run, when the sidecar recorded them."""
        value = self.meta.get(K_RETRIES)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_outcomes(path: Path, *, dead_cids: BinaryIO | None = None) -> Outcomes:
    """Read ``path`` (and its sidecar) into :class:`Outcomes`; write dead cids to ``dead_cids`` if given.

    Raises :class:`ResultsFileError` naming the file and line for anything that is not a result line.
    """
    out = Outcomes(path=path, meta=read_meta(path))
    reader = ResultsReader(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        _scan(reader, handle, out, dead_cids)
    out.torn_tail = bool(reader.torn)
    return out


#: Statuses whose group needs no look at code or message, as group indices (the fast path).
_PLAIN: Final = {
    status.value: _GROUPS[classify({F_STATUS: status.value})]
    for status in Status
    if status is not Status.FAILED
}
_I_REACHED, _I_INACTIVE = _GROUPS[Group.REACHED], _GROUPS[Group.INACTIVE]
_I_DEAD, _I_RETRYABLE = _GROUPS[Group.DEAD], _GROUPS[Group.RETRYABLE]
_I_FAILED, _I_REJECTED = _GROUPS[Group.FAILED], _GROUPS[Group.REJECTED]
_I_ACCEPTED, _I_OTHER = _GROUPS[Group.ACCEPTED], _GROUPS[Group.OTHER]


def _scan(reader: ResultsReader, handle: BinaryIO, out: Outcomes, dead_cids: BinaryIO | None) -> None:
    """The hot loop (once per line): locals and group indices, for speed."""
    seen = RecordBitmap()
    met = seen.add
    # The schema's names as locals: a global lookup per field per line shows in this loop.
    f_record, f_status, f_ts, f_supersedes = F_RECORD, F_STATUS, F_TS, F_SUPERSEDES
    f_attempts, f_taskid, f_cid, f_msg, f_variant = F_ATTEMPTS, F_TASKID, F_CID, F_MSG, F_VARIANT
    loads, decode_error = _json.loads, _json.JSONDecodeError
    plain = _PLAIN
    status_counts: dict[str, int] = {}
    group_counts = [0] * len(GROUP_ORDER)
    timeline = out.timeline
    retry_add = out.retryable_records.add
    lines = records = attempts_total = retried = superseded = supersedes = 0
    first_ts, last_ts = _AFTER_ALL, ""
    buckets, key_len = timeline.buckets, timeline.key_len
    for first, parts in reader.blocks_backwards(handle):
        for index in range(len(parts) - 1, -1, -1):
            raw = parts[index]
            try:
                line = loads(raw)
                record = line[f_record]
                status = line[f_status]
            except (decode_error, KeyError, TypeError):
                if not raw.strip():
                    continue  # a blank line
                at = _offset(first, parts, index)
                raise _bad(out.path, handle, at, "not a getui-push result line") from None
            if type(record) is not int or record < 1 or type(status) is not str:
                at = _offset(first, parts, index)
                raise _bad(out.path, handle, at, "unexpected record number or status")
            lines += 1
            group = plain.get(status)
            if group is None:
                group = _GROUPS[classify(line)]
            ts = line.get(f_ts)
            if type(ts) is str:
                row = buckets.get(ts[:key_len])
                if row is None:
                    timeline.add(ts, group)  # a new bucket: may coarsen, which replaces the dict
                    buckets, key_len = timeline.buckets, timeline.key_len
                else:
                    row[group] += 1
                if ts < first_ts:  # noqa: PLR1730 - a comparison is cheaper than min() in this loop
                    first_ts = ts
                if ts > last_ts:  # noqa: PLR1730 - a comparison is cheaper than max() in this loop
                    last_ts = ts
            if f_supersedes in line:
                supersedes += 1
            if "run" in line:
                _add_run(line["run"], out)
            if met(record):  # reading backwards, a record met before has a later line
                superseded += 1
                continue
            records += 1
            status_counts[status] = status_counts.get(status, 0) + 1
            group_counts[group] += 1
            variant = line.get(f_variant)
            if variant is not None:
                count_variant(out.by_variant, variant, group)
            attempts = line.get(f_attempts)
            if type(attempts) is int:
                attempts_total += attempts
                if attempts > 1:
                    retried += 1
            taskid = line.get(f_taskid)
            if taskid:
                if type(taskid) is str and taskid.startswith("RASL"):
                    out.list_push_records += 1
                    if len(out.list_taskids) < MAX_LIST_TASKS:
                        out.list_taskids.add(taskid)
                else:
                    out.single_push_records += 1
            if group in (_I_REACHED, _I_INACTIVE):
                continue
            if group == _I_DEAD:
                cid = line.get(f_cid)
                if dead_cids is not None and type(cid) is str:
                    dead_cids.write(cid.encode() + b"\n")
            elif group == _I_RETRYABLE:
                retry_add(record)
                count_reason(out.retryable_by_reason, _reason_key(line))
            elif group == _I_FAILED:
                count_reason(out.failed_by_reason, _reason_key(line))
            elif group == _I_REJECTED:
                count_reason(out.rejected_by_field, _field_key(line))
            elif group == _I_ACCEPTED and "already taken" in str(line.get(f_msg, "")):
                out.already_taken += 1
    out.lines, out.records, out.superseded = lines, records, superseded
    out.supersedes_lines = supersedes
    out.attempts, out.retried_records = attempts_total, retried
    out.first_ts, out.last_ts = (first_ts, last_ts) if last_ts else (None, None)
    out.by_status.update(status_counts)
    out.by_group.update({GROUP_ORDER[i].value: n for i, n in enumerate(group_counts) if n})
    out.seen_bytes = seen.nbytes


def _add_run(run: Any, out: Outcomes) -> None:
    """A line's run label, if the engine writes one: distinct labels count the runs."""
    if isinstance(run, (int, str)) and len(out.runs_in_lines) < MAX_REASONS:
        out.runs_in_lines.add(run)


def count_variant(table: dict[str, list[int]], variant: Any, group: int, n: int = 1) -> None:
    """``n`` records of ``variant`` in ``group`` (a handful of variants: a sane bound is enough)."""
    name = str(variant)
    row = table.get(name)
    if row is None:
        if len(table) >= MAX_REASONS:
            return
        row = table[name] = [0] * len(GROUP_ORDER)
    row[group] += n


def count_reason(table: Counter[Any], key: Any, n: int = 1) -> None:
    """Add ``n`` to ``key``'s row; past :data:`MAX_REASONS` rows, to its "other reasons" row."""
    if key in table or len(table) < MAX_REASONS:
        table[key] += n
    else:
        table[(key[0], OTHER_REASONS)] += n


def _reason_key(line: Mapping[str, Any]) -> tuple[int | None, str]:
    code = line.get(F_CODE)
    msg = line.get(F_MSG)
    text = _GAVE_UP.sub("", msg) if isinstance(msg, str) else ""
    http = line.get(F_HTTP_STATUS)
    if isinstance(http, int) and f"HTTP {http}" not in text:
        text = f"{text} (HTTP {http})" if text else f"HTTP {http}"
    return (code if type(code) is int else None), text[:200]


def _field_key(line: Mapping[str, Any]) -> tuple[str, str]:
    name = line.get(F_FIELD)
    msg = line.get(F_MSG)
    text = msg if isinstance(msg, str) else ""
    if isinstance(name, str):
        prefix = f"field '{name}': "
        text = text.removeprefix(prefix)
    return (name if isinstance(name, str) else "(record)"), text[:200]


def _offset(first: int, parts: list[bytes], index: int) -> int:
    """The file offset of ``parts[index]`` in a block whose first line starts at ``first``."""
    return first + sum(len(p) + 1 for p in parts[:index])


def _bad(path: Path, handle: BinaryIO, offset: int, why: str) -> ResultsFileError:
    number = ResultsReader.line_number_at(handle, offset)
    return ResultsFileError(f"{path}:{number}: {why}; is this a getui-push results file?")
