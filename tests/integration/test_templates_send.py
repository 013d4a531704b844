"""Spreadsheet-shaped inputs sent through the CLI to the bundled mock: what arrives is what the file says.

Each case is a file as another tool writes it (GBK from Chinese Windows, semicolons from a European
Excel, trailing empty columns, a ``clientid`` header, empty cells, an ``.xlsx`` made by openpyxl); the
witness is the request bodies the mock accepted, not only the results file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli_harness import DATA, ThreadedMock, run_cli
from tests.results_file import read_meta, read_results

SEND = ("--mode", "single", "--no-progress", "--body", "b")


def titles(served: ThreadedMock) -> dict[str, str]:
    """The notification title each cid was sent, from the bodies the mock accepted."""
    bodies: list[Any] = served.call(served.mock.accepted_bodies, "push/single/cid")
    return {b["audience"]["cid"][0]: b["push_message"]["notification"]["title"] for b in bodies}


def test_a_gbk_csv_arrives_with_its_chinese_names(served: ThreadedMock, tmp_path: Path) -> None:
    """GBK (Excel on Chinese Windows): detected, said on stderr, and 你好 张伟 reaches Getui intact."""
    out = tmp_path / "r.jsonl"
    result = run_cli(
        "send", DATA / "csv_gbk.csv", "--out", out, "--title", "你好 {name}", *SEND, env=served.env
    )
    assert result.code == 0, result.err
    assert "input decoded as GB18030" in result.err
    assert titles(served) == {"c1": "你好 张伟", "c2": "你好 李娜"}
    assert read_meta(out)["input"]["encoding"] == "gb18030"


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("cid;name\nc1;Ann\nc2;Bob\n", ()),  # semicolons, found from the header
        ("cid,name,,\nc1,Ann,,\nc2,Bob,,\n", ()),  # trailing empty columns (an Excel artifact)
        ("ClientID,name\nc1,Ann\nc2,Bob\n", ()),  # another spelling of the cid column
        ("user,name\nc1,Ann\nc2,Bob\n", ("--cid-column", "user")),
        ("cid\tname\nc1\tAnn\nc2\tBob\n", ("--delimiter", "tab")),
    ],
)
def test_csv_shapes_are_read_as_a_person_expects(
    served: ThreadedMock, tmp_path: Path, text: str, flags: tuple[str, ...]
) -> None:
    """Each shape sends both records with the name from its row."""
    inp, out = tmp_path / "in.csv", tmp_path / "r.jsonl"
    inp.write_text(text, encoding="utf-8")
    result = run_cli("send", inp, "--out", out, "--title", "Hi {name}", *SEND, *flags, env=served.env)
    assert result.code == 0, result.err
    assert titles(served) == {"c1": "Hi Ann", "c2": "Hi Bob"}


def test_empty_cells_reject_unless_allowed(served: ThreadedMock, tmp_path: Path) -> None:
    """An empty {name} cell is 'rejected' and never sent; with --allow-empty name it is sent as empty text."""
    inp = tmp_path / "in.csv"
    inp.write_text("cid,name\nc1,Ann\nc2,\n", encoding="utf-8")
    strict = run_cli(
        "send", inp, "--out", tmp_path / "a.jsonl", "--title", "Hi {name}", *SEND, env=served.env
    )
    assert strict.code == 1, strict.err
    assert {r["cid"]: r["status"] for r in read_results(tmp_path / "a.jsonl")}["c2"] == "rejected"
    assert set(titles(served)) == {"c1"}
    argv = ("send", inp, "--out", tmp_path / "b.jsonl", "--title", "Hi {name}!", *SEND, "--campaign", "x2")
    lenient = run_cli(*argv, "--allow-empty", "name", env=served.env)
    assert lenient.code == 0, lenient.err
    assert titles(served)["c2"] == "Hi !"


def test_a_misspelled_placeholder_sends_nothing(served: ThreadedMock, tmp_path: Path) -> None:
    """{nmae}: exit 2 with 'did you mean {name}?', no results file, no request to the mock at all."""
    inp, out = tmp_path / "in.csv", tmp_path / "r.jsonl"
    inp.write_text("cid,name\nc1,Ann\n", encoding="utf-8")
    result = run_cli("send", inp, "--out", out, "--title", "Hi {nmae}", *SEND, env=served.env)
    assert result.code == 2
    assert "did you mean {name}?" in result.err
    assert not out.exists()
    assert not served.stats().requests  # not even /auth


def test_an_xlsx_sheet_is_sent_with_cells_as_text(served: ThreadedMock, tmp_path: Path) -> None:
    """An .xlsx made by openpyxl: an integer id is '12345', not '12345.0'; the named sheet is read."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "other"
    book.active.append(["cid", "name"])
    book.active.append(["zz", "Nobody"])
    sheet = book.create_sheet("people")
    sheet.append(["cid", "name", "order"])
    sheet.append(["c1", "Ann", 12345])
    sheet.append(["c2", "Bob", 7])
    inp, out = tmp_path / "in.xlsx", tmp_path / "r.jsonl"
    book.save(inp)
    argv = ("send", inp, "--out", out, "--title", "{name}: order {order}", *SEND, "--sheet", "people")
    result = run_cli(*argv, env=served.env)
    assert result.code == 0, result.err
    assert titles(served) == {"c1": "Ann: order 12345", "c2": "Bob: order 7"}
    assert [r["line"] for r in read_results(out)] in ([2, 3], [3, 2])
