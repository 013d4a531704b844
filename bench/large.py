"""The large cell: ``getui-push send`` end to end on millions of records, in list and in batch mode.

Each size's CSV is generated in the bench's temporary directory (streamed, constant memory) and deleted
once both modes have read it; each run's results file (10,000,000 lines are about 2 GB) is deleted as
soon as its summary is read. The mock is reset before every run: it keeps ~270 bytes of delivery state
per cid, so its own peak RSS (``VmHWM``) is recorded beside the client's.
"""

from __future__ import annotations

from typing import Any

import report
from harness import Cell
from runner import Bench

LARGE_MODES = ("list", "batch")
CONCURRENCY = 64
#: A large run is killed after this much time per record plus the fixed allowance below.
TIMEOUT_S_PER_RECORD = 60e-6
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


def large_cell(bench: Bench, counts: tuple[int, ...]) -> list[dict[str, Any]]:
    """One run per size and mode (they are long); one row each with the whole run's figures."""
    rows: list[dict[str, Any]] = []
    for count in counts:
        for mode in LARGE_MODES:
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
