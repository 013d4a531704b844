"""``.xlsx`` recipients: workbooks made by openpyxl here, read in read-only streaming mode."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from getui_async.errors import InputError
from getui_async.sources import BadRecord, Record, SourceItem, SourceOptions, open_source

openpyxl = pytest.importorskip("openpyxl")


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Write a workbook with the given sheets (rows of cell values), in order."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    book.close()
    return path


def read(path: Path, **options: Any) -> list[SourceItem]:
    with open_source(path, options=SourceOptions(**options)) as source:
        return list(source)


def test_cells_become_the_text_a_person_reads(tmp_path: Path) -> None:
    """Whole floats lose their .0, dates are ISO, booleans are true/false, empty cells are ""."""
    path = workbook(
        tmp_path / "r.xlsx",
        {
            "Sheet1": [
                ["CID", "name", "code", "price", "since", "at", "vip", "note"],
                [
                    "c1",
                    "张伟",
                    12345.0,
                    9.5,
                    dt.date(2024, 5, 1),
                    dt.datetime(2024, 5, 1, 10, 30),
                    True,
                    None,
                ],
                [12345678, "Bob", 7, 0.25, dt.datetime(2024, 1, 2), dt.time(8, 0), False, ""],
            ]
        },
    )
    first, second = read(path)
    assert isinstance(first, Record)
    assert isinstance(second, Record)
    assert (first.line, first.target) == (2, "c1")
    assert first.variables == {
        "name": "张伟",
        "code": "12345",
        "price": "9.5",
        "since": "2024-05-01",
        "at": "2024-05-01 10:30:00",
        "vip": "true",
        "note": "",
    }
    assert (second.line, second.target) == (3, "12345678")
    assert second.variables["since"] == "2024-01-02"
    assert second.variables["at"] == "08:00:00"
    assert second.variables["vip"] == "false"


def test_line_is_the_row_number_with_blank_rows_skipped(tmp_path: Path) -> None:
    """Blank rows (before the header too) are skipped and every line is the spreadsheet row."""
    path = workbook(
        tmp_path / "r.xlsx",
        {"S": [[None], ["cid", "name"], ["c1", "A"], [None, None], ["c2", "B"], ["", "C"]]},
    )
    items = read(path)
    assert [(item.line, type(item).__name__) for item in items] == [
        (3, "Record"),
        (5, "Record"),
        (6, "BadRecord"),
    ]
    assert isinstance(items[2], BadRecord)
    assert items[2].field == "cid"


def test_sheet_is_chosen_by_name_or_the_first(tmp_path: Path) -> None:
    """The first sheet by default; sheet= picks another (trimmed, case-insensitive as a fallback)."""
    path = workbook(tmp_path / "r.xlsx", {"First": [["cid"], ["c1"]], "Other": [["alias"], ["a1"]]})
    assert [(i.kind, i.target) for i in read(path) if isinstance(i, Record)] == [("cid", "c1")]
    assert [(i.kind, i.target) for i in read(path, sheet=" other") if isinstance(i, Record)] == [
        ("alias", "a1")
    ]
    with pytest.raises(InputError, match="no worksheet named 'Nope'; sheets found: 'First', 'Other'"):
        read(path, sheet="Nope")


def test_header_rules_apply_to_sheets(tmp_path: Path) -> None:
    """A sheet without an id column is an InputError listing its columns; columns are exposed."""
    path = workbook(tmp_path / "r.xlsx", {"S": [["Client_ID", "Name", None], ["c1", "A", None]]})
    with open_source(path) as source:
        assert source.format == "xlsx"
        assert source.columns == ("Client_ID", "Name")
        assert [i.line for i in source] == [2]
    bad = workbook(tmp_path / "bad.xlsx", {"S": [["id", "name"], ["1", "A"]]})
    with pytest.raises(InputError, match="columns found: 'id', 'name'"):
        read(bad)


def test_a_huge_number_id_is_rejected_not_rounded(tmp_path: Path) -> None:
    """A float id beyond 2**53 would be sent wrong: its row is rejected naming the field."""
    path = workbook(tmp_path / "r.xlsx", {"S": [["cid", "name"], [1.2345678901234568e19, "A"], ["c2", "B"]]})
    first, second = read(path)
    assert isinstance(first, BadRecord)
    assert (first.line, first.field) == (2, "cid")
    assert "too large" in first.reason
    assert isinstance(second, Record)


def test_digest_is_the_workbook_file_hash(tmp_path: Path) -> None:
    """digest() hashes the workbook file; complete once every row was read."""
    path = workbook(tmp_path / "r.xlsx", {"S": [["cid"], ["c1"]]})
    with open_source(path) as source:
        assert not source.complete
        list(source)
        assert source.complete
        assert source.digest() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert source.position == path.stat().st_size


def test_a_file_that_is_no_workbook_is_an_input_error(tmp_path: Path) -> None:
    """A .xlsx that is not a zip workbook is an InputError naming the file."""
    path = tmp_path / "fake.xlsx"
    path.write_text("cid\nc1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook") as caught:
        read(path)
    assert caught.value.path == str(path)


def test_missing_openpyxl_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without openpyxl an .xlsx input is an InputError naming the extra to install."""
    path = workbook(tmp_path / "r.xlsx", {"S": [["cid"], ["c1"]]})
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(InputError, match=r"pip install 'getui-async\[xlsx\]'"):
        open_source(path)


def test_stdin_cannot_be_a_workbook() -> None:
    """format xlsx on stdin is refused up front (a zip needs random access)."""
    with pytest.raises(InputError, match="cannot be read from standard input"):
        open_source("-", format="xlsx")


def peak_reading(path: Path) -> tuple[int, int]:
    """(records, tracemalloc peak in bytes) for reading a workbook to the end in chunks."""
    tracemalloc.start()
    try:
        count = 0
        with open_source(path) as source:
            while chunk := source.read_chunk(1000):
                count += len(chunk)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    """Read-only mode streams, and read rows leave the XML tree: 4x the rows, about the same peak."""
    peaks = []
    for rows in (4_000, 16_000):
        path = tmp_path / f"big{rows}.xlsx"
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("S")
        sheet.append(["cid", "name", "city"])
        for i in range(rows):
            sheet.append([10**12 + i, "User", "Shanghai"])  # few distinct strings: rows alone
        book.save(path)
        count, peak = peak_reading(path)
        assert count == rows
        peaks.append(peak)
    assert peaks[1] - peaks[0] < 256 << 10, f"peaks {peaks} bytes"  # unpruned: ~1 MiB more
