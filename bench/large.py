"""The large cell: ``getui-push send`` end to end on millions of records, in list and in batch mode.

Each size's CSV is generated in the bench's temporary directory (streamed, constant memory) and deleted
once both modes have read it; each run's results file (10,000,000 lines are about 2 GB) is deleted as
soon as its summary is read. The mock is reset before every run: it keeps ~270 bytes of delivery state
per cid, so its own peak RSS (``VmHWM``) is recorded beside the client's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import report
from harness import FULL, HERE, Cell, Mock, cpu_split
from runner import Bench

LARGE_MODES = ("list", "batch")
CONCURRENCY = 64
#: A large run is killed after this much time per record plus the fixed allowance below. 60 µs was too
#: little: batch mode at 10,000,000 records ran 72 s per million on the 2-core bench machine (the mock,
#: holding ~3 GB of delivery state by then, is the limit) and was killed at 720 s.
TIMEOUT_S_PER_RECORD = 200e-6
TIMEOUT_BASE_S = 120.0


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"1000000,10_000_000"`` as record counts; ``"0"`` (or empty) turns the cell off."""
    sizes = tuple(int(part) for part in text.split(",") if part.strip())
    if any(size < 0 for size in sizes):
        raise ValueError(f"record counts must be positive, got {text!r}")
    return tuple(size for size in sizes if size > 0)


def timeout_s(count: int) -> float:
    """How long one large run may take before its child is killed: it scales with the records."""
    return TIMEOUT_S_PER_RECORD * count + TIMEOUT_BASE_S


def large_cell(
    bench: Bench, counts: tuple[int, ...], modes: tuple[str, ...] = LARGE_MODES
) -> list[dict[str, Any]]:
    """One run per size and mode (they are long); one row each with the whole run's figures."""
    rows: list[dict[str, Any]] = []
    for count in counts:
        for mode in modes:
            cell = Cell("engine", mode, CONCURRENCY, 0, count)
            run = bench.run(cell, timeout_s=timeout_s(count))
            row = {"mode": mode, "records": count, **run.figures()}
            row["end_to_end_per_s"] = run.recipients / run.wall_s if run.wall_s > 0 else 0.0
            row["process_cpu_us_per_recipient"] = run.process_cpu_s / count * 1e6
            rows.append(row)
            print(
                f"{report.progress_line(cell, run, 0, 1)}  wall {run.wall_s:.1f} s, "
                f"process CPU {run.process_cpu_s:.1f} s, peak RSS {run.peak_rss_mb:.1f} MB, "
                f"mock peak RSS {report.num(run.mock_peak_rss_mb, 0)} MB",
                flush=True,
            )
        bench.inputs.drop(count)
    return rows


def main(argv: list[str] | None = None) -> int:
    """The large cell alone (``python bench/large.py --sizes 10000000 --modes batch``): to measure or
    re-measure one size and mode without the whole matrix; writes ``large-<stamp>.json`` and prints the
    table."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sizes", default="1000000,10000000", metavar="N[,N...]")
    parser.add_argument("--modes", default=",".join(LARGE_MODES), help="list, batch or both")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    modes = tuple(m for m in args.modes.split(",") if m)
    if not modes or any(m not in LARGE_MODES for m in modes):
        parser.error(f"--modes: choose from {', '.join(LARGE_MODES)}")
    sizes = parse_sizes(args.sizes)
    mock_cpu, client_cpus = cpu_split()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory(prefix="getui-large-") as tmp:
        mock = Mock(mock_cpu)
        try:
            rows = large_cell(Bench(replace(FULL, notes=[]), mock, Path(tmp), "getui"), sizes, modes)
        finally:
            mock.close()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"large-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_bytes(orjson.dumps({"large": rows, "load_average_end": list(os.getloadavg())}))
    print("\n".join(report.large_rows(rows)))
    print(f"json: {path}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
