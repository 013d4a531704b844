"""``.xlsx`` workbooks, streamed with openpyxl's read-only mode (an optional extra: ``getui-async[xlsx]``).

Read-only mode parses the sheet's XML as it goes and each row is dropped once used, so the rows cost no
memory (46 MiB peak RSS at 50,000 and at 500,000 rows: bench/readers.py --xlsx-rss). openpyxl does hold a
workbook's shared-strings table, where Excel keeps each distinct text once: a file saved by Excel with a
text id per row costs some bytes per distinct id. Cells
become the text a person sees: ``12345`` for a whole number (Excel stores every number as a float),
ISO dates, ``true``/``false`` like the JSONL reader, and an empty cell is an empty string.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, Final

from getui_async.errors import InputError

from ._bounded_zip import BoundedZip
from ._records import Bad, BadRecord, SourceItem, iso_text, number_text
from .base import RecordSource, RunningDigest
from .header import Layout, blank
from .options import DEFAULT_OPTIONS, SourceOptions

__all__ = ["XlsxSource", "cell_text"]

INSTALL_HINT: Final = "reading .xlsx needs openpyxl: pip install 'getui-async[xlsx]'"
_HASH_CHUNK: Final = 64 << 10


def cell_text(value: Any, field: str) -> str:
    """One cell as a person reads it; raises :class:`Bad` for a number too large to keep exactly."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(field, value)
    if isinstance(value, (dt.date, dt.time)):
        return iso_text(value)
    return str(value)


