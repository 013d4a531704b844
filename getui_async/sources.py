"""Streaming recipient readers: CSV or JSONL (optionally gzip, or stdin) in, Record / BadRecord out.

Memory stays constant whatever the input size: lines are read one at a time with a length cap, and a
malformed record is reported at its own line without swallowing its neighbours. Whole-file problems
(missing, unreadable, empty, a header without ``cid``/``alias``, a corrupt gzip stream, an unknown format)
raise :class:`~getui_async.errors.InputError`; everything about one record becomes a :class:`BadRecord` and
reading goes on with the next record, so every input record ends up as exactly one item.

Layers, bottom up::

    file / stdin ──> _Prefixed (2 sniffed bytes put back) ──> [gzip] ──> _Content (head hash, line count,
    read errors → InputError) ──> BufferedReader ──> numbered, capped physical lines ──> csv / orjson

Not thread-safe: one thread at a time may iterate, call :meth:`RecordSource.read_chunk` or
:meth:`RecordSource.fingerprint`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import os
import sys
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, fields
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, Protocol, TypeAlias, cast, get_args

from . import _json
from .errors import InputError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "HEAD_BYTES",
    "MAX_LINE_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_LINES",
    "BadRecord",
    "Format",
    "Kind",
    "Record",
    "RecordSource",
    "SourceItem",
    "open_source",
]

#: A JSONL line longer than this becomes a BadRecord and is skipped without being held.
MAX_LINE_BYTES: Final = 1 << 20
#: A CSV record (all its physical lines) longer than this is reported at its start line.
MAX_RECORD_BYTES: Final = 64 << 10
#: A CSV record whose quoted field is still open after this many physical lines is reported.
MAX_RECORD_LINES: Final = 100
#: The fingerprint hashes this much of the (decompressed) content.
HEAD_BYTES: Final = 1 << 20

CID_MAX_CHARS: Final = 64
ALIAS_MAX_CHARS: Final = 40

Kind: TypeAlias = Literal["cid", "alias"]
Format: TypeAlias = Literal["csv", "jsonl"]

_STDIN_NAME: Final = "<stdin>"
_READ_SIZE: Final = 64 << 10
_BOM: Final = b"\xef\xbb\xbf"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_SUFFIXES: Final[dict[str, Format]] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_OVERRIDE_KEYS: Final = ("title", "body", "payload")
#: Floats at or beyond this lose integer digits (2**53): an id written as a bare number is refused.
_EXACT_FLOAT_LIMIT: Final = float(1 << 53)
_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One recipient, ready for the planner. ``line`` is the physical line where the record starts."""

    line: int
    kind: Kind
    target: str
    variables: dict[str, str]
    overrides: dict[str, str]


# A frozen dataclass's generated __init__ calls object.__setattr__ per field (~0.6 µs for Record); every
# input record makes one, so the readers set the slots through their descriptors instead (~0.3 µs).
_SET_RECORD: Final = tuple(getattr(Record, f.name).__set__ for f in fields(Record))


def _new_record(
    line: int,
    kind: Kind,
    target: str,
    variables: dict[str, str],
    overrides: dict[str, str],
    _new: Callable[[type[Record]], Record] = object.__new__,
    _set: tuple[Callable[[Record, Any], None], ...] = _SET_RECORD,
) -> Record:
    """``Record(line, kind, target, variables, overrides)``, built faster (one per input record)."""
    record = _new(Record)
    set_line, set_kind, set_target, set_variables, set_overrides = _set
    set_line(record, line)
    set_kind(record, kind)
    set_target(record, target)
    set_variables(record, variables)
    set_overrides(record, overrides)
    return record


@dataclass(frozen=True, slots=True)
class BadRecord:
    """One input record that can't be sent; it becomes a ``rejected`` result line, never a request.

    ``field`` names the column/key at fault, or is None when the record could not be split at all.
    ``kind``/``target`` carry the identifier when it could still be read, so the result names it.
    """

    line: int
    field: str | None
    reason: str
    kind: Kind | None = None
    target: str | None = None

    def describe(self, path: str) -> str:
        """A message such as ``recipients.csv:7: field 'cid': missing``."""
        where = f"{path}:{self.line}"
        if self.field is None:
            return f"{where}: {self.reason}"
        return f"{where}: field {self.field!r}: {self.reason}"


