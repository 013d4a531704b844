"""Recipient readers: the corpus in tests/data, stdin, gzip, limits, fingerprints and constant memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from getui_async import _json
from getui_async.errors import InputError
from getui_async.sources import (
    HEAD_BYTES,
    MAX_LINE_BYTES,
    MAX_RECORD_BYTES,
    MAX_RECORD_LINES,
    BadRecord,
    Record,
    SourceItem,
    open_source,
)

DATA = Path(__file__).parent.parent / "data"


class R(NamedTuple):
    """An expected Record."""

    line: int
    kind: str
    target: str


class B(NamedTuple):
    """An expected BadRecord; ``reason`` is a fragment the real reason must contain."""

    line: int
    field: str | None
    reason: str
    kind: str | None = None
    target: str | None = None


def read_all(path: str | os.PathLike[str], **kwargs: Any) -> list[SourceItem]:
    with open_source(path, **kwargs) as source:
        return list(source)


def read_bytes(data: bytes, fmt: Any) -> list[SourceItem]:
    return read_all("-", format=fmt, stdin=io.BytesIO(data))


def check(items: Sequence[SourceItem], expected: Sequence[R | B]) -> None:
    """Items match the expectations one to one, in order."""
    got: list[R | B] = []
    for item, want in zip(items, expected, strict=False):
        if isinstance(item, Record):
            got.append(R(item.line, item.kind, item.target))
        else:
            reason = want.reason if isinstance(want, B) and want.reason in item.reason else item.reason
            got.append(B(item.line, item.field, reason, item.kind, item.target))
    got.extend(R(-1, "extra", repr(item)) for item in items[len(expected) :])
    assert got == expected


MISSING = "missing: the record needs a cid or an alias"
BOTH = "both cid and alias are set; give exactly one"
HEX = "0123456789abcdef0123456789abcdef"
XEH = "fedcba9876543210fedcba9876543210"
CSV_VALID = [R(2, "cid", HEX), R(3, "alias", "user_bob"), R(5, "alias", "用户_张三"), R(7, "cid", XEH)]
JSONL_VALID = [R(1, "cid", HEX), R(2, "alias", "user_bob"), R(4, "alias", "用户_张三"), R(5, "cid", XEH)]
NOT_OBJECT = "expected a JSON object, got "
NOT_SCALAR = "expected a string, number or boolean, got "

CORPUS: dict[str, Sequence[R | B]] = {
    "csv_valid.csv": CSV_VALID,
    "csv_valid.csv.gz": CSV_VALID,
    "csv_bom.csv": [R(2, "cid", "c1")],
    "csv_crlf.csv": [R(2, "cid", "c1"), R(3, "cid", "c2"), R(5, "cid", "c3")],
    "csv_unbalanced_quote.csv": [
        R(2, "cid", "c1"),
        B(3, None, "malformed CSV: ',' expected after '\"'"),
        R(4, "cid", "c3"),
        R(5, "cid", "c4"),
        R(6, "cid", "c5"),
        B(7, None, "malformed CSV: unexpected end of data (a quoted field is never closed)"),
        R(8, "cid", "c7"),
    ],
    "csv_quote_closed_later.csv": [
        B(2, None, "expected 3 columns, found 2 in a record spanning lines 2-3"),
        R(3, "cid", "c2"),
        R(4, "cid", "c3"),
    ],
    "csv_wrong_columns.csv": [
        R(2, "cid", "c1"),
        B(3, None, "expected 3 columns, found 2", "cid", "c2"),
        B(4, None, "expected 3 columns, found 4", "cid", "c3"),
        R(5, "cid", "c4"),
    ],
    "csv_invalid_utf8.csv": [
        B(2, "name", "invalid UTF-8 (byte 0xff at column 6)", "cid", "c1"),
        B(3, "cid", "invalid UTF-8 (byte 0xfe at column 2)"),
        R(4, "cid", "c3"),
    ],
    "csv_identifiers.csv": [
        B(2, "cid", MISSING),
        B(3, "alias", BOTH),
        B(4, "cid", "invalid cid 'c,1'"),
        B(5, "cid", "invalid cid 'c 1'"),
        B(6, "cid", "invalid cid '0123"),
        B(7, "alias", "invalid alias 'al\\tias'"),
        R(8, "cid", "c2"),
        R(9, "alias", "alias_3"),
    ],
    "csv_header_only.csv": [],
    "csv_empty_column_name.csv": [
        B(2, None, "column 2 has no name in the header but a value here ('x')", "cid", "c1")
    ],
    "csv_gbk.csv": [R(2, "cid", "c1"), R(3, "cid", "c2")],
    "csv_gb18030.csv": [R(2, "cid", "c1"), R(3, "cid", "c2")],
    "tsv_utf16.tsv": [R(2, "cid", "c1"), R(3, "cid", "c2")],
    "csv_semicolon.csv": [R(2, "cid", "c1"), R(3, "cid", "c2")],
    "csv_tabs.csv": [R(2, "cid", "c1"), R(3, "cid", "c2")],
    "csv_trailing_empty_columns.csv": [
        R(2, "cid", "c1"),
        R(3, "cid", "c2"),
        B(4, None, "column 4 has no name in the header but a value here ('x')", "cid", "c3"),
    ],
    "csv_clientid_header.csv": [R(2, "cid", "c1")],
    "jsonl_valid.jsonl": JSONL_VALID,
    "jsonl_valid.ndjson": JSONL_VALID,
    "jsonl_valid.jsonl.gz": JSONL_VALID,
    "jsonl_blank_lines.jsonl": [R(3, "cid", "c1"), R(6, "cid", "c2")],
    "jsonl_syntax_errors.jsonl": [
        R(1, "cid", "c1"),
        B(2, None, "invalid JSON: trailing comma"),
        B(3, None, "invalid JSON: unexpected end of data"),
        B(4, None, "invalid JSON: "),
        B(5, None, "invalid JSON: unexpected content after document"),
        R(6, "cid", "c5"),
    ],
    "jsonl_non_object.jsonl": [
        B(1, None, NOT_OBJECT + "array"),
        B(2, None, NOT_OBJECT + "number"),
        B(3, None, NOT_OBJECT + "string"),
        B(4, None, NOT_OBJECT + "null"),
        B(5, None, NOT_OBJECT + "boolean"),
        R(6, "cid", "c3"),
    ],
    "jsonl_nested_values.jsonl": [
        B(1, "payload", NOT_SCALAR + "object", "cid", "c1"),
        B(2, "tags", NOT_SCALAR + "array", "alias", "a2"),
        B(3, "cid", NOT_SCALAR + "object"),
        B(4, "n", "is too large to keep exactly; write it as a string", "cid", "c4"),
    ],
    "jsonl_invalid_utf8.jsonl": [
        B(1, None, "invalid UTF-8 (byte 0xff at column 23)", "cid", "c1"),
        B(2, None, "invalid UTF-8 (byte 0xfe at column 10)"),
        R(3, "cid", "c3"),
    ],
    "jsonl_identifiers.jsonl": [
        B(1, "cid", MISSING),
        B(2, "alias", BOTH),
        B(3, "cid", "invalid cid 'c,1'"),
        B(4, "alias", "invalid alias 'a\\x07b'"),
        R(5, "alias", "x"),
        B(6, "cid", MISSING),
        B(7, "alias", "invalid alias 'aaaa"),
    ],
}

#: Files that stop the run: (line or None, fragment of the reason), and how many items come first.
BROKEN: dict[str, tuple[int | None, str, int]] = {
    "csv_empty.csv": (1, "empty file: no header row", 0),
    "csv_no_id_column.csv": (1, "or an 'alias' column; columns found: 'id', 'name'", 0),
    "csv_two_id_columns.csv": (1, "columns 'cid' and 'Client_ID' both name the cid", 0),
    "csv_duplicate_columns.csv": (1, "duplicate column name 'name'", 0),
    "csv_invalid_utf8_header.csv": (1, "invalid UTF-8 (byte 0xe9 at column 8)", 0),
    "csv_truncated.csv.gz": (98, "corrupt gzip stream: Compressed file ended", 96),
    "csv_not_gzip.csv.gz": (1, "corrupt gzip stream: Not a gzipped file", 0),
    "jsonl_blank_only.jsonl": (1, "empty file: no JSON lines", 0),
    "jsonl_bad_crc.jsonl.gz": (6, "corrupt gzip stream: CRC check failed", 5),
    "recipients.txt": (None, "unknown format", 0),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file_yields_expected_items(name: str) -> None:
    """Each corpus file yields exactly the documented Records and BadRecords, at the right lines."""
    check(read_all(DATA / name), CORPUS[name])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_corpus_file_raises_input_error(name: str) -> None:
    """Whole-file problems raise InputError naming the file, the line reached and the reason."""
    line, fragment, before = BROKEN[name]
    items: list[SourceItem] = []
    with pytest.raises(InputError) as caught, open_source(DATA / name) as source:
        items.extend(source)
    assert (caught.value.line, caught.value.path) == (line, str(DATA / name))
    assert fragment in caught.value.reason
    assert len(items) == before
    assert all(isinstance(item, Record) for item in items)
    if items:  # everything before the corrupt spot came out, up to the line reached
        assert [item.line for item in items] == list(range(items[0].line, line or 0))


def test_readme_lists_every_corpus_file() -> None:
    """tests/data/README.md documents every file, and every file has an expectation here."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    files = {p.name for p in DATA.iterdir() if p.is_file() and p.name != "README.md"}
    assert {name for name in files if f"`{name}`" not in readme} == set()
    assert files == set(CORPUS) | set(BROKEN)