def _pruning(iterparse: Callable[..., Iterator[tuple[str, Any]]], row_tag: str) -> Callable[..., Any]:
    """openpyxl's ``iterparse``, but each row element leaves the tree once the parser has used it.

    openpyxl's sheet parser clears every row it read yet leaves the empty element attached to
    ``<sheetData>``, and a sheet without a ``<dimension>`` (openpyxl's own write-only output) is parsed
    whole, unpruned, just to size it when the workbook opens: 40 MiB more at 500,000 rows than at
    50,000. Dropping each row from its parent after use keeps both passes flat.
    """

    def iterparse_pruned(source: Any, *args: Any, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        parents: list[Any] = []
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                parents.append(element)
                continue
            parents.pop()
            yield event, element
            if element.tag == row_tag and parents:
                parents[-1].remove(element)

    return iterparse_pruned


@contextlib.contextmanager
def _pruned_parsing() -> Iterator[None]:
    """Within the block, openpyxl's sheet parser prunes rows (it looks ``iterparse`` up when it starts)."""
    from openpyxl.worksheet import _reader  # noqa: PLC0415 -- the optional extra, already imported

    original = _reader.iterparse
    _reader.iterparse = _pruning(original, _reader.ROW_TAG)
    try:
        yield
    finally:
        _reader.iterparse = original


def _load_bounded(path: str) -> Any:
    """openpyxl's ``load_workbook(path, read_only=True, data_only=True)``, every part read through a
    :class:`BoundedZip` (the shared strings, named by the manifest, under their own cap)."""
    from openpyxl.reader.excel import ExcelReader  # noqa: PLC0415 -- the optional extra
    from openpyxl.xml.constants import SHARED_STRINGS  # noqa: PLC0415 -- the optional extra

    reader = ExcelReader(path, read_only=True, data_only=True)
    reader.archive.close()
    archive = reader.archive = BoundedZip(path)
    try:
        reader.read_manifest()
        strings = reader.package.find(SHARED_STRINGS)
        if strings is not None:
            archive.hold(strings.PartName[1:])
        reader.read()
    except BaseException:
        archive.close()
        raise
    return reader.wb


def _rows(sheet: Any) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows as values; the parse starts (and looks up ``iterparse``) at the first row.

    The sheet's declared ``<dimension>`` is dropped first: openpyxl pads every row to the width it claims
    (``A1:XFD20000``: 16,384 cells a row), so a row is as wide as its last real cell instead.
    """
    sheet.reset_dimensions()
    rows = iter(sheet.iter_rows(values_only=True))
    with _pruned_parsing():
        first = next(rows, None)
    if first is not None:
        yield first
        yield from rows


class XlsxSource(RecordSource):
    """The first worksheet of a workbook, or ``options.sheet``; ``line`` is the spreadsheet row number."""

    def __init__(self, *, name: str, size: int | None, options: SourceOptions = DEFAULT_OPTIONS) -> None:
        try:
            import openpyxl  # noqa: PLC0415 -- an optional extra, imported only for .xlsx inputs
        except ImportError as exc:
            raise InputError(name, INSTALL_HINT) from exc
        self._openpyxl = openpyxl
        self._options = self.options = options
        self._book: Any = None
        self._rows: Iterator[tuple[Any, ...]] | None = None
        self._layout: Layout | None = None
        self._number = 0
        self._declared_rows: int | None = None
        self._sha = RunningDigest()
        self._eof = False
        super().__init__(name=name, format="xlsx", size=size)

    @property
    def columns(self) -> tuple[str, ...]:
        return self._header().columns

    def _digest(self) -> RunningDigest:
        """The workbook file's bytes, all hashed when it is opened (a zip is read out of order anyway)."""
        return self._sha

    @property
    def complete(self) -> bool:
        return self._eof

    def _release(self) -> None:
        if self._book is not None:
            self._book.close()

    def _open(self) -> Iterator[tuple[Any, ...]]:
        if self._rows is None:
            if self._closed:
                raise ValueError(f"{self.name}: the source is closed")
            sha = self._sha
            try:
                with open(self.name, "rb") as handle:
                    while chunk := handle.read(_HASH_CHUNK):
                        sha.update(chunk)
                with _pruned_parsing():  # opening sizes every sheet, parsing it whole if it must
                    book = _load_bounded(self.name)
            except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
                raise InputError(self.name, f"not a readable .xlsx workbook: {exc}") from exc
            self._book = book
            names: list[str] = list(book.sheetnames)
            wanted = self._options.sheet
            if wanted is None:
                if not names:
                    raise InputError(self.name, "the workbook has no worksheet")
                sheet = book[names[0]]
            else:
                match = [n for n in names if n == wanted] or [
                    n for n in names if n.strip().casefold() == wanted.strip().casefold()
                ]
                if not match:
                    found = ", ".join(repr(n) for n in names) or "none"
                    raise InputError(self.name, f"no worksheet named {wanted!r}; sheets found: {found}")
                sheet = book[match[0]]
            self._declared_rows = sheet.max_row  # the sheet's <dimension>, before _rows drops it
            self._rows = _rows(sheet)
        return self._rows

    @property
    def declared_records(self) -> int | None:
        """The records the sheet declares (its ``<dimension>``'s last row, less the header), once opened;
        None when it declares none. A hint for the progress line's total, not a count."""
        rows = self._declared_rows
        return max(0, rows - 1) if isinstance(rows, int) and rows > 0 else None

    def _next_row(self) -> tuple[int, Sequence[Any]] | None:
        rows = self._open()
        try:
            row = next(rows)
        except StopIteration:
            self._eof = True
            return None
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InputError(self.name, f"unreadable worksheet: {exc}", line=self._number + 1) from exc
        self._number += 1
        return self._number, row

    def _header(self) -> Layout:
        while self._layout is None:  # bounded by the sheet: every pass consumes a row
            got = self._next_row()
            if got is None:
                raise InputError(self.name, "empty worksheet: no header row", line=1)
            number, row = got
            cells = [cell_text(value, "header") for value in row]
            if not blank(cells):
                self._layout = Layout.from_header(cells, name=self.name, line=number, options=self._options)
        return self._layout

    def _generate(self) -> Generator[SourceItem, None, None]:
        layout = self._header()
        width = len(layout.names)
        while (got := self._next_row()) is not None:  # bounded by the sheet
            number, row = got
            values = list(row)
            if len(values) > width and all(v is None or v == "" for v in values[width:]):
                del values[width:]  # the sheet's used range is wider than the header: padding
            values.extend([None] * (width - len(values)))
            cells: list[str] = []
            try:
                for position, value in enumerate(values):
                    cells.append(cell_text(value, layout.field_at(position) or f"column {position + 1}"))
            except Bad as bad:
                yield bad.at(number, layout.identity(cells))
                continue
            item = layout.build(number, cells)
            if item is not None:
                yield item
            elif not blank(cells):  # build() returns None only for blank rows
                yield BadRecord(number, None, "unreadable row")