SourceItem: TypeAlias = Record | BadRecord


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Bad(Exception):
    """A record-level problem found while building a record; turned into a BadRecord at its line."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason

    def at(self, line: int, identity: tuple[Kind | None, str | None] = (None, None)) -> BadRecord:
        return BadRecord(line, self.field, self.reason, *identity)


class _Overrun(Exception):
    """Raised from the CSV line feed to cut off a record that ran past its line or byte budget."""


# ---------------------------------------------------------------------------------------------------
# Identifiers


def _shown(value: str) -> str:
    """A value quoted for a reason text: ``repr`` escapes control characters and stray surrogates."""
    return repr(value) if len(value) <= 48 else repr(value[:48]) + "..."


def _identify(cid: str, alias: str) -> tuple[Kind, str]:
    """The record's one identifier, validated; raises :class:`_Bad` naming the field otherwise.

    Both limits are lenient versions of Getui's rules, but a comma or a control character never passes:
    list endpoints and paths join identifiers with commas.
    """
    cid = cid.strip()
    alias = alias.strip()
    if cid:
        if alias:
            raise _Bad("alias", "both cid and alias are set; give exactly one")
        if (
            len(cid) <= CID_MAX_CHARS
            and cid.isascii()
            and cid.isprintable()
            and " " not in cid
            and "," not in cid
        ):
            return "cid", cid
        raise _Bad(
            "cid",
            f"invalid cid {_shown(cid)}: needs 1-{CID_MAX_CHARS} printable ASCII characters"
            " without spaces or commas",
        )
    if alias:
        if len(alias) <= ALIAS_MAX_CHARS and alias.isprintable() and "," not in alias:
            return "alias", alias
        raise _Bad(
            "alias",
            f"invalid alias {_shown(alias)}: needs 1-{ALIAS_MAX_CHARS} characters"
            " without commas or control characters",
        )
    raise _Bad("cid", "missing: the record needs a cid or an alias")


def _try_identify(cid: Any, alias: Any) -> tuple[Kind | None, str | None]:
    """The identifier of a record rejected for another reason, or (None, None) if it isn't clean."""
    if not isinstance(cid, str) or not isinstance(alias, str):
        return None, None
    try:
        return _identify(cid, alias)
    except _Bad:
        return None, None


@dataclass(frozen=True, slots=True)
class _Utf8Problem:
    """Where a physical line first breaks UTF-8."""

    line: int
    byte: int
    column: int

    @classmethod
    def of(cls, line: int, raw: bytes, error: UnicodeDecodeError) -> _Utf8Problem:
        return cls(line, raw[error.start], error.start + 1)

    def reason(self, record_line: int) -> str:
        where = (
            f"column {self.column}" if self.line == record_line else f"line {self.line}, column {self.column}"
        )
        return f"invalid UTF-8 (byte 0x{self.byte:02x} at {where})"


# ---------------------------------------------------------------------------------------------------
# Byte layers


class _Prefixed:
    """A stream with the bytes sniffed from its start put back in front (stdin cannot seek)."""

    def __init__(self, inner: _Reader, head: bytes) -> None:
        self._inner = inner
        self._head = head

    def read(self, size: int = -1, /) -> bytes:
        head, self._head = self._head, b""
        if not head:
            return self._inner.read(size)
        if size < 0:
            return head + self._inner.read()
        if size <= len(head):
            self._head = head[size:]
            return head[:size]
        return head + self._inner.read(size - len(head))

    def seek(self, offset: int, /) -> int:
        """Part of gzip's file protocol; reading forward never calls it."""
        raise io.UnsupportedOperation("seek")