def test_csv_values_become_variables_and_quoted_fields_keep_their_text() -> None:
    """CSV cells other than cid/alias are template variables, with quoting, commas and newlines intact."""
    items = read_all(DATA / "csv_valid.csv")
    assert [item.variables for item in items if isinstance(item, Record)] == [
        {"name": "Alice", "title": "Hi Alice", "note": "plain"},
        {"name": "Bob", "title": "", "note": "quoted, with comma"},
        {"name": "张三", "title": "你好", "note": "spans\ntwo lines"},
        {"name": "Carol", "title": "", "note": 'say "hi"'},
    ]
    assert all(isinstance(item, Record) and item.overrides == {} for item in items)


def test_jsonl_values_are_stringified_and_overrides_collected() -> None:
    """JSONL scalars become strings, null is absent, and title/body/payload are also overrides."""
    first, second, third, fourth = read_all(DATA / "jsonl_valid.jsonl")
    assert isinstance(first, Record)
    assert isinstance(second, Record)
    assert first.overrides == {"title": "Hi {name}", "body": "Your code", "payload": '{"k":1}'}
    assert first.variables == {"name": "Alice", **first.overrides}
    assert second.variables == {"age": "42", "vip": "true", "score": "9.5"}
    assert second.overrides == {}
    assert isinstance(third, Record)
    assert third.variables == {"name": "张三"}
    assert isinstance(fourth, Record)
    assert fourth.variables == {}


