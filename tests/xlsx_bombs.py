"""Hostile ``.xlsx`` files, built small on disk with zipfile: inflation bombs and a lying dimension.

Shared by tests/test_sources_xlsx_bounds.py and the before/after measurements of the bounds.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET: Final = "xl/worksheets/sheet1.xml"
STRINGS: Final = "xl/sharedStrings.xml"
_STRINGS_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_STRINGS_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_MIB: Final = 1 << 20


def _base(path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    for row in (["cid", "name"], ["c1", "a"], ["c2", "b"]):
        sheet.append(row)
    book.save(path)
    book.close()


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    """``total`` bytes of ``block`` repeated, a MiB at a time."""
    chunk = block * max(1, _MIB // len(block))
    while total > 0:
        yield chunk[:total]
        total -= len(chunk)


def build(path: Path, members: dict[str, Iterable[bytes]], *, strings: bool = False) -> Path:
    """A workbook at ``path`` whose ``members`` are replaced by the given bytes, streamed and deflated.

    ``strings`` registers ``xl/sharedStrings.xml`` in the manifest and the workbook's relationships.
    """
    base = path.with_suffix(".base.xlsx")
    _base(base)
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in members:
                continue
            data = zin.read(info.filename)
            if strings and info.filename == "[Content_Types].xml":
                override = f'<Override PartName="/{STRINGS}" ContentType="{_STRINGS_TYPE}"/></Types>'
                data = data.replace(b"</Types>", override.encode())
            if strings and info.filename == "xl/_rels/workbook.xml.rels":
                rel = f'<Relationship Id="rIdS" Type="{_STRINGS_REL}" Target="sharedStrings.xml"/>'
                data = data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            zout.writestr(info, data)
        for name, chunks in members.items():
            with zout.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    base.unlink()
    return path


def _sheet(rows: bytes, *, dimension: str = "A1:B3") -> Iterator[bytes]:
    yield f'<worksheet xmlns="{MAIN_NS}"><dimension ref="{dimension}"/><sheetData>'.encode()
    yield rows
    yield b"</sheetData></worksheet>"


def whitespace_bomb(path: Path, inflated: int) -> Path:
    """A sheet with ``inflated`` bytes of blanks between two rows (about 1000:1 on disk)."""

    def chunks() -> Iterator[bytes]:
        head = list(_sheet(b""))
        yield head[0]
        yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>cid</t></is></c></row>'
        yield from _repeat(b" ", inflated)
        yield b'<row r="2"><c r="A2" t="inlineStr"><is><t>c1</t></is></c></row>'
        yield head[2]

    return build(path, {SHEET: chunks()})


def huge_string_bomb(path: Path, inflated: int) -> Path:
    """One shared string of ``inflated`` bytes, used by the sheet's second row."""

    def strings() -> Iterator[bytes]:
        yield f'<sst xmlns="{MAIN_NS}" count="2" uniqueCount="2"><si><t>cid</t></si><si><t>'.encode()
        yield from _repeat(b"a", inflated)
        yield b"</t></si></sst>"

    rows = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>'
    return build(path, {SHEET: _sheet(rows), STRINGS: strings()}, strings=True)


def many_strings(path: Path, count: int) -> Path:
    """A shared-strings table of ``count`` short distinct strings (only two of them used)."""

    def strings() -> Iterator[bytes]:
        yield f'<sst xmlns="{MAIN_NS}"><si><t>cid</t></si>'.encode()
        batch: list[bytes] = []
        for number in range(count):
            batch.append(b"<si><t>%x</t></si>" % number)
            if len(batch) >= 10_000:
                yield b"".join(batch)
                batch.clear()
        yield b"".join(batch)
        yield b"</sst>"

    rows = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>'
    return build(path, {SHEET: _sheet(rows), STRINGS: strings()}, strings=True)


def lying_dimension(path: Path, rows: int, *, dimension: str = "A1:XFD20000") -> Path:
    """``rows`` rows of two real cells under a ``<dimension>`` that claims the whole width."""

    def chunks() -> Iterator[bytes]:
        head = list(_sheet(b"", dimension=dimension))
        yield head[0]
        yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>cid</t></is></c>'
        yield b'<c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
        for number in range(2, rows + 2):
            yield (
                f'<row r="{number}"><c r="A{number}" t="inlineStr"><is><t>c{number}</t></is></c>'
                f'<c r="B{number}" t="inlineStr"><is><t>n</t></is></c></row>'
            ).encode()
        yield head[2]

    return build(path, {SHEET: chunks()})
