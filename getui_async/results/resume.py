"""The state a resume needs: which records already have a final line, and which of those
``--retry-failed`` sends again, read and validated from a results file in one forward pass.

Records complete out of order only within the in-flight window, so the state is a low-water mark plus
a small bitmap above it: memory stays constant whatever the file size.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

from getui_async.errors import ResultsFileError
from getui_async.outcome import FINAL_STATUSES, Status

from .reader import ResultsReader
from .record import F_LINE, F_RECORD, F_STATUS, F_SUPERSEDES, decode_line, is_retryable, is_unconfirmed

__all__ = ["UNBOUNDED_RECORDS", "ResumeState", "load_resume_state"]

#: Record numbers a results file may name for an input of unknown size (stdin), at most.
UNBOUNDED_RECORDS: Final = 1 << 32


class ResumeState:
    """Which records (numbered from 1 in input order) already have a result line, and which of those
    ``--retry-failed`` sends again.

    Below :attr:`low_water` every record is done. Done records above it are bits in a bytearray, so
    memory is one bit per record of the window: a stopped run can leave old holes (records it held
    back and never sent) far behind its last line, and a set of ints would then cost ~60 bytes a record.
    Records whose *last* line is retryable are a second bitmap over every record (125 KB a million).
    :attr:`counts` counts the last line of each record (the campaign's outcomes so far).
    """

    __slots__ = (
        "_base",
        "_bits",
        "_pending",
        "_retry",
        "counts",
        "lines",
        "low_water",
        "max_above",
        "repaired",
        "retry_failed",
        "retryable",
        "superseded",
        "top",
        "unconfirmed",
    )

    #: Bytes of bits below the low-water mark kept before they are dropped.
    _COMPACT_BYTES: Final = 1 << 16

    def __init__(self) -> None:
        self.low_water = 1
        #: The highest record with a line (0: none); no record above it is done.
        self.top = 0
        self.counts: Counter[str] = Counter()
        self.lines = 0
        #: The most done records ever waiting above the low-water mark (the completion window).
        self.max_above = 0
        #: Bytes of a torn last line (a killed write) that the writer will cut; 0 if none.
        self.repaired = 0
        self._base = 1  # the record number of bit 0
        self._bits = bytearray()
        self._pending = 0  # done records >= low_water
        self._retry = bytearray()  # bit r: record r's last line is retryable
        #: Records whose last line is retryable (what --retry-failed sends again).
        self.retryable = 0
        #: Lines an earlier line of the same record was superseded by (compaction removes those).
        self.superseded = 0
        #: Set for ``--retry-failed``: :meth:`skip` then lets retryable records through.
        self.retry_failed = False
        #: Records whose last line is unconfirmed: a later line may supersede them (``--retry-unconfirmed``).
        self.unconfirmed: set[int] = set()

    def add(self, record: int) -> bool:
        """Mark ``record`` done; False if it already was."""
        if record < self.low_water:
            return False
        index = record - self._base
        byte, mask = index >> 3, 1 << (index & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 64))
        if bits[byte] & mask:
            return False
        bits[byte] |= mask
        self._pending += 1
        self.top = max(self.top, record)
        if record == self.low_water:
            self._advance()
        self.max_above = max(self.max_above, self._pending)
        return True

    def _advance(self) -> None:
        low, base, bits = self.low_water, self._base, self._bits
        while True:
            index = low - base
            byte = index >> 3
            if byte >= len(bits) or not bits[byte] & (1 << (index & 7)):
                break
            low += 1
            self._pending -= 1
        self.low_water = low
        drop = (low - base) >> 3
        if drop >= self._COMPACT_BYTES:
            del bits[:drop]
            self._base = base + drop * 8

    def done(self, record: int) -> bool:
        """True when ``record`` already has its line."""
        if record < self.low_water:
            return True
        index = record - self._base
        byte = index >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (index & 7)))

    def is_retry(self, record: int) -> bool:
        """True when ``record``'s last line is retryable."""
        byte = record >> 3
        return byte < len(self._retry) and bool(self._retry[byte] & (1 << (record & 7)))

    def set_retry(self, record: int, retryable: bool) -> None:
        """Note whether ``record``'s last line (so far) is retryable."""
        byte, mask = record >> 3, 1 << (record & 7)
        bits = self._retry
        if retryable:
            if byte >= len(bits):
                bits.extend(bytes(max(byte - len(bits) + 1, len(bits))))  # doubling: few copies
            if not bits[byte] & mask:
                bits[byte] |= mask
                self.retryable += 1
        elif byte < len(bits) and bits[byte] & mask:
            bits[byte] &= ~mask
            self.retryable -= 1

    def skip(self, record: int) -> bool:
        """True when this run leaves ``record`` alone: it has a line, and is not one to send again."""
        return self.done(record) and not (self.retry_failed and self.is_retry(record))

    def supersedes(self, record: int) -> str | None:
        """The earlier status a new line for ``record`` replaces (``--retry-failed``), or None."""
        return Status.FAILED.value if self.retry_failed and self.is_retry(record) else None

    @property
    def above(self) -> set[int]:
        """The done records above the low-water mark (for diagnostics and tests)."""
        start = self.low_water - self._base
        return {
            self._base + i for i in range(start, len(self._bits) * 8) if self._bits[i >> 3] & (1 << (i & 7))
        }


def _plausible(value: Any, limit: int) -> bool:
    """A record or line number: an int (never a bool) from 1 to ``limit``."""
    return type(value) is int and 1 <= value <= limit


def load_resume_state(
    path: Path,
    *,
    max_record: int = UNBOUNDED_RECORDS,
    retry_failed: bool = False,
    retry_unconfirmed: bool = False,
) -> ResumeState:
    """Read and validate ``path`` (if any) into a :class:`ResumeState`; the last line per record wins.

    Every complete line must be a result line of ours whose ``record`` and ``line`` are integers from 1
    to ``max_record`` (what the input can hold), with a known status, and no record may appear twice
    unless the later line says it supersedes the earlier, whose last line was then retryable (what
    ``--retry-failed`` sends again; with ``retry_unconfirmed`` an unconfirmed list line too; a line that
    superseded an unconfirmed one is always accepted). Anything else raises :class:`ResultsFileError`
    naming the file and line. A torn final line (a killed write) is the one thing repaired: it is counted
    in :attr:`ResumeState.repaired` and cut by the writer.
    """
    state = ResumeState()
    state.retry_failed = retry_failed
    reader = ResultsReader(path)
    line_limit = max_record if max_record == UNBOUNDED_RECORDS else max_record + 1
    failed = Status.FAILED.value
    try:
        for number, raw in reader.forwards():

            def refuse(why: str, number: int = number) -> ResultsFileError:
                return ResultsFileError(f"{path}:{number}: {why}; refusing to resume from this file")

            obj = decode_line(raw)
            if obj is None:
                raise refuse("not a getui-push result line (not a JSON object)")
            record, line, status = obj.get(F_RECORD), obj.get(F_LINE), obj.get(F_STATUS)
            if not _plausible(record, max_record):
                raise refuse(
                    f"'{F_RECORD}' is {record!r}, not a record number of this input (1..{max_record})"
                )
            if not _plausible(line, line_limit):
                raise refuse(f"'{F_LINE}' is {line!r}, not a line number of this input")
            if line < record:  # type: ignore[operator]
                # Each record takes at least one input line: a record number above its line was edited.
                raise refuse(f"'{F_RECORD}' {record} cannot be on input line {line}")
            if status not in FINAL_STATUSES:
                raise refuse(f"unknown status {status!r}")
            assert type(record) is int
            if not state.add(record):
                if not obj.get(F_SUPERSEDES):
                    raise refuse(f"a second line for record {record} (a duplicated or edited line)")
                if not state.is_retry(record) and record not in state.unconfirmed:
                    raise refuse(
                        f"a second line for record {record} supersedes an outcome that was final "
                        "(only a retryable failure is sent again)"
                    )
                # The last line wins: the record's earlier (retryable, failed) outcome is replaced.
                state.counts[failed] -= 1
                state.superseded += 1
            state.counts[status] += 1
            state.lines += 1
            state.set_retry(record, status == failed and is_retryable(obj, unconfirmed=retry_unconfirmed))
            if is_unconfirmed(obj):
                state.unconfirmed.add(record)
            else:
                state.unconfirmed.discard(record)
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise ResultsFileError(f"cannot read {path}: {exc.strerror}") from None
    state.repaired = reader.torn
    return state
