"""An exclusion list's line over the bound is an error as soon as the bound is passed, in bounded memory."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from getui_async.errors import InputError
from getui_async.exclusions import MAX_LINE_BYTES, ExclusionSet

_OVER = 3 * MAX_LINE_BYTES  # a few MiB on disk, not the gigabyte of the real case


def _peak_while_loading(path: Path) -> tuple[InputError, int]:
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            ExclusionSet.load([path])
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_text_list_with_one_endless_line_stops_at_the_bound(tmp_path: Path) -> None:
    """3 MiB without a newline: refused naming the file, line 1 and the limit, having held about 1 MiB."""
    path = tmp_path / "ids.txt"
    path.write_bytes(b"a" * _OVER)
    error, peak = _peak_while_loading(path)
    assert (error.path, error.line) == (str(path), 1)
    assert "longer than 1 MiB" in error.reason
    assert peak < 2 * MAX_LINE_BYTES + (1 << 20)


def test_a_gzipped_list_with_one_endless_line_stops_at_the_bound(tmp_path: Path) -> None:
    """The same line gzipped (a few KB on disk) is refused the same way."""
    path = tmp_path / "ids.txt.gz"
    path.write_bytes(gzip.compress(b"c1\n" + b" " * _OVER))
    error, peak = _peak_while_loading(path)
    assert (error.path, error.line) == (str(path), 2)
    assert "longer than 1 MiB" in error.reason
    assert peak < 2 * MAX_LINE_BYTES + (1 << 20)


def test_a_results_list_with_an_endless_last_line_is_refused(tmp_path: Path) -> None:
    """A results-shaped list whose last line runs past the bound is an error, not a quiet torn tail."""
    path = tmp_path / "old.jsonl"
    first = b'{"line": 1, "cid": "c1", "status": "failed", "code": 20001, "msg": "x", "record": {}}\n'
    path.write_bytes(first + b'{"line": 2, "msg": "' + b"x" * _OVER)
    error, _ = _peak_while_loading(path)
    assert (error.path, error.line) == (str(path), 2)