def test_crlf_inside_a_quoted_field_is_kept() -> None:
    """A quoted CSV field keeps the line break the file has, CRLF included."""
    items = read_all(DATA / "csv_crlf.csv")
    assert isinstance(items[1], Record)
    assert items[1].variables == {"name": "two\r\nlines"}


def test_an_unclosed_quote_past_the_line_limit_loses_only_its_record() -> None:
    """A quote left open over more than MAX_RECORD_LINES plain lines is cut off; every other row survives."""
    rows = [f"c{i},plain {i}\n" for i in range(3, MAX_RECORD_LINES + 50)]
    data = ('cid,name\nc1,ok\nc2,"never closed\n' + "".join(rows)).encode()
    items = read_bytes(data, "csv")
    assert isinstance(items[1], BadRecord)
    assert (items[1].line, items[1].field) == (3, None)
    assert f"still open after {MAX_RECORD_LINES} lines" in items[1].reason
    others = [item for item in items if item is not items[1]]
    assert all(isinstance(item, Record) for item in others)
    assert [item.line for item in others] == [2, *range(4, 4 + len(rows))]


def test_a_csv_record_over_the_byte_limit_is_skipped_alone() -> None:
    """A CSV line longer than MAX_RECORD_BYTES becomes a BadRecord; the next line reads normally."""
    data = b"cid,name\nc1," + b"x" * (MAX_RECORD_BYTES + 10) + b"\nc2,ok\n"
    items = read_bytes(data, "csv")
    assert isinstance(items[0], BadRecord)
    assert items[0].line == 2
    assert "longer than 64 KiB" in items[0].reason
    check(items[1:], [R(3, "cid", "c2")])


