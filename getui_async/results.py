"""The results file: one complete JSON line per input record, and the state a resume needs.

:class:`ResultsWriter` is the only writer of the file. It appends whole lines (buffered, written with
``os.write`` in one call per flush), flushes often and fsyncs at checkpoints and on close. A kill can
still cut the last write short at a page boundary; so on resume the file is first truncated back to
its last complete line: what remains is always whole lines.

Next to ``RESULTS`` a sidecar ``RESULTS.meta.json`` records the campaign id, the message template's
fingerprint and the input's fingerprint; a resume against another input or message is refused.

:func:`load_resume_state` reads a results file in one pass into a low-water mark plus the set of record
numbers done above it. Records complete out of order only within the in-flight window, so that set
stays small whatever the file size.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from . import _json
from ._version import __version__
from .errors import ResultsFileError

__all__ = [
    "FINAL_STATUSES",
    "ResultsWriter",
    "ResumeState",
    "RunMeta",
    "load_resume_state",
    "meta_path",
]

#: Every status a result line can carry (the CLI contract).
FINAL_STATUSES: Final = frozenset(
    {
        "successed_online",
        "successed_offline",
        "successed_ignore",
        "accepted",
        "failed",
        "rejected",
        "duplicate",
        "validated",
    }
)
_FILE_MODE: Final = 0o600
_READ_CHUNK: Final = 1 << 20


def meta_path(results: Path) -> Path:
    """The sidecar that identifies the run a results file belongs to."""
    return results.with_name(results.name + ".meta.json")


@dataclass(frozen=True)
class RunMeta:
    """What a results file was written for: campaign, message and input."""

    campaign_id: str
    template_fingerprint: str
    input: Mapping[str, Any]
    tool_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "getui-async",
            "tool_version": self.tool_version,
            "campaign_id": self.campaign_id,
            "template_fingerprint": self.template_fingerprint,
            "input": dict(self.input),
        }

    def mismatch(self, other: Mapping[str, Any]) -> str | None:
        """Why a stored meta (``other``) belongs to a different run, or None if it is this run."""
        if other.get("campaign_id") != self.campaign_id:
            return f"it belongs to campaign {other.get('campaign_id')!r}, not {self.campaign_id!r}"
        if other.get("template_fingerprint") != self.template_fingerprint:
            return "it was written for a different message"
        theirs = other.get("input")
        theirs = theirs if isinstance(theirs, Mapping) else {}
        for key in ("format", "size", "head_sha256"):
            if theirs.get(key) != self.input.get(key) and self.input.get(key) is not None:
                return f"it was written for a different input ({key} differs)"
        return None


class ResumeState:
    """Which records (numbered from 1 in input order) already have a result line.

    Below :attr:`low_water` every record is done. Done records above it are bits in a bytearray, so
    memory is one bit per record of the window: a stopped run can leave old holes (records it held
    back and never sent) far behind its last line, and a set of ints would then cost ~60 bytes a record.
    """

    __slots__ = ("_base", "_bits", "_pending", "counts", "lines", "low_water", "max_above")

    #: Bytes of bits below the low-water mark kept before they are dropped.
    _COMPACT_BYTES: Final = 1 << 16

    def __init__(self) -> None:
        self.low_water = 1
        self.counts: Counter[str] = Counter()
        self.lines = 0
        #: The most done records ever waiting above the low-water mark (the completion window).
        self.max_above = 0
        self._base = 1  # the record number of bit 0
        self._bits = bytearray()
        self._pending = 0  # done records >= low_water

    def add(self, record: int) -> None:
        """Mark ``record`` done."""
        if record < self.low_water:
            return
        index = record - self._base
        byte, mask = index >> 3, 1 << (index & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 64))
        if bits[byte] & mask:
            return
        bits[byte] |= mask
        self._pending += 1
        if record == self.low_water:
            self._advance()
        self.max_above = max(self.max_above, self._pending)

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

    @property
    def above(self) -> set[int]:
        """The done records above the low-water mark (for diagnostics and tests)."""
        start = self.low_water - self._base
        return {
            self._base + i for i in range(start, len(self._bits) * 8) if self._bits[i >> 3] & (1 << (i & 7))
        }


def load_resume_state(path: Path) -> ResumeState:
    """Read ``path`` (if any) into a :class:`ResumeState`; a torn last line is ignored.

    A malformed line anywhere else means the file was not written by us: refuse rather than guess.
    """
    state = ResumeState()
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return state
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break  # torn tail of a killed run; the writer truncates it on open
            try:
                obj = _json.loads(raw)
                record = obj["record"]
                status = obj["status"]
            except (_json.JSONDecodeError, KeyError, TypeError):
                raise ResultsFileError(
                    f"{path}:{number}: not a getui-push result line; refusing to resume from this file"
                ) from None
            if not isinstance(record, int) or record < 1 or status not in FINAL_STATUSES:
                raise ResultsFileError(f"{path}:{number}: unexpected record number or status")
            state.add(record)
            state.counts[status] += 1
            state.lines += 1
    return state


class ResultsWriter:
    """Appends result lines to ``path``; the file and its sidecar are created readable by the owner only.

    Use :meth:`open`; then :meth:`write` per record, :meth:`flush` at checkpoints, :meth:`close` at the end.
    """

    def __init__(self, path: Path, fd: int, *, flush_lines: int) -> None:
        self.path = path
        self._fd = fd
        self._buffer: list[bytes] = []
        self._flush_lines = flush_lines
        self.lines_written = 0

    @classmethod
    def open(cls, path: Path, meta: RunMeta, *, resume: bool, flush_lines: int = 1024) -> ResultsWriter:
        """Open for appending, after checking the file may be used for this run."""
        sidecar = meta_path(path)
        has_lines = path.exists() and path.stat().st_size > 0
        if has_lines and not resume:
            raise ResultsFileError(
                f"{path} already holds results; pass --resume to continue that run, or choose another --out"
            )
        if has_lines:
            try:
                stored = _json.loads(sidecar.read_bytes())
            except (OSError, _json.JSONDecodeError):
                raise ResultsFileError(
                    f"cannot resume: {sidecar} is missing or unreadable, so {path} cannot be matched "
                    "to this input and message"
                ) from None
            why = meta.mismatch(stored if isinstance(stored, Mapping) else {})
            if why:
                raise ResultsFileError(f"cannot resume into {path}: {why}")
        else:
            _write_atomically(sidecar, _json.dumps(meta.to_dict()))
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), _FILE_MODE
            )
        except OSError as exc:
            raise ResultsFileError(f"cannot write results to {path}: {exc.strerror}") from None
        _truncate_torn_tail(fd, path)
        return cls(path, fd, flush_lines=flush_lines)

    def write(self, result: Mapping[str, Any]) -> None:
        """Queue one result line; it reaches the file at the next flush (at most ``flush_lines`` away)."""
        self._buffer.append(_json.dumps_line(result))
        if len(self._buffer) >= self._flush_lines:
            self.flush()

    def flush(self, *, fsync: bool = False) -> None:
        """Write buffered lines in one ``os.write`` (looping on short writes); fsync when asked."""
        if self._buffer:
            data = memoryview(b"".join(self._buffer))
            count = len(self._buffer)
            self._buffer.clear()
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            self.lines_written += count
        if fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        """Flush, fsync and close. Idempotent."""
        if self._fd < 0:
            return
        try:
            self.flush(fsync=True)
        finally:
            os.close(self._fd)
            self._fd = -1


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _truncate_torn_tail(fd: int, path: Path) -> None:
    """Cut a partial last line (left by a kill mid-write) so the file holds whole lines only."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        end = size
        while end > 0:
            start = max(0, end - _READ_CHUNK)
            handle.seek(start)
            chunk = handle.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
    if keep != size:
        os.ftruncate(fd, keep)
