"""Text inputs: CSV/TSV or JSONL (optionally gzip, or stdin, in UTF-8, GB18030 or UTF-16).

Memory stays constant whatever the input size: lines are read one at a time with a length cap, and a
malformed record is reported at its own line without swallowing its neighbours. Whole-file problems
(unreadable, empty, a header without an id column, a corrupt gzip stream) raise
:class:`~getui_async.errors.InputError`; everything about one record becomes a :class:`BadRecord` and
reading goes on with the next record, so every input record ends up as exactly one item.

Layers, bottom up::

    file / stdin ──> Prefixed (2 sniffed bytes put back) ──> [gzip] ──> Content (running sha256, line
    count, read errors → InputError) ──> [transcode to UTF-8] ──> BufferedReader ──> numbered, capped
    physical lines ──> csv / orjson

Nothing reads ahead of what the records need: auto-detection looks at a plain file's first MiB with
``pread`` (leaving the stream alone), reads a gzip file's first decompressed MiB ahead, and on a pipe
uses only what the first read returned, so records still flow as they arrive.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import select
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, TypeAlias

from getui_async import _json
from getui_async.errors import InputError
from getui_async.outcome import Kind
from getui_async.safetext import has_lone_surrogate

from ._records import BadRecord, SourceItem, record_from_mapping, try_identify
from ._records import type_name as _json_type
from .base import RecordSource, RunningDigest
from .content import Content, Prefixed, Reader
from .encodings import DETECT_BYTES, Transcoded, detect, label
from .header import Layout, blank
from .options import DEFAULT_OPTIONS, Format, SourceOptions
from .plain_lines import PlainLines

if TYPE_CHECKING:
    pass

__all__ = ["MAX_LINE_BYTES", "MAX_RECORD_BYTES", "MAX_RECORD_LINES", "TextSource"]

#: A JSONL line longer than this becomes a BadRecord and is skipped without being held.
MAX_LINE_BYTES: Final = 1 << 20
#: A CSV record (all its physical lines) longer than this is reported at its start line.
MAX_RECORD_BYTES: Final = 64 << 10
#: A CSV record whose quoted field is still open after this many physical lines is reported.
MAX_RECORD_LINES: Final = 100

_READ_SIZE: Final = 64 << 10
_BOM: Final = b"\xef\xbb\xbf"
_GZIP_MAGIC: Final = b"\x1f\x8b"
#: Candidates for ``delimiter="auto"``, in the order that breaks a tie.
_DELIMITERS: Final = (",", ";", "\t", "|")


class _Overrun(Exception):
    """Raised from the CSV line feed to cut off a record that ran past its line or byte budget."""


@dataclass(frozen=True, slots=True)
class _DecodeProblem:
    """Where a physical line first breaks its encoding (columns count bytes of the UTF-8 text)."""

    line: int
    byte: int
    column: int
    encoding: str

    @classmethod
    def of(cls, line: int, raw: bytes, error: UnicodeDecodeError, encoding: str) -> _DecodeProblem:
        return cls(line, raw[error.start], error.start + 1, encoding)

    def reason(self, record_line: int) -> str:
        where = (
            f"column {self.column}" if self.line == record_line else f"line {self.line}, column {self.column}"
        )
        return f"invalid {self.encoding} (byte 0x{self.byte:02x} at {where})"


# ---------------------------------------------------------------------------------------------------
# CSV

_Line: TypeAlias = tuple[int, str | None, _DecodeProblem | None, int]
"""(number, text or None when over the cap, decoding problem or None, size in bytes)."""


class _CsvFeed:
    """Physical lines for ``csv.reader``, keeping the current record's lines so it can be re-read.

    A class (not a generator) so raising :class:`_Overrun` from ``__next__`` leaves it usable.
    """

    def __init__(self, lines: Iterator[tuple[int, bytes | None]], encoding: str) -> None:
        self._lines = lines
        self._encoding = encoding
        self._pending: deque[_Line] = deque()
        self.record: list[_Line] = []
        self.size = 0
        self.bad: _DecodeProblem | None = None
        self.last = 0

    def __iter__(self) -> _CsvFeed:
        return self

    def begin(self) -> None:
        """Start a new record."""
        self.record.clear()
        self.size = 0
        self.bad = None

    @property
    def start(self) -> int:
        """The physical line where the current record starts."""
        return self.record[0][0] if self.record else self.last + 1

    def rewind(self) -> None:
        """Give back every line of the failed record after its first: parsing resumes at start + 1."""
        self._pending.extendleft(reversed(self.record[1:]))

    @property
    def holds_lines(self) -> bool:
        """Whether lines read ahead (the header sniffed for its delimiter) wait to be parsed."""
        return bool(self._pending)

    def first_text(self) -> str | None:
        """The first line with something in it, read ahead and kept for the parser (None: none)."""
        seen: list[_Line] = []
        try:
            while True:  # bounded by the input: every pass consumes a line
                seen.append(self._pending.popleft() if self._pending else self._read())
                text = seen[-1][1]
                if text is None or text.strip():
                    return text
        except StopIteration:
            return None
        finally:
            self._pending.extendleft(reversed(seen))

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _Overrun(f"malformed CSV: a quoted field is still open after {MAX_RECORD_LINES} lines")
        item = self._pending.popleft() if self._pending else self._read()
        self.record.append(item)
        _, text, bad, size = item
        self.size += size
        if text is None or self.size > MAX_RECORD_BYTES:
            raise _Overrun(f"malformed CSV: the record is longer than {MAX_RECORD_BYTES // 1024} KiB")
        if bad is not None and self.bad is None:
            self.bad = bad
        return text

    def _read(self) -> _Line:
        number, raw = next(self._lines)  # StopIteration ends the csv reader
        self.last = number
        if raw is None:
            return number, None, None, MAX_RECORD_BYTES + 1
        try:
            return number, raw.decode(), None, len(raw)
        except UnicodeDecodeError as exc:
            problem = _DecodeProblem.of(number, raw, exc, self._encoding)
            return number, raw.decode("utf-8", "surrogateescape"), problem, len(raw)


def sniff_delimiter(header: str) -> str | None:
    """The most frequent of ``, ; tab |`` outside quotes in a header line (ties: that order), or None."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=counts.__getitem__)
    return best if counts[best] else None