def test_a_multiline_record_over_the_byte_limit_is_reread_from_its_next_line() -> None:
    """A quoted field that grows past MAX_RECORD_BYTES over many lines is reported, and its lines re-read."""
    filler = ("y" * 1000 + "\n") * 70
    data = ('cid,name\nc1,"' + filler + "c2,after\n").encode()
    items = read_bytes(data, "csv")
    assert isinstance(items[0], BadRecord)
    assert items[0].line == 2
    assert "longer than 64 KiB" in items[0].reason
    # Lines 3-71 are read again on their own: lone "yyy…" cells, each the wrong width.
    assert [item.line for item in items] == list(range(2, 73))
    assert all(isinstance(item, BadRecord) for item in items[:-1])
    assert items[-1] == Record(72, "cid", "c2", {"name": "after"}, {})


def test_a_huge_jsonl_line_is_skipped_without_holding_it() -> None:
    """A JSONL line far over MAX_LINE_BYTES is one BadRecord; memory stays near the cap, not the line."""
    huge = b'{"cid":"c2","blob":"' + b"z" * (8 * MAX_LINE_BYTES) + b'"}\n'
    data = b'{"cid":"c1"}\n' + huge + b'{"cid":"c3"}\n'
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        items = read_all("-", format="jsonl", stdin=io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert isinstance(items[1], BadRecord)
    assert items[1].line == 2
    assert "longer than 1048576 bytes" in items[1].reason
    check([items[0], items[2]], [R(1, "cid", "c1"), R(3, "cid", "c3")])
    assert peak < 3 * MAX_LINE_BYTES


def test_a_jsonl_line_at_the_limit_is_read() -> None:
    """A JSONL line of exactly MAX_LINE_BYTES (newline excluded) is still a record."""
    prefix = b'{"cid":"c1","pad":"'
    line = prefix + b"p" * (MAX_LINE_BYTES - len(prefix) - 2) + b'"}'
    assert len(line) == MAX_LINE_BYTES
    data = line + b"\n" + line + b"x\n" + line  # the last one without a newline
    check(read_bytes(data, "jsonl"), [R(1, "cid", "c1"), B(2, None, "longer than"), R(3, "cid", "c1")])


def test_stdin_needs_a_format() -> None:
    """Reading '-' without a format is refused before anything is read."""
    with pytest.raises(InputError, match="needs a format"):
        open_source("-", stdin=io.BytesIO(b"cid\nc1\n"))


def test_stdin_reads_the_given_format() -> None:
    """'-' reads the given stdin stream in the given format, named <stdin>."""
    data = (DATA / "jsonl_valid.jsonl").read_bytes()
    with open_source("-", format="jsonl", stdin=io.BytesIO(data)) as source:
        assert source.name == "<stdin>"
        check(list(source), JSONL_VALID)


def test_gzip_is_recognised_by_its_magic_bytes() -> None:
    """Gzip content is decompressed on stdin or under a plain name, found by its magic bytes."""
    data = (DATA / "csv_valid.csv.gz").read_bytes()
    check(read_bytes(data, "csv"), CSV_VALID)


def test_stdin_is_left_open() -> None:
    """Closing a source never closes the caller's stdin stream."""
    stream = io.BytesIO(b"cid\nc1\n")
    with open_source("-", format="csv", stdin=stream) as source:
        list(source)
    assert not stream.closed


def test_format_argument_overrides_the_extension() -> None:
    """A given format wins over the name: recipients.txt reads as CSV."""
    check(read_all(DATA / "recipients.txt", format="csv"), [R(2, "cid", "c1")])


def test_unknown_format_value_is_refused() -> None:
    """A format other than csv/jsonl is an InputError, not a silent guess."""
    with pytest.raises(InputError, match="unknown format 'xml'"):
        open_source(DATA / "csv_valid.csv", format="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda tmp: tmp / "absent.csv", "no such file"),
        (lambda tmp: tmp, "is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_unopenable_paths_raise_input_error(tmp_path: Path, make: Any, fragment: str) -> None:
    """A missing file or a directory is an InputError naming the path."""
    target = make(tmp_path)
    if target.is_dir():
        target = target / "dir.csv"
        target.mkdir()
    with pytest.raises(InputError, match=fragment) as caught:
        open_source(target)
    assert caught.value.path == str(target)


def test_unreadable_file_raises_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A permission error on open becomes an InputError (simulated: the tests may run as root)."""
    from getui_async.sources import opening

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    target = tmp_path / "locked.csv"
    target.write_text("cid\nc1\n")
    monkeypatch.setattr(opening, "open", refuse, raising=False)
    with pytest.raises(InputError, match="permission denied"):
        open_source(target)


def test_read_chunk_and_iteration_share_one_position() -> None:
    """read_chunk returns up to n items, [] at the end, and continues where iteration stopped."""
    with open_source(DATA / "csv_unbalanced_quote.csv") as source:
        first = source.read_chunk(3)
        second = next(iter(source))
        rest = source.read_chunk(100)
        assert source.read_chunk(5) == []
    assert [item.line for item in [*first, second, *rest]] == [2, 3, 4, 5, 6, 7, 8]
    assert len(first) == 3


def test_read_chunk_rejects_a_non_positive_size() -> None:
    """A chunk size below 1 is a programming error."""
    with open_source(DATA / "csv_valid.csv") as source, pytest.raises(ValueError, match="at least 1"):
        source.read_chunk(0)


def test_describe_names_file_line_and_field() -> None:
    """describe() gives 'path:line: field 'x': reason', or 'path:line: reason' without a field."""
    bad = BadRecord(7, "cid", "missing")
    assert bad.describe("recipients.csv") == "recipients.csv:7: field 'cid': missing"
    assert BadRecord(3, None, "bad quote").describe("r.csv") == "r.csv:3: bad quote"


def test_every_item_serialises_to_json() -> None:
    """No item carries a stray surrogate: every field of every corpus item can be written as JSON."""
    for name in CORPUS:
        for item in read_all(DATA / name):
            _json.dumps({slot: getattr(item, slot) for slot in item.__slots__})


# -- fingerprint and digest -----------------------------------------------------------------------------


def test_fingerprint_describes_the_file_without_reading_it() -> None:
    """The fingerprint has the base name, format and size on disk, and reads nothing."""
    path = DATA / "csv_valid.csv.gz"
    with open_source(path) as source:
        fp = source.fingerprint()
        assert source.digest() == hashlib.sha256().hexdigest()
    assert fp == {"name": "csv_valid.csv.gz", "format": "csv", "size": path.stat().st_size}


def test_digest_covers_the_whole_content_once_read() -> None:
    """digest() is the sha256 of the decompressed content, complete once the reader reached the end."""
    path = DATA / "csv_valid.csv.gz"
    with open_source(path) as source:
        list(source)
        assert source.complete
        assert source.digest() == hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


def test_digest_of_stdin_matches_the_same_file(tmp_path: Path) -> None:
    """Piped content gives the file's digest; the fingerprint has no size for stdin."""
    data = b"cid,name\n" + b"".join(b"c%d,n%d\n" % (i, i) for i in range(120_000))
    assert len(data) > HEAD_BYTES
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with open_source(path) as source:
        on_disk = (sum(1 for _ in source), source.digest(), source.fingerprint())
    with open_source("-", format="csv", stdin=io.BytesIO(data)) as source:
        piped = (sum(1 for _ in source), source.digest(), source.fingerprint())
    assert piped == (120_000, on_disk[1], {**on_disk[2], "name": "<stdin>", "size": None})


def test_digest_tells_rows_swapped_after_the_first_mib(tmp_path: Path) -> None:
    """Two rows swapped far past the first MiB give another digest (same size, same head)."""
    rows = [b"c%d,n%d\n" % (i, i) for i in range(150_000)]
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    first.write_bytes(b"cid,name\n" + b"".join(rows))
    rows[-1], rows[-2] = rows[-2], rows[-1]
    second.write_bytes(b"cid,name\n" + b"".join(rows))
    digests = []
    for path in (first, second):
        with open_source(path) as source:
            source.read_chunk(10)
            assert not source.complete
            list(source)
            assert source.complete
            digests.append(source.digest())
    assert digests[0] != digests[1]


def test_a_gzip_break_in_the_first_mib_still_serves_the_lines_before_it() -> None:
    """Encoding detection reads ahead into a gzip break; the records before it still come out."""
    items: list[SourceItem] = []
    with open_source(DATA / "csv_truncated.csv.gz") as source, pytest.raises(InputError) as caught:
        items.extend(source)
    assert caught.value.line == 98
    assert [item.line for item in items] == list(range(2, 98))


# -- memory --------------------------------------------------------------------------------------------

ROWS = 200_000


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_memory_stays_flat_over_200k_rows(tmp_path: Path, fmt: str) -> None:
    """Reading 200,000 rows keeps tracemalloc's peak to a small, size-independent bound."""
    path = tmp_path / f"big.{fmt}"
    with path.open("wb") as out:
        if fmt == "csv":
            out.write(b"cid,name,city\n")
            out.writelines(b"%032x,User %d,Shanghai\n" % (i, i) for i in range(ROWS))
        else:
            out.writelines(b'{"cid":"%032x","name":"User %d"}\n' % (i, i) for i in range(ROWS))
    tracemalloc.start()
    try:
        count = 0
        with open_source(path) as source:
            while chunk := source.read_chunk(1000):
                count += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == ROWS
    assert path.stat().st_size > 8 * 2**20
    assert peak < 2 * 2**20, f"peak {peak} bytes"


def test_a_marked_prefix_digest_lets_a_resume_compare_what_the_first_run_read(tmp_path: Path) -> None:
    """digest_at(P) on a second read equals the first read's digest() at position P, mid-chunk too."""
    path = tmp_path / "big.csv"
    path.write_bytes(b"cid,name\n" + b"".join(b"c%d,n%d\n" % (i, i) for i in range(150_000)))
    with open_source(path) as first:
        first.read_chunk(10)
        position, digest = first.position, first.digest()
    assert 0 < position < path.stat().st_size
    for cut in (position, position - 7, 0):
        with open_source(path) as second:
            second.mark(cut)
            assert second.digest_at(cut) == (hashlib.sha256().hexdigest() if cut == 0 else None)
            list(second)
            expected = hashlib.sha256(path.read_bytes()[:cut]).hexdigest()
            assert second.digest_at(cut) == expected
            if cut == position:
                assert expected == digest
    changed = tmp_path / "changed.csv"
    changed.write_bytes(path.read_bytes().replace(b"c5,n5\n", b"c5,n6\n"))
    with open_source(changed) as second:
        second.mark(position)
        list(second)
        assert second.digest_at(position) != digest


def test_marking_a_position_already_read_past_is_refused() -> None:
    """A mark behind the reader cannot be honoured, and says so."""
    with open_source(DATA / "csv_valid.csv") as source:
        list(source)
        with pytest.raises(ValueError, match="already read past"):
            source.mark(3)
        source.mark(source.position)
        assert source.digest_at(source.position) == source.digest()