class _Content(io.RawIOBase):
    """The decompressed content: hashes its first HEAD_BYTES, counts lines, turns read errors into InputError.

    ``head_sha256`` may read ahead (at most HEAD_BYTES, kept until served), so a fingerprint taken
    before or during iteration sees the same bytes and never disturbs the reader above.
    """

    def __init__(self, inner: _Reader, *, name: str, gzipped: bool) -> None:
        super().__init__()
        # read1 (gzip has it) returns what one underlying read gives, so the lines before a corrupt
        # spot still come out and the line reached is exact; read() would drop them with the error.
        self._read: Callable[[int], bytes] = getattr(inner, "read1", inner.read)
        self._name = name
        self._gzipped = gzipped
        self._sha = hashlib.sha256()
        self._hashed = 0
        self._newlines = 0
        self._eof = False
        self._ahead = b""
        self._ahead_pos = 0
        self._failure: InputError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view:
            if self._ahead_pos < len(self._ahead):
                data = self._ahead[self._ahead_pos : self._ahead_pos + len(view)]
                self._ahead_pos += len(data)
                if self._ahead_pos == len(self._ahead):
                    self._ahead, self._ahead_pos = b"", 0
            else:
                data = self._pull(len(view))
            view[: len(data)] = data
            return len(data)

    def head_sha256(self) -> str:
        """sha256 of the first HEAD_BYTES of content, reading ahead only as far as needed."""
        pending = [self._ahead[self._ahead_pos :]]
        try:
            while self._hashed < HEAD_BYTES and not self._eof:  # each pass reads more or reaches EOF
                pending.append(self._pull(HEAD_BYTES - self._hashed))
        finally:  # on a corrupt stream, the lines before it are still served, then the same error
            self._ahead, self._ahead_pos = b"".join(pending), 0
        return self._sha.hexdigest()

    def _pull(self, size: int) -> bytes:
        if self._failure is not None:  # sticky: a broken stream is never read past its break
            raise self._failure
        try:
            data = self._read(size)
        except (OSError, EOFError, zlib.error) as exc:
            line = self._newlines + 1
            what = "corrupt gzip stream" if self._gzipped else "read error"
            self._failure = InputError(self._name, f"{what}: {exc}", line=line)
            raise self._failure from exc
        if not data:
            self._eof = True
            return data
        if self._hashed < HEAD_BYTES:
            self._sha.update(data[: HEAD_BYTES - self._hashed])
            self._hashed = min(HEAD_BYTES, self._hashed + len(data))
        self._newlines += data.count(b"\n")
        return data


# ---------------------------------------------------------------------------------------------------
# CSV

_Line: TypeAlias = tuple[int, str | None, _Utf8Problem | None, int]
"""(number, text or None when over the cap, UTF-8 problem or None, size in bytes)."""


class _CsvFeed:
    """Physical lines for ``csv.reader``, keeping the current record's lines so it can be re-read.

    A class (not a generator) so raising :class:`_Overrun` from ``__next__`` leaves it usable.
    """

    def __init__(self, lines: Iterator[tuple[int, bytes | None]]) -> None:
        self._lines = lines
        self._pending: deque[_Line] = deque()
        self.record: list[_Line] = []
        self.size = 0
        self.bad_utf8: _Utf8Problem | None = None
        self.last = 0

    def __iter__(self) -> _CsvFeed:
        return self

    def begin(self) -> None:
        """Start a new record."""
        self.record.clear()
        self.size = 0
        self.bad_utf8 = None

    @property
    def start(self) -> int:
        """The physical line where the current record starts."""
        return self.record[0][0] if self.record else self.last + 1

    def rewind(self) -> None:
        """Give back every line of the failed record after its first: parsing resumes at start + 1."""
        self._pending.extendleft(reversed(self.record[1:]))

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _Overrun(f"malformed CSV: a quoted field is still open after {MAX_RECORD_LINES} lines")
        item = self._pending.popleft() if self._pending else self._read()
        self.record.append(item)
        _, text, bad_utf8, size = item
        self.size += size
        if text is None or self.size > MAX_RECORD_BYTES:
            raise _Overrun(f"malformed CSV: the record is longer than {MAX_RECORD_BYTES // 1024} KiB")
        if bad_utf8 is not None and self.bad_utf8 is None:
            self.bad_utf8 = bad_utf8
        return text

    def _read(self) -> _Line:
        number, raw = next(self._lines)  # StopIteration ends the csv reader
        self.last = number
        if raw is None:
            return number, None, None, MAX_RECORD_BYTES + 1
        try:
            return number, raw.decode(), None, len(raw)
        except UnicodeDecodeError as exc:
            problem = _Utf8Problem.of(number, raw, exc)
            return number, raw.decode("utf-8", "surrogateescape"), problem, len(raw)