def _csv_reason(error: csv.Error) -> str:
    text = str(error)
    if text == "unexpected end of data":
        text += " (a quoted field is never closed)"
    return f"malformed CSV: {text}"


# ---------------------------------------------------------------------------------------------------
# JSONL


def _jsonl_item(line: int, raw: bytes, encoding: str) -> SourceItem:
    try:
        obj = _json.loads(raw)
    except _json.JSONDecodeError as exc:
        return _jsonl_unreadable(line, raw, exc, encoding)
    if type(obj) is not dict:
        return BadRecord(line, None, f"expected a JSON object, got {_json_type(obj)}")
    return record_from_mapping(line, obj)


def _jsonl_unreadable(line: int, raw: bytes, exc: _json.JSONDecodeError, encoding: str) -> BadRecord:
    """A line orjson refused: undecodable bytes (still naming a clean identifier) or bad syntax."""
    try:
        raw.decode()
    except UnicodeDecodeError as utf8:
        try:
            obj = _json.loads(raw.decode("utf-8", "replace"))
        except _json.JSONDecodeError:
            obj = None
        identity: tuple[Kind | None, str | None] = (None, None)
        if type(obj) is dict:
            identity = try_identify(obj.get("cid") or "", obj.get("alias") or "")
            if identity[1] is not None and "\ufffd" in identity[1]:
                identity = (None, None)
        problem = _DecodeProblem.of(line, raw, utf8, encoding)
        return BadRecord(line, None, problem.reason(line), *identity)
    return BadRecord(line, None, f"invalid JSON: {exc.msg} (column {exc.colno})")


# ---------------------------------------------------------------------------------------------------
# The source


