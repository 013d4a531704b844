"""Throughput of each recipients reader (records/s), and the peak RSS of the .xlsx reader by sheet size.

    .venv/bin/python bench/readers.py                     # every reader, 200,000 rows, best of 3
    .venv/bin/python bench/readers.py --rows 50000 --only csv jsonl
    .venv/bin/python bench/readers.py --xlsx-rss 50000 500000   # peak RSS reading sheets of those sizes

Inputs are generated in a temporary directory (same rows for every reader: a 32-hex cid, a name, a
city), then read through ``open_source(...).read_chunk(1000)`` the way the engine does. Time is the best
of ``--repeats`` runs of the read loop alone, in CPU seconds of this process (``time.process_time``:
steadier than wall time on a shared machine; generation and imports excluded). The RSS figures come from
a child process per size that only opens and reads the workbook (``ru_maxrss``). openpyxl writes these
workbooks with inline strings; a file saved by Excel keeps its distinct texts in a shared-strings table,
which openpyxl loads whole. ``--repeated-text`` writes numeric ids and four names instead.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from getui_async.sources import SourceOptions, open_source

NAMES = ("张伟", "Alice", "李娜", "Bob")


def rows(n: int) -> Iterator[tuple[str, str, str]]:
    for i in range(n):
        yield f"{i:032x}", f"{NAMES[i % 4]} {i}", "上海" if i % 2 else "Paris"


def write_csv(path: Path, n: int, *, sep: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        out.write(sep.join(("cid", "name", "city")) + "\r\n")
        out.writelines(sep.join(row) + "\r\n" for row in rows(n))
    return path


def write_jsonl(path: Path, n: int) -> Path:
    from getui_async import _json

    with path.open("wb") as out:
        out.writelines(_json.dumps_line({"cid": c, "name": m, "city": t}) for c, m, t in rows(n))
    return path


def write_gzip(path: Path, n: int) -> Path:
    plain = write_csv(path.with_suffix(""), n)
    path.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    return path


def write_xlsx(path: Path, n: int, *, repeated_text: bool = False) -> Path:
    """A workbook of ``n`` rows; ``repeated_text``: numeric ids and 4 names, so few distinct strings."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("recipients")
    sheet.append(["cid", "name", "city"])
    for i, row in enumerate(rows(n)):
        sheet.append([10**12 + i, NAMES[i % 4], row[2]] if repeated_text else list(row))
    book.save(path)
    return path


def read_all(source: Any) -> int:
    """Read an opened source to the end in chunks of 1000, as the engine does; the record count."""
    count = 0
    with source:
        while chunk := source.read_chunk(1000):
            count += len(chunk)
    return count


READERS: dict[str, tuple[str, Callable[[Path, int], Any]]] = {
    "csv": ("UTF-8 CSV", lambda d, n: write_csv(d / "r.csv", n)),
    "csv.gz": ("UTF-8 CSV, gzip", lambda d, n: write_gzip(d / "r.csv.gz", n)),
    "jsonl": ("JSONL", lambda d, n: write_jsonl(d / "r.jsonl", n)),
    "gbk": ("GBK CSV (auto-detected GB18030)", lambda d, n: write_csv(d / "gbk.csv", n, encoding="gbk")),
    "utf16": ("UTF-16 TSV with BOM", lambda d, n: write_csv(d / "u16.tsv", n, sep="\t", encoding="utf-16")),
    "semicolon": ("; CSV (delimiter auto)", lambda d, n: write_csv(d / "semi.csv", n, sep=";")),
    "xlsx": ("xlsx (openpyxl read-only)", lambda d, n: write_xlsx(d / "r.xlsx", n)),
    "mappings": ("list of dicts", lambda d, n: [{"cid": c, "name": m, "city": t} for c, m, t in rows(n)]),
}


def throughput(only: list[str], n: int, xlsx_rows: int, repeats: int) -> None:
    print(f"| reader | rows | best of {repeats} (s) | records/s |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="readers-") as tmp:
        for key in only:
            label, make = READERS[key]
            size = xlsx_rows if key == "xlsx" else n
            made = make(Path(tmp), size)
            best = float("inf")
            for _ in range(repeats):
                source = open_source(list(made)) if key == "mappings" else open_source(made)
                start = time.process_time()
                count = read_all(source)
                best = min(best, time.process_time() - start)
                assert count == size, (key, count)
            print(f"| {label} | {size:,} | {best:.3f} | {size / best:,.0f} |", flush=True)


def xlsx_rss(sizes: list[int], *, repeated_text: bool) -> None:
    shape = "numeric ids, 4 names" if repeated_text else "every text cell distinct"
    print(f"| xlsx rows ({shape}) | peak RSS (MiB) |")
    print("|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="readers-") as tmp:
        for n in sizes:
            path = write_xlsx(Path(tmp) / f"r{n}.xlsx", n, repeated_text=repeated_text)
            child = subprocess.run(
                [sys.executable, __file__, "--read-xlsx", str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=1800,
            )
            print(f"| {n:,} | {child.stdout.strip()} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--xlsx-rows", type=int, default=50_000, help="rows for the xlsx throughput")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=sorted(READERS), default=list(READERS))
    parser.add_argument("--xlsx-rss", nargs="+", type=int, metavar="ROWS")
    parser.add_argument(
        "--repeated-text",
        action="store_true",
        help="--xlsx-rss with numeric ids and repeated names (a small shared-strings table)",
    )
    parser.add_argument("--read-xlsx", help=argparse.SUPPRESS)  # the child of --xlsx-rss
    args = parser.parse_args()
    if args.read_xlsx:
        count = read_all(open_source(args.read_xlsx, options=SourceOptions(format="xlsx")))
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{peak_kib / 1024:.1f} ({count:,} records)")
    elif args.xlsx_rss:
        xlsx_rss(args.xlsx_rss, repeated_text=args.repeated_text)
    else:
        throughput(args.only, args.rows, args.xlsx_rows, args.repeats)


if __name__ == "__main__":
    main()