def _blank(row: list[str]) -> bool:
    """A row with nothing in it (spaces, empty cells): skipped like a blank line, as spreadsheets pad."""
    return all(not value or value.isspace() for value in row)


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class _CsvLayout:
    """The header, validated once; turns rows into items."""

    names: tuple[str, ...]

    @classmethod
    def from_header(
        cls, row: list[str], *, name: str, line: int, bad_utf8: _Utf8Problem | None
    ) -> _CsvLayout:
        def refuse(reason: str) -> InputError:
            return InputError(name, f"header row: {reason}", line=line)

        if bad_utf8 is not None:
            raise refuse(bad_utf8.reason(line))
        names = tuple(column.strip() for column in row)
        for position, column in enumerate(names, 1):
            if not column:
                raise refuse(f"column {position} has an empty name")
            if column in names[: position - 1]:
                raise refuse(f"duplicate column name {column!r}")
        if "cid" not in names and "alias" not in names:
            raise refuse("needs a 'cid' or an 'alias' column (names are case-sensitive)")
        return cls(names)

    def build(self, line: int, row: list[str], bad_utf8: _Utf8Problem | None) -> SourceItem | None:
        """The item for one row, or None for a row with nothing in it (treated like a blank line)."""
        if len(row) != len(self.names):
            if _blank(row):
                return None
            return BadRecord(
                line,
                None,
                f"expected {len(self.names)} columns, found {len(row)}",
                *self._identity(row),
            )
        if bad_utf8 is not None:
            field = next((n for n, v in zip(self.names, row, strict=True) if _has_surrogate(v)), None)
            return BadRecord(line, field, bad_utf8.reason(line), *self._identity(row))
        values = dict(zip(self.names, row))  # noqa: B905 - the widths were compared above
        try:
            kind, target = _identify(values.pop("cid", ""), values.pop("alias", ""))
        except _Bad as bad:
            if _blank(row):
                return None
            return bad.at(line)
        return _new_record(line, kind, target, values, {})

    def _identity(self, row: list[str]) -> tuple[Kind | None, str | None]:
        values = dict(zip(self.names, row, strict=False))  # rows of the wrong width too
        return _try_identify(values.get("cid", ""), values.get("alias", ""))


def _csv_reason(error: csv.Error) -> str:
    text = str(error)
    if text == "unexpected end of data":
        text += " (a quoted field is never closed)"
    return f"malformed CSV: {text}"


# ---------------------------------------------------------------------------------------------------
# JSONL


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _json_text(key: str, value: Any) -> str | None:
    """A JSON value as a template string (None = absent); raises :class:`_Bad` for what can't be one."""
    kind = type(value)
    if kind is str:
        return str(value)  # the same object: str() of an exact str is free
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if abs(value) >= _EXACT_FLOAT_LIMIT:
            raise _Bad(key, f"number {value!r} is too large to keep exactly; write it as a string")
        return repr(value)
    raise _Bad(key, f"expected a string, number or boolean, got {_json_type(value)}")


def _jsonl_item(line: int, raw: bytes) -> SourceItem:
    try:
        obj = _json.loads(raw)
    except _json.JSONDecodeError as exc:
        return _jsonl_unreadable(line, raw, exc)
    if type(obj) is not dict:
        return BadRecord(line, None, f"expected a JSON object, got {_json_type(obj)}")
    values: dict[str, str] = {}
    problem: _Bad | None = None
    for key, value in obj.items():
        try:
            text = _json_text(key, value)
        except _Bad as bad:
            problem = problem or bad
            continue
        if text is not None:
            values[key] = text
    cid, alias = values.pop("cid", ""), values.pop("alias", "")
    if problem is not None:
        clean = problem.field not in ("cid", "alias")
        return problem.at(line, _try_identify(cid, alias) if clean else (None, None))
    try:
        kind, target = _identify(cid, alias)
    except _Bad as bad:
        return bad.at(line)
    overrides: dict[str, str] = {key: values[key] for key in _OVERRIDE_KEYS if key in values}
    return _new_record(line, kind, target, values, overrides)


