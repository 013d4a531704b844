"""The one reader of a results file: forwards or backwards, whole lines only, with a cheap prefilter.

The torn-tail rule lives here and nowhere else: bytes after the file's last newline are a line a kill
cut short; readers leave them out (and say how many there were), the writer cuts them on resume
(:func:`cut_torn_tail`). Every other module asks this one for lines: resume, report, the ledger's
repair, ``--exclude``'s dead cids, the progress counts and the demo's check.

A prefilter (``having=``) is a bytes test on the raw line before any JSON decoding: the ledger wants
only delivered lines and ``--exclude`` only failed ones, a few percent of a large file.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final, cast

from getui_async.errors import ResultsFileError
from getui_async.outcome import Status

from .record import decode_line

__all__ = [
    "MAX_LINE_BYTES",
    "READ_CHUNK",
    "OverlongLine",
    "RecordBitmap",
    "ResultsReader",
    "cut_torn_tail",
    "lines_backwards",
    "status_needles",
]

READ_CHUNK: Final = 1 << 20
#: The longest line a results file may hold (a line carries its record: 64 KiB of fields at most). A
#: longer one is not a results file: reading it whole could take any amount of memory.
MAX_LINE_BYTES: Final = 1 << 20


class OverlongLine(ResultsFileError):
    """A line of ``path`` runs past :data:`MAX_LINE_BYTES`: raised as soon as the bound is passed."""

    def __init__(self, path: Path, number: int) -> None:
        super().__init__(f"{path}: line {number} is longer than {MAX_LINE_BYTES >> 20} MiB")
        self.path = path
        self.number = number


class RecordBitmap:
    """A growable set of positive ints (record or line numbers), one bit each: 125 KB per million."""

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, n: int) -> bool:
        """Set ``n``; return True if it was already set."""
        byte, mask = n >> 3, 1 << (n & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(max(byte - len(bits) + 1, len(bits))))  # doubling: few copies
        old = bits[byte] & mask
        bits[byte] |= mask
        return bool(old)

    def update(self, other: RecordBitmap) -> None:
        """Set every number ``other`` holds (the union of two shards' records)."""
        theirs = other._bits
        if len(theirs) > len(self._bits):
            self._bits.extend(bytes(len(theirs) - len(self._bits)))
        bits = self._bits
        for i, b in enumerate(theirs):
            if b:
                bits[i] |= b

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        byte = n >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (n & 7)))

    def __len__(self) -> int:
        return sum(b.bit_count() for b in self._bits)

    @property
    def nbytes(self) -> int:
        return len(self._bits)


def status_needles(statuses: Iterable[Status]) -> tuple[bytes, ...]:
    """Prefilter needles for lines with one of ``statuses``: the quoted value (a line may hold the same
    text in its ``msg`` too, so a caller still checks the decoded status)."""
    return tuple(f'"{status.value}"'.encode() for status in statuses)


class ResultsReader:
    """Reads one results file (optionally gzipped, forwards only); :attr:`torn` is set once read."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        #: Bytes of a torn last line left out by the last pass (0: none, or not read to the end).
        self.torn = 0

    def _open(self) -> IO[bytes]:
        """Raises ``OSError`` (``FileNotFoundError`` when missing): each caller says it its own way."""
        if self.path.name.lower().endswith(".gz"):
            return cast(IO[bytes], gzip.open(self.path, "rb"))  # owns its file: closing it closes both
        return self.path.open("rb")

    def forwards(self, *, having: tuple[bytes, ...] = ()) -> Iterator[tuple[int, bytes]]:
        """(line number from 1, raw line with its newline) of each whole line in file order.

        With ``having``, only lines holding one of those byte strings are yielded (numbers still count
        every line). Reading a gzipped file may raise ``EOFError`` or ``zlib.error`` besides ``OSError``.
        """
        self.torn = 0
        with self._open() as handle:
            readline, limit = handle.readline, MAX_LINE_BYTES + 1
            lines = enumerate(iter(lambda: readline(limit), b""), start=1)
            if not having:
                for number, raw in lines:
                    if raw[-1:] != b"\n":
                        if len(raw) == limit:
                            raise OverlongLine(self.path, number)
                        self.torn = len(raw)
                        return
                    yield number, raw
                return
            one = having[0] if len(having) == 1 else None
            for number, raw in lines:
                if len(raw) == limit and raw[-1:] != b"\n":
                    raise OverlongLine(self.path, number)
                if one is not None:
                    if one not in raw:
                        continue
                elif not any(needle in raw for needle in having):
                    continue
                if raw[-1:] != b"\n":
                    self.torn = len(raw)
                    return
                yield number, raw

    def decoded(self, *, having: tuple[bytes, ...] = ()) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(line number, the line as a JSON object or None when it is not one) of each whole line."""
        for number, raw in self.forwards(having=having):
            yield number, decode_line(raw)

    def blocks_backwards(self, handle: IO[bytes]) -> Iterator[tuple[int, list[bytes]]]:
        """(offset of the first line, whole lines in file order) per block, from the end to the start.

        ``handle`` is this file opened for reading (the caller keeps it to name a bad line's number).
        """
        pos = os.fstat(handle.fileno()).st_size
        carry = b""  # the start of a line whose end was read with the block after this one
        last_block = True
        self.torn = 0
        while pos > 0:
            start = max(0, pos - READ_CHUNK)
            handle.seek(start)
            data = handle.read(pos - start) + carry
            parts = data.split(b"\n")
            if last_block:
                torn = parts.pop()  # after the file's last newline: nothing, or a line cut short by a kill
                self.torn += len(torn)
                if not parts:  # no newline in this block: the torn line is longer still
                    pos = start
                    continue
                last_block = False
            if start > 0:
                carry = parts[0]
                yield start + len(carry) + 1, parts[1:]
            else:
                carry = b""
                yield 0, parts
            pos = start

    def count_lines(self) -> int:
        """Whole lines in the file (one per finished record, before any superseding); 0 when missing."""
        lines = 0
        try:
            with self.path.open("rb") as handle:
                while chunk := handle.read(READ_CHUNK):
                    lines += chunk.count(b"\n")
        except FileNotFoundError:
            return 0
        return lines

    @staticmethod
    def line_number_at(handle: IO[bytes], offset: int) -> int:
        """The line number (from 1) of the line starting at ``offset``."""
        handle.seek(0)
        return handle.read(offset).count(b"\n") + 1


def lines_backwards(handle: IO[bytes], size: int) -> Iterator[bytes]:
    """The non-blank lines of ``handle`` (its first ``size`` bytes) from the last to the first."""
    pos, carry = size, b""
    while pos > 0:
        start = max(0, pos - READ_CHUNK)
        handle.seek(start)
        parts = (handle.read(pos - start) + carry).split(b"\n")
        carry = parts.pop(0) if start > 0 else b""
        for raw in reversed(parts):
            if raw.strip():
                yield raw
        pos = start
    if carry.strip():
        yield carry


def cut_torn_tail(fd: int, path: Path) -> int:
    """Cut a partial last line (left by a kill mid-write) of the file open for writing as ``fd``;
    returns the bytes cut."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        end = size
        while end > 0:
            start = max(0, end - READ_CHUNK)
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
    return size - keep
