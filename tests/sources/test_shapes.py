"""The files marketing teams really have: encodings, delimiters, headers, options, stdin streaming."""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from getui_async.errors import InputError
from getui_async.sources import BadRecord, Record, SourceItem, SourceOptions, open_source

DATA = Path(__file__).parent.parent / "data"
GB_NOTICE = "input decoded as GB18030: it is not valid UTF-8"


def records(path: Path | str, **kwargs: Any) -> list[SourceItem]:
    with open_source(path, **kwargs) as source:
        return list(source)


def variables(items: list[SourceItem]) -> list[dict[str, str]]:
    return [item.variables for item in items if isinstance(item, Record)]


def test_gbk_file_is_read_as_gb18030_with_a_notice(caplog: pytest.LogCaptureFixture) -> None:
    """A GBK CSV decodes to the right Chinese text, says so at WARNING, and keeps the encoding."""
    with caplog.at_level(logging.WARNING), open_source(DATA / "csv_gbk.csv") as source:
        items = list(source)
        assert source.encoding == "gb18030"
    assert variables(items) == [{"name": "张伟", "city": "上海"}, {"name": "李娜", "city": "北京"}]
    assert [r.getMessage() for r in caplog.records] == [f"{DATA / 'csv_gbk.csv'}: {GB_NOTICE}"]
    assert caplog.records[0].levelno == logging.WARNING


def test_gb18030_characters_outside_gbk_survive() -> None:
    """Four-byte GB18030 sequences (characters GBK lacks) decode exactly."""
    assert variables(records(DATA / "csv_gb18030.csv")) == [{"name": "王䶮"}, {"name": "𠀀𠀁"}]


def test_utf16_with_bom_and_tabs_is_read(caplog: pytest.LogCaptureFixture) -> None:
    """Excel's "Unicode Text" (UTF-16 LE with BOM, tabs, CRLF) reads without a notice."""
    with caplog.at_level(logging.WARNING), open_source(DATA / "tsv_utf16.tsv") as source:
        items = list(source)
        assert source.encoding == "utf-16"
        assert source.columns == ("cid", "name", "city")
    assert variables(items) == [{"name": "张伟", "city": "上海"}, {"name": "Bob", "city": "Paris"}]
    assert caplog.records == []


def test_utf8_input_is_not_announced(caplog: pytest.LogCaptureFixture) -> None:
    """A valid UTF-8 file is read as UTF-8 and nothing is logged."""
    with caplog.at_level(logging.WARNING), open_source(DATA / "csv_valid.csv") as source:
        list(source)
        assert source.encoding == "utf-8"
    assert caplog.records == []


