"""A workbook's zip, read within fixed bounds whatever its entries claim: the defence against xlsx bombs.

An ``.xlsx`` is a zip of XML parts, and deflate inflates about 1000:1, so a 2 MB file can hold 2 GB of
blanks or one gigabyte-long string, which openpyxl would hold whole. Every part is opened through
:class:`BoundedZip`, which refuses (:class:`~getui_async.errors.InputError`, naming the file and the limit)

* a part whose inflated size passes its cap, before inflating anything (zipfile never inflates more than
  the declared size: a part that lies about it fails its CRC check instead);
* a shared-strings table of more than :data:`MAX_SHARED_STRINGS` entries (``<si`` or ``:si`` openings);
* a run of more than :data:`MAX_TEXT_RUN_BYTES` without a ``<``: one cell's text, or a run of blanks
  between two tags, which the XML parser would otherwise gather into one string.

Worksheets are streamed row by row, so their cap is large; the shared-strings table is held in memory
for the whole read (openpyxl parses about 25,000 entries a second), so :meth:`BoundedZip.hold` scans it
first at inflate speed, and the other parts are read whole: their caps are small. The caps keep a bomb
under 200 MB; a workbook past them (a 500,000-row sheet of distinct ids is within) reads as CSV.
"""

from __future__ import annotations

import zipfile
from typing import IO, Final, cast

from getui_async.errors import InputError

__all__ = [
    "MAX_PART_BYTES",
    "MAX_SHARED_STRINGS",
    "MAX_SHEET_BYTES",
    "MAX_STRINGS_BYTES",
    "MAX_TEXT_RUN_BYTES",
    "BoundedZip",
]

_MIB: Final = 1 << 20
#: A worksheet's XML, inflated (streamed: this bounds time, not memory).
MAX_SHEET_BYTES: Final = 1024 * _MIB
#: The shared-strings table, inflated (held whole while the sheet is read).
MAX_STRINGS_BYTES: Final = 32 * _MIB
#: Entries in the shared-strings table (about 150 bytes of memory each while held).
MAX_SHARED_STRINGS: Final = 750_000
#: Any other part (manifest, workbook, relationships, styles, theme), read whole.
MAX_PART_BYTES: Final = 16 * _MIB
#: Bytes of XML without a tag: bounds one cell's text, and any run of blanks.
MAX_TEXT_RUN_BYTES: Final = 1 * _MIB
#: Bytes handed to the parser per read, well under the run limit, so a run is checked at chunk edges.
_CHUNK: Final = 64 << 10


def _mib(limit: int) -> str:
    return f"{limit / _MIB:g} MiB"


class _BoundedPart:
    """One part's inflated bytes, counted as the parser reads them; file-like enough for openpyxl."""

    def __init__(self, raw: IO[bytes], *, book: str, part: str, cap: int, entries: bool = False) -> None:
        self._raw = raw
        self._entries = 0 if entries else None  # shared strings seen so far, when they are counted
        self._carry = b""  # the last bytes of the previous read: an opening split between two reads
        self._book = book
        self._part = part
        self._cap = cap
        self._total = 0
        self._run = 0  # bytes since the last '<'

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            pieces = []
            while piece := self.read(_CHUNK):  # bounded by the cap: each pass adds to the count
                pieces.append(piece)
            return b"".join(pieces)
        data = self._raw.read(min(size, _CHUNK))
        self._check(data)
        return data

    def _check(self, data: bytes) -> None:
        self._total += len(data)
        if self._total > self._cap:
            raise InputError(self._book, f"{self._part} inflates past {_mib(self._cap)}, the limit for it")
        if self._entries is not None:
            joined = self._carry + data
            self._entries += joined.count(b"<si") + joined.count(b":si")
            self._carry = joined[-2:]
            if self._entries > MAX_SHARED_STRINGS:
                raise InputError(
                    self._book, f"{self._part} holds over {MAX_SHARED_STRINGS:,} strings, the limit for it"
                )
        first = data.find(b"<")
        if first < 0:
            self._run += len(data)
        elif self._run + first <= MAX_TEXT_RUN_BYTES:  # the run that this '<' ends is within bounds
            self._run = len(data) - data.rfind(b"<") - 1
        else:
            self._run += first
        if self._run > MAX_TEXT_RUN_BYTES:
            raise InputError(
                self._book,
                f"{self._part} holds a text (one cell, or blanks) longer than {_mib(MAX_TEXT_RUN_BYTES)},"
                " the limit for one cell",
            )

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _BoundedPart:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BoundedZip(zipfile.ZipFile):
    """A read-only zip whose parts inflate within their caps; ``held`` names the shared-strings parts."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "r")
        self.book = path
        self.held: frozenset[str] = frozenset()

    def hold(self, part: str) -> None:
        """Name ``part`` the shared-strings table and check it whole, before openpyxl parses any of it."""
        self.held = self.held | {part}
        with self._bounded(part, None, MAX_STRINGS_BYTES, entries=True) as stream:
            while stream.read(_CHUNK):  # bounded by the cap: each pass adds to the count
                pass

    def read(self, name: str | zipfile.ZipInfo, pwd: bytes | None = None) -> bytes:
        """A whole part (openpyxl reads the small ones so), within :data:`MAX_PART_BYTES`."""
        with self._bounded(name, pwd, MAX_PART_BYTES) as part:
            return part.read()

    def open(
        self,
        name: str | zipfile.ZipInfo,
        mode: str = "r",
        pwd: bytes | None = None,
        *,
        force_zip64: bool = False,
    ) -> IO[bytes]:
        """A streamed part: the shared strings within their cap, anything else as a worksheet."""
        if mode != "r":
            raise ValueError("BoundedZip is read-only")
        part = name.filename if isinstance(name, zipfile.ZipInfo) else name
        cap = MAX_STRINGS_BYTES if part in self.held else MAX_SHEET_BYTES
        return cast("IO[bytes]", self._bounded(name, pwd, cap, entries=part in self.held))

    def _bounded(
        self, name: str | zipfile.ZipInfo, pwd: bytes | None, cap: int, *, entries: bool = False
    ) -> _BoundedPart:
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if info.file_size > cap:
            raise InputError(
                self.book,
                f"{info.filename} would inflate to {info.file_size} bytes,"
                f" past {_mib(cap)}, the limit for it",
            )
        raw = super().open(info, "r", pwd)
        return _BoundedPart(raw, book=self.book, part=info.filename, cap=cap, entries=entries)
