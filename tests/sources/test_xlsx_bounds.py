"""``.xlsx`` reading stays bounded whatever the file claims: inflation bombs refused, dimensions ignored."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from getui_async.errors import InputError
from getui_async.sources import Record, _bounded_zip, open_source
from tests import xlsx_bombs

pytest.importorskip("openpyxl")

_MIB = 1 << 20
#: Reads the file in a fresh interpreter; prints the records (or the error) and the peak RSS in KiB.
_READER = """
import sys
from getui_async.errors import InputError
from getui_async.sources import open_source
try:
    with open_source(sys.argv[1]) as source:
        print("records", sum(1 for _ in source))
    code = 0
except InputError as exc:
    print("error", exc)
    code = 2
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a large pytest would report
# its parent's peak; VmHWM belongs to this program's own address space.
with open("/proc/self/status") as status:
    print("rss_kib", next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")))
sys.exit(code)
"""


def read_apart(path: Path) -> tuple[int, str, int, float]:
    """(exit, output, peak RSS in MiB, seconds) of reading ``path`` in a subprocess."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _READER, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    seconds = time.monotonic() - started
    rss = int(done.stdout.rsplit("rss_kib", 1)[1]) // 1024 if "rss_kib" in done.stdout else -1
    return done.returncode, done.stdout + done.stderr, rss, seconds


def test_a_whitespace_bomb_is_refused_naming_the_file_and_the_limit(tmp_path: Path) -> None:
    """96 MiB of blanks between two rows (100 KB on disk): exit 2 naming the file and the 1 MiB cell limit."""
    path = xlsx_bombs.whitespace_bomb(tmp_path / "blanks.xlsx", 96 * _MIB)
    code, output, rss, seconds = read_apart(path)
    assert code == 2, output
    assert str(path) in output
    assert "1 MiB" in output
    assert rss <= 200
    assert seconds < 5 * 4  # 5 s on an idle machine; the margin is for a loaded one


def test_one_huge_shared_string_is_refused(tmp_path: Path) -> None:
    """A 200 MiB shared string (200 KB on disk) is refused in bounded memory, naming the limit."""
    path = xlsx_bombs.huge_string_bomb(tmp_path / "string.xlsx", 200 * _MIB)
    code, output, rss, _ = read_apart(path)
    assert code == 2, output
    assert str(path) in output
    assert "MiB" in output
    assert rss <= 200


def test_a_shared_strings_table_with_too_many_entries_is_refused_before_parsing(tmp_path: Path) -> None:
    """Over 750,000 short strings: refused from a byte scan, not after openpyxl has held them all."""
    path = xlsx_bombs.many_strings(tmp_path / "many.xlsx", 760_000)
    code, output, rss, seconds = read_apart(path)
    assert code == 2, output
    assert "750,000 strings" in output
    assert rss <= 200
    assert seconds < 5 * 4


def test_a_part_over_its_inflated_cap_is_refused_before_inflating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet whose declared size passes the sheet cap is refused before a byte is inflated."""
    monkeypatch.setattr(_bounded_zip, "MAX_SHEET_BYTES", 2 * _MIB)
    path = xlsx_bombs.whitespace_bomb(tmp_path / "big.xlsx", 3 * _MIB // 2 + _MIB)
    with pytest.raises(InputError, match=r"would inflate to \d+ bytes, past 2 MiB") as info:
        list(open_source(path))
    assert info.value.path == str(path)


def test_a_lying_dimension_is_ignored_every_row_read_and_fast(tmp_path: Path) -> None:
    """A sheet claiming A1:XFD20000 over 2,000 two-cell rows reads its rows as they are, quickly."""
    path = xlsx_bombs.lying_dimension(tmp_path / "wide.xlsx", 2000)
    started = time.monotonic()
    with open_source(path) as source:
        items = list(source)
    assert time.monotonic() - started < 5
    assert len(items) == 2000
    assert all(isinstance(item, Record) for item in items)
    last = items[-1]
    assert isinstance(last, Record)
    assert (last.line, last.target, last.variables) == (2001, "c2001", {"name": "n"})


def test_a_dimension_claiming_fewer_rows_drops_none(tmp_path: Path) -> None:
    """A dimension of A1:B3 over 10 data rows: all 10 records are read (openpyxl stopped at row 3)."""
    path = xlsx_bombs.lying_dimension(tmp_path / "short.xlsx", 10, dimension="A1:B3")
    with open_source(path) as source:
        assert len(list(source)) == 10