def test_a_character_cut_at_the_detection_boundary_is_still_utf8(tmp_path: Path) -> None:
    """A multibyte character straddling the first MiB does not make a UTF-8 file GB18030."""
    head = b"cid,name\n"
    filler = b"c0,x\n" * ((2**20 - len(head) - 1) // 5)
    pad = 2**20 - len(head) - len(filler) - 1  # the 3-byte '张' starts 1 byte before the boundary
    body = head + filler + b"c1," + b"a" * (pad - 3) + "张".encode() + b"\n"
    assert body[: 2**20].endswith("张".encode()[:1]) or len(body) > 2**20
    path = tmp_path / "cut.csv"
    path.write_bytes(body + b"c2,y\n")
    with open_source(path) as source:
        items = list(source)
        assert source.encoding == "utf-8"
    assert all(isinstance(item, Record) for item in items)
    assert isinstance(items[-2], Record)
    assert items[-2].variables["name"].endswith("张")


def test_explicit_encoding_overrides_detection() -> None:
    """--encoding utf-8 on a GBK file keeps today's behaviour: its Chinese rows are rejected."""
    items = records(DATA / "csv_gbk.csv", options=SourceOptions(encoding="utf-8"))
    assert [type(item) for item in items] == [BadRecord, BadRecord]
    assert all(isinstance(i, BadRecord) and "invalid UTF-8" in i.reason and i.field == "name" for i in items)
    assert variables(records(DATA / "csv_gbk.csv", options=SourceOptions(encoding="gb18030")))[0] == {
        "name": "张伟",
        "city": "上海",
    }


def test_a_bad_byte_past_the_gb18030_head_rejects_only_its_record(tmp_path: Path) -> None:
    """After GB18030 was chosen, an undecodable byte rejects its record, naming the encoding."""
    path = tmp_path / "mixed.csv"
    path.write_bytes("cid,name\nc1,张伟\n".encode("gb18030") + b"c2,\xff\xff\n" + b"c3,ok\n")
    items = records(path, options=SourceOptions(encoding="gb18030"))
    assert isinstance(items[0], Record)
    assert isinstance(items[1], BadRecord)
    assert (items[1].line, items[1].field, items[1].target) == (3, "name", "c2")
    assert "invalid GB18030 (byte 0xff" in items[1].reason
    assert isinstance(items[2], Record)


def test_stdin_detects_on_its_first_chunk() -> None:
    """Piped GBK is detected from what the first read returned."""
    data = (DATA / "csv_gbk.csv").read_bytes()
    with open_source("-", format="csv", stdin=io.BytesIO(data)) as source:
        items = list(source)
        assert source.encoding == "gb18030"
    assert variables(items)[0] == {"name": "张伟", "city": "上海"}


def test_a_pipe_hands_records_on_before_eof() -> None:
    """From a pipe that stays open, read_chunk returns the records written so far instead of waiting."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    try:
        os.write(write_fd, b"cid,name\nc1,A\nc2,B\n")
        with open_source("-", format="csv", stdin=reader) as source:
            first = source.read_chunk(1000)  # the writer keeps the pipe open: no EOF yet
            assert [item.line for item in first] == [2, 3]
            assert not source.complete
            os.write(write_fd, b"c3,C\n")
            os.close(write_fd)
            write_fd = -1
            rest = list(source)
            assert [item.line for item in rest] == [4]
            assert source.complete
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        reader.close()


def test_a_jsonl_pipe_hands_records_on_before_eof() -> None:
    """JSONL from a pipe streams too: the first line is available while the pipe is open."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    done = threading.Event()
    try:
        os.write(write_fd, b'{"cid":"c1"}\n')
        with open_source("-", format="jsonl", stdin=reader) as source:
            assert [item.line for item in source.read_chunk(1000)] == [1]
            done.set()
    finally:
        os.close(write_fd)
        reader.close()
    assert done.is_set()


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a;b,c;d", ";"), ('"x,y";z', ";"), ("a\tb", "\t"), ("a|b|c,d", "|"), ("one", ",")],
)
def test_the_delimiter_is_chosen_from_the_header_outside_quotes(header: str, expected: str) -> None:
    """The most frequent of , ; tab | outside quotes wins; none means a comma."""
    from getui_async.sources.text import sniff_delimiter

    assert (sniff_delimiter(header) or ",") == expected


@pytest.mark.parametrize(("delimiter", "sep"), [(";", ";"), ("tab", "\t"), ("|", "|")])
def test_an_explicit_delimiter_is_used(tmp_path: Path, delimiter: str, sep: str) -> None:
    """An explicit delimiter wins where the header alone would tie with a comma."""
    path = tmp_path / "one.csv"
    path.write_text(f"cid{sep}note,x\nc1{sep}a,b\n", encoding="utf-8")
    (item,) = records(path, options=SourceOptions(delimiter=delimiter))
    assert isinstance(item, Record)
    assert item.variables == {"note,x": "a,b"}


def test_a_tsv_file_with_one_column_is_still_tab_separated(tmp_path: Path) -> None:
    """A .tsv whose header has no separator reads its cells by tabs, not commas."""
    path = tmp_path / "one.tsv"
    path.write_text("cid\nc1\n", encoding="utf-8")
    with open_source(path) as source:
        assert source.format == "tsv"
        assert [item.line for item in source] == [2]


def test_semicolon_file_keeps_commas_in_cells() -> None:
    """In a ;-separated file a comma is text and a quoted ; stays in its cell."""
    assert variables(records(DATA / "csv_semicolon.csv")) == [
        {"name": "Müller", "note": "a;b"},
        {"name": "Dupont", "note": "x,y"},
    ]