def _jsonl_unreadable(line: int, raw: bytes, exc: _json.JSONDecodeError) -> BadRecord:
    """A line orjson refused: invalid UTF-8 (still naming the identifier if it is clean) or bad syntax."""
    try:
        raw.decode()
    except UnicodeDecodeError as utf8:
        try:
            obj = _json.loads(raw.decode("utf-8", "replace"))
        except _json.JSONDecodeError:
            obj = None
        identity: tuple[Kind | None, str | None] = (None, None)
        if type(obj) is dict:
            identity = _try_identify(obj.get("cid") or "", obj.get("alias") or "")
            if identity[1] is not None and "\ufffd" in identity[1]:
                identity = (None, None)
        return BadRecord(line, None, _Utf8Problem.of(line, raw, utf8).reason(line), *identity)
    return BadRecord(line, None, f"invalid JSON: {exc.msg} (column {exc.colno})")


# ---------------------------------------------------------------------------------------------------
# The source


class RecordSource:
    """One recipients input, read as a stream of :data:`SourceItem`; a context manager that closes it.

    ``__iter__`` and :meth:`read_chunk` share one position, so they can be mixed. Nothing is read
    until the first item or fingerprint is asked for.
    """

    def __init__(
        self,
        *,
        name: str,
        format: Format,
        stream: _Reader,
        size: int | None,
        gzip_name: bool = False,
        owned: BinaryIO | None = None,
    ) -> None:
        self.name = name
        self.format: Format = format
        self._stream = stream
        self._size = size
        self._gzip_name = gzip_name
        self._owned = owned
        self._content: _Content | None = None
        self._buffered: io.BufferedReader | None = None
        self._gzip: gzip.GzipFile | None = None
        self._closed = False
        self._fingerprint: dict[str, Any] | None = None
        self._items = self._csv_items() if format == "csv" else self._jsonl_items()

    def __repr__(self) -> str:
        return f"<RecordSource {self.name!r} format={self.format}>"

    def __enter__(self) -> RecordSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[SourceItem]:
        return self._items

    def read_chunk(self, max_items: int) -> list[SourceItem]:
        """Up to ``max_items`` next items; ``[]`` at the end. Meant for ``asyncio.to_thread``."""
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        return list(itertools.islice(self._items, max_items))

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this input for resume checks, without reading it all or moving the reader."""
        if self._fingerprint is None:
            if self._closed:
                raise ValueError(f"{self.name}: the source is closed")
            basename = self.name if self.name == _STDIN_NAME else os.path.basename(self.name)
            self._fingerprint = {
                "name": basename,
                "format": self.format,
                "size": self._size,
                "head_sha256": self._open_content().head_sha256(),
            }
        return dict(self._fingerprint)

    def close(self) -> None:
        """Release the file (never a caller's stdin). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._items.close()
        for closer in (self._buffered, self._gzip, self._owned):
            if closer is not None:
                closer.close()

    # -- reading -------------------------------------------------------------------------------------

    def _open_content(self) -> _Content:
        """Build the byte layers on first use: sniff for gzip, then decompress if needed."""
        if self._content is None:
            try:
                head = self._stream.read(2)
            except OSError as exc:
                raise InputError(self.name, f"read error: {exc}", line=1) from exc
            prefixed = _Prefixed(self._stream, head)
            inner: _Reader = prefixed
            gzipped = self._gzip_name or head == _GZIP_MAGIC
            if gzipped:
                self._gzip = inner = gzip.GzipFile(fileobj=prefixed, mode="rb")
            self._content = _Content(inner, name=self.name, gzipped=gzipped)
            self._buffered = io.BufferedReader(self._content, buffer_size=_READ_SIZE)
        return self._content

    def _physical_lines(self, limit: int) -> Iterator[tuple[int, bytes | None]]:
        """(number, bytes) per physical line, or (number, None) for a line over ``limit`` (skipped)."""
        self._open_content()
        assert self._buffered is not None
        readline = self._buffered.readline
        for number in itertools.count(1):  # bounded by the input: every pass consumes a line or ends
            raw = readline(limit + 1)
            if not raw:
                return
            if len(raw) > limit and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest, holding one buffer at a time
                    raw = readline(_READ_SIZE)
                yield number, None
            elif number == 1 and raw.startswith(_BOM):
                yield number, raw[len(_BOM) :]
            else:
                yield number, raw

    def _csv_items(self) -> Generator[SourceItem, None, None]:
        feed = _CsvFeed(self._physical_lines(MAX_RECORD_BYTES))
        reader = csv.reader(feed, strict=True)
        layout: _CsvLayout | None = None
        while True:  # bounded by the input: every pass consumes at least the record's first line
            feed.begin()
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, _Overrun) as exc:
                reason = str(exc) if isinstance(exc, _Overrun) else _csv_reason(exc)
                if layout is None:
                    raise InputError(self.name, f"header row: {reason}", line=feed.start) from exc
                yield BadRecord(feed.start, None, reason)
                feed.rewind()
                continue
            if not row:
                continue
            if layout is None:
                if _blank(row):
                    continue
                layout = _CsvLayout.from_header(row, name=self.name, line=feed.start, bad_utf8=feed.bad_utf8)
                continue
            if len(feed.record) > 1 and len(row) != len(layout.names):
                # A multi-line record of the wrong width is almost always an unbalanced quote that a
                # later line closed: report it and read the lines it swallowed again on their own.
                end = feed.record[-1][0]
                yield BadRecord(
                    feed.start,
                    None,
                    f"expected {len(layout.names)} columns, found {len(row)} in a record spanning"
                    f" lines {feed.start}-{end} (unbalanced quote?)",
                )
                feed.rewind()
                continue
            item = layout.build(feed.start, row, feed.bad_utf8)
            if item is not None:
                yield item
        if layout is None:
            raise InputError(self.name, "empty file: no header row", line=1)

    def _jsonl_items(self) -> Generator[SourceItem, None, None]:
        anything = False
        for number, raw in self._physical_lines(MAX_LINE_BYTES):
            if raw is None:
                anything = True
                yield BadRecord(number, None, f"line is longer than {MAX_LINE_BYTES} bytes (1 MiB); skipped")
            elif not raw.isspace():
                anything = True
                yield _jsonl_item(number, raw)
        if not anything:
            raise InputError(self.name, "empty file: no JSON lines", line=1)