class TextSource(RecordSource):
    """A CSV, TSV or JSONL input from a file or a pipe."""

    def __init__(
        self,
        *,
        name: str,
        format: Format,
        stream: Reader,
        size: int | None,
        options: SourceOptions = DEFAULT_OPTIONS,
        gzip_name: bool = False,
        owned: BinaryIO | None = None,
        streaming: bool = False,
    ) -> None:
        self._stream = stream
        self._options = self.options = options
        self._gzip_name = gzip_name
        self._owned = owned
        self._streaming = self._pipe = streaming
        self._content: Content | None = None
        self._buffered: io.BufferedReader | None = None
        self._gzip: gzip.GzipFile | None = None
        self._encoding: str | None = None
        self._raw: Content | Transcoded | None = None
        self._consumed = 0  # bytes taken from the BufferedReader: served - consumed = what it holds
        self._delimiter = ","  # the CSV delimiter, once the header was read
        self._lines_read = 0  # physical lines taken, by either CSV path (the next one's number is one more)
        self._csv: tuple[_CsvFeed, Iterator[list[str]], Layout] | None = None
        self._running = RunningDigest()  # fed by the content layer; made now, so marks can come first
        super().__init__(name=name, format=format, size=size)

    @property
    def encoding(self) -> str:
        self._open_content()
        assert self._encoding is not None
        return self._encoding

    @property
    def columns(self) -> tuple[str, ...] | None:
        if self.format in ("csv", "tsv"):
            return self._csv_header()[2].columns
        return None

    def _digest(self) -> RunningDigest:
        return self._running

    @property
    def complete(self) -> bool:
        return self._content is not None and self._content.eof

    def _would_block(self) -> bool:
        """On a dry pipe: True unless a whole line is buffered somewhere above it, or the pipe has data."""
        content = self._content
        if not self._streaming or content is None or not content.dry or content.holds_ahead:
            return False
        if self._raw is None or self._raw.pending:
            return False
        if self._csv is not None and self._csv[0].holds_lines:
            return False
        buffered = self._raw.served - self._consumed
        if buffered > 0 and self._buffered is not None and b"\n" in self._buffered.peek(1)[:buffered]:
            return False
        try:
            ready, _, _ = select.select([self._stream.fileno()], [], [], 0)  # type: ignore[attr-defined]
        except (AttributeError, OSError, ValueError, TypeError):
            return False  # not a pollable stream: read on
        return not ready

    def _release(self) -> None:
        for closer in (self._buffered, self._gzip, self._owned):
            if closer is not None:
                closer.close()

    def _generate(self) -> Generator[SourceItem, None, None]:
        return self._csv_items() if self.format in ("csv", "tsv") else self._jsonl_items()

    # -- reading -------------------------------------------------------------------------------------

    def _open_content(self) -> Content:
        """Build the byte layers on first use: sniff for gzip, decompress, pick the encoding."""
        if self._content is None:
            if self._closed:
                raise ValueError(f"{self.name}: the source is closed")
            try:
                head = self._stream.read(2)
            except OSError as exc:
                raise InputError(self.name, f"read error: {exc}", line=1) from exc
            prefixed = Prefixed(self._stream, head)
            inner: Reader = prefixed
            gzipped = self._gzip_name or head == _GZIP_MAGIC
            if gzipped:
                self._gzip = inner = gzip.GzipFile(fileobj=prefixed, mode="rb")
            content = Content(
                inner, name=self.name, gzipped=gzipped, streaming=self._streaming, digest=self._running
            )
            self._content = content
            encoding: str = self._options.encoding
            if encoding == "auto":
                encoding = self._detect(content, gzipped)
            self._encoding = encoding
            self._raw = content if encoding == "utf-8" else Transcoded(content.read, encoding)
            self._buffered = io.BufferedReader(self._raw, buffer_size=_READ_SIZE)
        return self._content

    def _detect(self, content: Content, gzipped: bool) -> str:
        """Auto-detect the encoding from the start: read in place for a plain file, else read ahead."""
        if self._owned is not None and not gzipped and self._size is not None:
            try:  # pread leaves the stream where it is, so nothing is held for the readers
                start = os.pread(self._owned.fileno(), DETECT_BYTES, 0)
            except OSError as exc:
                raise InputError(self.name, f"read error: {exc}", line=1) from exc
            return detect(start, complete=len(start) < DETECT_BYTES, name=self.name)
        start = content.prefetch(DETECT_BYTES)
        return detect(start, complete=content.eof, name=self.name)

    def _physical_lines(self, limit: int) -> Iterator[tuple[int, bytes | None]]:
        """(number, bytes) per physical line, or (number, None) for a line over ``limit`` (skipped)."""
        self._open_content()
        assert self._buffered is not None
        readline = self._buffered.readline
        counted = self._streaming  # only a pipe needs to know what the buffer holds (_would_block)
        while True:  # bounded by the input: every pass consumes a line or ends
            raw = readline(limit + 1)
            if not raw:
                return
            number = self._lines_read = self._lines_read + 1
            if counted:
                self._consumed += len(raw)
            if len(raw) > limit and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest, holding one buffer at a time
                    raw = readline(_READ_SIZE)
                    self._consumed += len(raw)
                yield number, None
            elif number == 1 and raw.startswith(_BOM):
                yield number, raw[len(_BOM) :]
            else:
                yield number, raw

    def _csv_header(self) -> tuple[_CsvFeed, Iterator[list[str]], Layout]:
        """Read up to and including the header row (once): the feed, the parser and the layout."""
        if self._csv is not None:
            return self._csv
        self._open_content()
        feed = _CsvFeed(self._physical_lines(MAX_RECORD_BYTES), label(self.encoding))
        delimiter = self._options.delimiter_char
        if delimiter is None:
            first = feed.first_text()
            fallback = "\t" if self.format == "tsv" else ","
            delimiter = (sniff_delimiter(first) if first is not None else None) or fallback
        reader = csv.reader(feed, strict=True, delimiter=delimiter)
        self._delimiter = delimiter
        while True:  # bounded by the input: every pass consumes at least one line
            feed.begin()
            try:
                row = next(reader)
            except StopIteration:
                raise InputError(self.name, "empty file: no header row", line=1) from None
            except (csv.Error, _Overrun) as exc:
                reason = str(exc) if isinstance(exc, _Overrun) else _csv_reason(exc)
                raise InputError(self.name, f"header row: {reason}", line=feed.start) from exc
            if not row or blank(row):
                continue
            if feed.bad is not None:
                raise InputError(self.name, f"header row: {feed.bad.reason(feed.start)}", line=feed.start)
            layout = Layout.from_header(row, name=self.name, line=feed.start, options=self._options)
            self._csv = (feed, reader, layout)
            return self._csv

    def _csv_items(self) -> Generator[SourceItem, None, None]:
        feed, reader, layout = self._csv_header()
        width = len(layout.names)
        build = layout.build
        # A file's quote-free stretches skip csv.reader (see PlainLines); a pipe reads line by line.
        plain = None
        if not self._streaming and self._buffered is not None:
            plain = PlainLines(self._buffered, limit=MAX_RECORD_BYTES)
        careful_until = 0  # the physical line up to which records go through csv.reader
        while True:  # bounded by the input: every pass consumes at least the record's first line
            if plain is not None and self._lines_read >= careful_until and not feed.holds_lines:
                taken = plain.take()
                if isinstance(taken, int):  # at the end (0), csv.reader says so
                    careful_until = self._lines_read + max(taken, 1)
                else:
                    number = self._lines_read
                    self._lines_read = feed.last = number + len(taken)
                    delimiter = self._delimiter
                    for text in taken:
                        number += 1
                        if text:  # csv.reader gives nothing for an empty line
                            item = build(number, text.split(delimiter))
                            if item is not None:
                                yield item
                    continue
            feed.begin()
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, _Overrun) as exc:
                reason = str(exc) if isinstance(exc, _Overrun) else _csv_reason(exc)
                yield BadRecord(feed.start, None, reason)
                feed.rewind()
                continue
            if not row:
                continue
            if len(feed.record) > 1 and not layout.fits(len(row)):
                # A multi-line record of the wrong width is almost always an unbalanced quote that a
                # later line closed: report it and read the lines it swallowed again on their own.
                end = feed.record[-1][0]
                yield BadRecord(
                    feed.start,
                    None,
                    f"expected {width} columns, found {len(row)} in a record spanning"
                    f" lines {feed.start}-{end} (unbalanced quote?)",
                )
                feed.rewind()
                continue
            if feed.bad is not None and layout.fits(len(row)):
                position = next((i for i, v in enumerate(row) if has_lone_surrogate(v)), None)
                field = layout.field_at(position) if position is not None else None
                yield BadRecord(feed.start, field, feed.bad.reason(feed.start), *layout.identity(row))
                continue
            item = build(feed.start, row)
            if item is not None:
                yield item

    def _jsonl_items(self) -> Generator[SourceItem, None, None]:
        anything = False
        self._open_content()
        encoding = label(self.encoding)
        for number, raw in self._physical_lines(MAX_LINE_BYTES):
            if raw is None:
                anything = True
                yield BadRecord(number, None, f"line is longer than {MAX_LINE_BYTES} bytes (1 MiB); skipped")
            elif not raw.isspace():
                anything = True
                yield _jsonl_item(number, raw, encoding)
        if not anything:
            raise InputError(self.name, "empty file: no JSON lines", line=1)