def test_id_headers_are_trimmed_and_case_insensitive() -> None:
    """' ClientID ' names the cid column; other column names keep their case."""
    with open_source(DATA / "csv_clientid_header.csv") as source:
        assert source.columns == ("ClientID", "Name")
        (item,) = list(source)
    assert isinstance(item, Record)
    assert (item.kind, item.target, item.variables) == ("cid", "c1", {"Name": "A"})


@pytest.mark.parametrize("header", ["CID", "client_id", "Cid "])
def test_each_cid_spelling_is_recognised(tmp_path: Path, header: str) -> None:
    """cid, clientid and client_id in any case name the cid column."""
    path = tmp_path / "r.csv"
    path.write_text(f"{header},name\nc1,A\n", encoding="utf-8")
    (item,) = records(path)
    assert isinstance(item, Record)
    assert (item.kind, item.target) == ("cid", "c1")


def test_named_id_columns_are_used(tmp_path: Path) -> None:
    """cid_column / alias_column choose other columns, matched case-insensitively."""
    path = tmp_path / "r.csv"
    path.write_text("Device Token,user,cid\nt1,,ignored\n,u2,x\n", encoding="utf-8")
    items = records(path, options=SourceOptions(cid_column="device token", alias_column="USER"))
    assert [(i.kind, i.target) for i in items if isinstance(i, Record)] == [("cid", "t1"), ("alias", "u2")]
    assert [i.variables for i in items if isinstance(i, Record)] == [{"cid": "ignored"}, {"cid": "x"}]


def test_a_named_id_column_that_is_missing_lists_the_columns(tmp_path: Path) -> None:
    """cid_column naming no column is an InputError listing the columns found."""
    path = tmp_path / "r.csv"
    path.write_text("token,name\nt1,A\n", encoding="utf-8")
    with pytest.raises(
        InputError, match="no column named 'device' for the cid; columns found: 'token', 'name'"
    ):
        records(path, options=SourceOptions(cid_column="device"))


def test_columns_are_known_before_the_first_record(tmp_path: Path) -> None:
    """columns reads only the header; the records are all still there afterwards."""
    path = tmp_path / "r.csv"
    path.write_text("\n cid , name ,,\nc1,A\nc2,B\n", encoding="utf-8")
    with open_source(path) as source:
        assert source.columns == ("cid", "name")
        assert [item.line for item in source] == [3, 4]
    with open_source(DATA / "jsonl_valid.jsonl") as source:
        assert source.columns is None


def test_a_bad_header_raises_from_columns_like_from_reading() -> None:
    """A header without an id column raises the same InputError from columns."""
    with (
        open_source(DATA / "csv_no_id_column.csv") as source,
        pytest.raises(InputError, match="columns found"),
    ):
        _ = source.columns


def test_empty_cells_stay_empty_strings_and_missing_keys_stay_absent(tmp_path: Path) -> None:
    """A CSV empty cell is "" in the variables; a JSONL key that is missing is absent (distinguishable)."""
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("cid,name\nc1,\n", encoding="utf-8")
    jsonl_path = tmp_path / "r.jsonl"
    jsonl_path.write_text('{"cid":"c1"}\n{"cid":"c2","name":""}\n', encoding="utf-8")
    assert variables(records(csv_path)) == [{"name": ""}]
    assert variables(records(jsonl_path)) == [{}, {"name": ""}]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"encoding": "latin-1"}, "encoding 'latin-1'"),
        ({"delimiter": "::"}, "delimiter '::'"),
        ({"format": "xls"}, "format 'xls'"),
        ({"cid_column": " "}, "cid_column must not be empty"),
    ],
)
def test_bad_options_are_refused_in_library_words(kwargs: dict[str, Any], fragment: str) -> None:
    """SourceOptions refuses an unknown value, naming the option (no CLI flag in the message)."""
    with pytest.raises(ValueError, match=fragment):
        SourceOptions(**kwargs)


def test_options_format_reads_a_file_with_another_name(tmp_path: Path) -> None:
    """options.format overrides the file name, as the format argument does."""
    path = tmp_path / "export.txt"
    path.write_text("cid\tname\nc1\tA\n", encoding="utf-8")
    assert variables(records(path, options=SourceOptions(format="tsv"))) == [{"name": "A"}]
