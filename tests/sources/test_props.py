"""Properties of the recipient readers: any bytes are survivable, valid files round-trip exactly."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from getui_async import _json
from getui_async.errors import InputError
from getui_async.outcome import Kind
from getui_async.sources import BadRecord, Record, SourceItem, SourceOptions, open_source

PROPS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

TOKENS = [
    b",", b'"', b'""', b"\n", b"\r\n", b"\r", b" ", b"\t", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf",
    b"cid", b"alias", b"c1", b"a,b", b"{", b"}", b"[", b"]", b":", b'"cid"', b'"alias"', b'"x"', b"null",
    b"1", b"1e999", b"true", b"\x1f\x8b",
]  # fmt: skip
noise = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=60).map(b"".join)
HEADERS = [b"", b"cid\n", b"cid,name\n", b"alias,cid,x\r\n", b"\xef\xbb\xbfcid,alias\n"]


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def drain(data: bytes, fmt: Any) -> list[SourceItem]:
    """Every item the reader yields for ``data``; only InputError may stop it."""
    items: list[SourceItem] = []
    try:
        with open_source("-", format=fmt, stdin=io.BytesIO(data)) as source:
            items.extend(source)
    except InputError:
        pass
    return items


def assert_well_formed(items: list[SourceItem], data: bytes) -> None:
    """Lines lie within the input and strictly increase; every item can be written as JSON."""
    lines = [item.line for item in items]
    assert all(1 <= line <= physical_lines(data) for line in lines)
    assert lines == sorted(set(lines))
    for item in items:
        _json.dumps({slot: getattr(item, slot) for slot in item.__slots__})


@PROPS
@given(header=st.sampled_from(HEADERS), body=noise)
def test_any_bytes_as_csv_only_raise_input_error(header: bytes, body: bytes) -> None:
    """Arbitrary bytes read as CSV raise nothing but InputError, with sane, increasing lines."""
    data = header + body
    assert_well_formed(drain(data, "csv"), data)


@PROPS
@given(body=noise)
def test_any_bytes_as_jsonl_only_raise_input_error(body: bytes) -> None:
    """Arbitrary bytes read as JSONL raise nothing but InputError, with sane, increasing lines."""
    assert_well_formed(drain(body, "jsonl"), body)


cids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)
aliases = st.text(alphabet="abcXYZ_09用户张三", min_size=1, max_size=40)
cell = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
identity: st.SearchStrategy[tuple[Kind, str]] = st.one_of(
    st.tuples(st.just("cid"), cids), st.tuples(st.just("alias"), aliases)
)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[Record]]:
    """A valid CSV file and the records it holds, each at the line where it starts."""
    variables = [f"v{i}" for i in range(draw(st.integers(0, 3)))]
    id_columns = draw(st.sampled_from([["cid"], ["alias"], ["cid", "alias"], ["alias", "cid"]]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    # A bare CR is only legal inside quotes: quote everything when lines end in LF alone.
    quotings: list[Literal[0, 1]] = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL]
    quoting = csv.QUOTE_ALL if terminator == "\n" else draw(st.sampled_from(quotings))
    names = draw(st.permutations(id_columns + variables))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))  # found from the header, outside quotes
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=terminator, quoting=quoting, delimiter=delimiter)
    writer.writerow(names)
    expected: list[Record] = []
    for _ in range(draw(st.integers(0, 25))):
        if draw(st.booleans()):
            out.write(terminator * draw(st.integers(0, 2)))  # blank lines are skipped
        kind, target = draw(identity.filter(lambda pair: pair[0] in id_columns))
        values = {name: draw(cell) for name in variables}
        row = {**values, "cid": "", "alias": "", kind: target}
        expected.append(Record(out.getvalue().count("\n") + 1, kind, target, values, {}))
        writer.writerow([row[name] for name in names])
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.removesuffix(terminator)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode(), expected


@PROPS
@given(case=csv_files())
def test_valid_csv_yields_every_record_once_at_its_line(case: tuple[bytes, list[Record]]) -> None:
    """A valid CSV file (any delimiter, quoted fields, blank lines, CRLF, BOM) yields exactly its records."""
    data, expected = case
    with open_source("-", format="csv", stdin=io.BytesIO(data)) as source:
        assert list(source) == expected


@PROPS
@given(case=csv_files(), encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "gb18030"]))
def test_the_same_csv_in_another_encoding_yields_the_same_records(
    case: tuple[bytes, list[Record]], encoding: str
) -> None:
    """UTF-16 (a BOM, auto-detected) and GB18030 (named) give exactly the records of the UTF-8 file."""
    data, expected = case
    text = data.decode("utf-8-sig")
    if encoding == "gb18030":
        encoded, options = text.encode("gb18030"), SourceOptions(encoding="gb18030")
    else:  # -le / -be: the BOM written by hand, as Excel and Notepad do
        bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
        encoded, options = bom + text.encode(encoding), SourceOptions()
    with open_source("-", format="csv", stdin=io.BytesIO(encoded), options=options) as source:
        assert list(source) == expected
        assert source.encoding == ("gb18030" if encoding == "gb18030" else "utf-16")


scalars = st.one_of(
    cell,
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(-1e15, 1e15, allow_nan=False, allow_infinity=False),
)


def as_template_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, list[Record]]:
    """A valid JSONL file (blank lines, CRLF, BOM, scalar values) and the records it holds."""
    lines: list[bytes] = []
    expected: list[Record] = []
    for _ in range(draw(st.integers(0, 25))):
        lines.extend(draw(st.lists(st.sampled_from([b"", b"  ", b"\r", b"\t \r"]), max_size=2)))
        kind, target = draw(identity)
        keys = draw(st.lists(st.sampled_from(["v0", "v1", "title", "body", "payload"]), unique=True))
        raw = {key: draw(scalars) for key in keys}
        texts = {key: as_template_text(value) for key, value in raw.items()}
        variables = {key: text for key, text in texts.items() if text is not None}
        overrides: dict[str, str] = {
            key: variables[key] for key in ("title", "body", "payload") if key in variables
        }
        expected.append(Record(len(lines) + 1, kind, target, variables, overrides))
        other = {"alias": None} if kind == "cid" and draw(st.booleans()) else {}
        lines.append(_json.dumps({**other, kind: target, **raw}) + draw(st.sampled_from([b"", b"\r"])))
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    tail = b"\n" if draw(st.booleans()) else b""
    data = bom + b"\n".join(lines) + tail
    if not expected:
        data = b'{"cid":"c0"}'
        expected = [Record(1, "cid", "c0", {}, {})]
    return data, expected


@PROPS
@given(case=jsonl_files())
def test_valid_jsonl_yields_every_record_once_at_its_line(case: tuple[bytes, list[Record]]) -> None:
    """A valid JSONL file yields exactly its records, stringified, at their lines."""
    data, expected = case
    with open_source("-", format="jsonl", stdin=io.BytesIO(data)) as source:
        assert list(source) == expected


plain = st.text(alphabet="abc XYZ 019", max_size=10)


@PROPS
@given(
    before=st.lists(plain, max_size=30),
    after=st.lists(plain, max_size=150),
    opened=plain,
)
def test_an_unbalanced_quote_loses_only_its_own_record(
    before: list[str], after: list[str], opened: str
) -> None:
    """One row with an unclosed quote among plain rows is the only record lost, whatever follows it."""
    rows = [f"c{i},{name}" for i, name in enumerate(before)]
    bad_line = len(rows) + 2
    rows.append(f'bad,"{opened}')
    rows.extend(f"d{i},{name}" for i, name in enumerate(after))
    data = ("cid,name\n" + "\n".join(rows) + "\n").encode()
    items = drain(data, "csv")
    assert [item.line for item in items] == list(range(2, len(rows) + 2))
    assert [item.line for item in items if isinstance(item, BadRecord)] == [bad_line]
    assert [item.target for item in items if isinstance(item, Record)] == [
        *(f"c{i}" for i in range(len(before))),
        *(f"d{i}" for i in range(len(after))),
    ]