# ---------------------------------------------------------------------------------------------------
# Opening


def _checked_format(format: str, name: str) -> Format:
    if format not in get_args(Format):
        raise InputError(name, f"unknown format {format!r}: use csv or jsonl")
    return cast(Format, format)


def _format_from_name(name: str) -> tuple[Format | None, bool]:
    """(format, gzipped) from the file name: .csv, .jsonl, .ndjson, each optionally + .gz."""
    lower = os.path.basename(name).lower()
    gzipped = lower.endswith(".gz")
    stem = lower[: -len(".gz")] if gzipped else lower
    return _SUFFIXES.get(os.path.splitext(stem)[1]), gzipped


def open_source(
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    stdin: BinaryIO | None = None,
) -> RecordSource:
    """Open a recipients input for streaming. ``"-"`` reads ``stdin`` (default ``sys.stdin.buffer``).

    The format comes from the name (``.csv``, ``.jsonl``, ``.ndjson``, each optionally ``.gz``); a given
    ``format`` overrides it, and is required for stdin. Gzip is also recognised by its magic bytes.
    Raises :class:`InputError` for a missing, unreadable or unrecognised input.
    """
    text = os.fspath(path)
    if text == "-":
        if format is None:
            raise InputError(_STDIN_NAME, "reading standard input needs a format: csv or jsonl")
        fmt = _checked_format(format, _STDIN_NAME)
        stream = stdin if stdin is not None else sys.stdin.buffer
        return RecordSource(name=_STDIN_NAME, format=fmt, stream=stream, size=None)
    named, gzip_name = _format_from_name(text)
    if format is not None:
        named = _checked_format(format, text)
    if named is None:
        raise InputError(
            text, "unknown format: name it .csv, .jsonl or .ndjson (optionally .gz) or give a format"
        )
    try:
        handle = open(text, "rb")  # noqa: SIM115 -- RecordSource.close() closes it
    except FileNotFoundError as exc:
        raise InputError(text, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(text, "is a directory, not a file") from exc
    except PermissionError as exc:
        raise InputError(text, "permission denied") from exc
    except OSError as exc:
        raise InputError(text, f"cannot open: {exc.strerror or exc}") from exc
    size = os.fstat(handle.fileno()).st_size
    return RecordSource(name=text, format=named, stream=handle, size=size, gzip_name=gzip_name, owned=handle)
