"""The CSV fast lane (quote-free stretches split with ``str.split``) reads exactly what ``csv.reader`` reads.

Every test reads the same bytes twice: as the engine does, and with the fast lane switched off (every
line through ``csv.reader``), and wants the same items: records, rejections, line numbers.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from getui_async.errors import InputError
from getui_async.sources import SourceItem, open_source, text
from getui_async.sources.plain_lines import PlainLines


class _CarefulOnly:
    """A fast lane that never takes a stretch: every record goes through csv.reader."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def take(self) -> int:
        return 1 << 40


def _read(data: bytes) -> list[SourceItem] | str:
    try:
        with open_source("-", format="csv", stdin=io.BytesIO(data)) as source:
            return list(source)
    except InputError as exc:
        return f"InputError: {exc}"


def _both(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[SourceItem] | str, list[SourceItem] | str]:
    fast = _read(data)
    with monkeypatch.context() as patch:
        patch.setattr(text, "PlainLines", _CarefulOnly)
        careful = _read(data)
    return fast, careful


ROWS = [
    b"c1,Ann\n",
    b"c2,Bob\r\n",
    b"\n",
    b"  \n",
    b",\n",
    b"c3\n",
    b"c4,x,y\n",
    b'c5,"Quoted, name"\n',
    b'c6,"two\nlines"\n',
    b'c7,"open quote\n',
    b"c8,lone\rreturn\n",
    b"c9,\xff\xfe bad utf-8\n",
    b"c10,caf\xc3\xa9\n",
    b"c11,nul\x00\n",
    b"c 12,space\n",
    b"c13," + b"x" * 70_000 + b"\n",
    b"c14,last-no-newline",
]
HEADERS = [b"cid,name\n", b"cid,name\r\n", b"name;cid\n", b"\xef\xbb\xbfcid,name\n"]


@settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    header=st.sampled_from(HEADERS),
    rows=st.lists(st.sampled_from(ROWS), max_size=40),
    filler=st.integers(min_value=0, max_value=3_000),
)
def test_the_fast_lane_reads_what_csv_reader_reads(
    header: bytes, rows: list[bytes], filler: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain rows around odd ones (quotes, CR, bad bytes, NUL, long lines), across buffer boundaries."""
    delimiter = b";" if header.startswith(b"name;") else b","
    plain = b"".join(b"f%d%bUser %d\n" % (i, delimiter, i) for i in range(filler))
    body = b"".join(row.replace(b",", delimiter) for row in rows)
    data = header + plain + body + plain
    fast, careful = _both(data, monkeypatch)
    assert fast == careful


def test_a_large_plain_file_keeps_every_line_number(monkeypatch: pytest.MonkeyPatch) -> None:
    """200,000 plain rows (many buffers), one quoted record in the middle, one bad row near the end."""
    rows = [b"c%d,User %d\n" % (i, i) for i in range(200_000)]
    rows[100_000] = b'c100000,"Quoted\nacross lines"\n'
    rows[150_000] = b"c150000,too,many\n"
    data = b"cid,name\n" + b"".join(rows)
    fast, careful = _both(data, monkeypatch)
    assert fast == careful
    assert isinstance(fast, list)
    assert fast[-1].line == 200_002  # the header, one extra physical line for the quoted record


def test_take_hands_over_whole_lines_only() -> None:
    """A stretch ends at its last newline; a quote sends the stretch's lines the careful way, unread."""
    buffered = io.BufferedReader(io.BytesIO(b"a,1\nb,2\nc,3"), buffer_size=64)
    lane = PlainLines(buffered, limit=1024)
    assert lane.take() == ["a,1", "b,2"]
    assert lane.take() == 1  # "c,3" has no newline yet: one line the careful way
    assert buffered.read() == b"c,3"
    assert lane.take() == 0
    quoted = io.BufferedReader(io.BytesIO(b'a,"1"\nb,2\n'), buffer_size=64)
    assert PlainLines(quoted, limit=1024).take() == 2
    assert quoted.read() == b'a,"1"\nb,2\n'
