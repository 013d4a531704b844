"""The one reader: forwards and backwards it yields the same whole lines, leaves a torn tail out, and its
prefilter only skips lines that cannot match."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from getui_async.outcome import Status
from getui_async.results import reader as reader_module
from getui_async.results.reader import RecordBitmap, ResultsReader, cut_torn_tail, status_needles


def lines(n: int) -> list[bytes]:
    status = (Status.SUCCESSED_ONLINE, Status.FAILED, Status.ACCEPTED)
    return [
        f'{{"record":{i},"status":"{status[i % 3].value}","msg":"{"x" * (i % 7)}"}}\n'.encode()
        for i in range(1, n + 1)
    ]


def write(path: Path, body: bytes) -> Path:
    path.write_bytes(body)
    return path


def backwards(reader: ResultsReader) -> list[bytes]:
    """Every line the backward pass yields, put back in file order, with the numbers it gives."""
    found: list[tuple[int, bytes]] = []
    with reader.path.open("rb") as handle:
        for first, parts in reader.blocks_backwards(handle):
            offset = first
            for part in parts:
                found.append((offset, part + b"\n"))
                offset += len(part) + 1
            for at, raw in found[-len(parts) :]:
                handle.seek(at)
                assert handle.read(len(raw)) == raw
    return [raw for _, raw in sorted(found)]


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_forwards_and_backwards_yield_the_same_whole_lines(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At any block size, both directions give every whole line once; numbers count from 1."""
    monkeypatch.setattr(reader_module, "READ_CHUNK", chunk)
    body = lines(50)
    reader = ResultsReader(write(tmp_path / "r.jsonl", b"".join(body)))
    forward = list(reader.forwards())
    assert [n for n, _ in forward] == list(range(1, 51))
    assert [raw for _, raw in forward] == body
    assert backwards(reader) == body
    assert reader.torn == 0
    assert reader.count_lines() == 50


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_a_torn_tail_is_left_out_both_ways_and_counted(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes after the last newline are not a line: both passes leave them out and report how many."""
    monkeypatch.setattr(reader_module, "READ_CHUNK", chunk)
    body = lines(20)
    torn = b'{"record":21,"status":"fai'
    reader = ResultsReader(write(tmp_path / "r.jsonl", b"".join(body) + torn))
    assert [raw for _, raw in reader.forwards()] == body
    assert reader.torn == len(torn)
    reader.torn = 0
    assert backwards(reader) == body
    assert reader.torn == len(torn)
    assert reader.count_lines() == 20


def test_a_file_that_is_only_a_torn_line_has_no_lines(tmp_path: Path) -> None:
    """No newline at all: nothing whole to read."""
    reader = ResultsReader(write(tmp_path / "r.jsonl", b'{"record":1,"sta'))
    assert list(reader.forwards()) == []
    assert backwards(reader) == []
    assert reader.torn == 16


def test_the_prefilter_skips_only_lines_without_a_needle(tmp_path: Path) -> None:
    """With having=, exactly the lines holding a needle come through, keeping their own numbers."""
    body = lines(30)
    reader = ResultsReader(write(tmp_path / "r.jsonl", b"".join(body)))
    failed = list(reader.forwards(having=status_needles([Status.FAILED])))
    assert [n for n, _ in failed] == [i for i in range(1, 31) if i % 3 == 1]
    both = list(reader.decoded(having=status_needles([Status.ACCEPTED, Status.SUCCESSED_ONLINE])))
    assert all(line is not None and line["status"] != "failed" for _, line in both)
    assert len(both) == 20


def test_gzip_forwards_and_missing_files(tmp_path: Path) -> None:
    """A gzipped file reads forwards like a plain one; a missing file raises FileNotFoundError."""
    body = lines(5)
    packed = tmp_path / "r.jsonl.gz"
    packed.write_bytes(gzip.compress(b"".join(body)))
    assert [raw for _, raw in ResultsReader(packed).forwards()] == body
    with pytest.raises(FileNotFoundError):
        list(ResultsReader(tmp_path / "none.jsonl").forwards())
    assert ResultsReader(tmp_path / "none.jsonl").count_lines() == 0


def test_cut_torn_tail_keeps_whole_lines(tmp_path: Path) -> None:
    """The writer's repair cuts exactly what the reader leaves out."""
    body = b"".join(lines(3))
    path = write(tmp_path / "r.jsonl", body + b'{"rec')
    with path.open("r+b") as handle:
        assert cut_torn_tail(handle.fileno(), path) == 5
    assert path.read_bytes() == body


def test_record_bitmap() -> None:
    """add says whether a number was met before; membership and size follow."""
    bits = RecordBitmap()
    assert not bits.add(9)
    assert bits.add(9)
    assert not bits.add(1_000)
    assert 9 in bits
    assert 1_000 in bits
    assert 8 not in bits
    assert "9" not in bits
    assert len(bits) == 2


@pytest.mark.parametrize("having", [(), (b'"failed"',)])
def test_a_line_past_the_bound_is_refused_as_soon_as_it_is_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, having: tuple[bytes, ...]
) -> None:
    """An endless last line is no torn tail: reading stops at the bound with the line's number."""
    monkeypatch.setattr(reader_module, "MAX_LINE_BYTES", 64)
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"record": 1, "status": "failed"}\n' + b'{"status": "failed", "msg": "' + b"x" * 500)
    reader = ResultsReader(path)
    with pytest.raises(reader_module.OverlongLine) as info:
        list(reader.forwards(having=having))
    assert info.value.number == 2
    assert "line 2" in str(info.value)
