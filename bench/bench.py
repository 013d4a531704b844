"""The getui_async benchmark: the engine against a raw aiohttp loop and a naive client, same run, same mock.

    python bench/bench.py                  # the full matrix, then the large cell at 1M and 10M records
    python bench/bench.py --quick          # a smoke-sized run (about two minutes on a slow 2-core machine)
    python bench/bench.py --quick --large 100000   # also the large cell at 100,000 records

One mock server (``python -m getui_async.mock``) runs for the whole benchmark in its own process, pinned
to its own CPU when there are two or more; every client runs as a child process pinned to the others,
so each gets exact CPU and peak-RSS accounting (``os.wait4``). Between runs the mock is reset (it
forgets deliveries and request_ids) and its latency is set through its control API. Each cell is
repeated and the median kept; engine and raw-loop runs alternate so a change in machine load hits both.
The engine is reported as a ratio to the raw loop and to the naive client measured in the same run:
absolute figures move between machines, ratios hold.

After the matrix: the memory check (batch ``send`` at two sizes), the feature cells (``features.py``:
batch with the ledger, an exclusion list, variants or metrics on, each beside plain runs) and the large
cell (``large.py``: ``send`` end to end in list and batch mode on millions of records, ``--large``).
The parts they share are in ``harness.py`` (cells, runs, processes, mock, inputs) and ``runner.py``
(running one cell); the targets are judged in ``targets.py``.

Output (``--out``, default ``bench/results``, or ``bench/results/quick`` with ``--quick``):
``<stamp>.md`` (the tables, also printed), ``<stamp>.json`` (every figure of every run) and
``<stamp>.png`` (needs matplotlib: ``pip install -e '.[bench]'``; without it the chart is skipped with a
note).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import report
from features import feature_cells
from harness import FULL, HERE, QUICK, Cell, Mock, Plan, Run, cpu_split, machine, median_run, run_child
from large import large_cell, parse_sizes
from runner import Bench

__all__ = ["FULL", "HERE", "QUICK", "Bench", "Cell", "Mock", "Plan", "Run", "cpu_split", "run_child"]

MODES = ("single", "batch", "list")


def cells(plan: Plan) -> Iterator[tuple[Cell, ...]]:
    """Groups of cells run back to back (engine then raw loop) for every mode, latency and concurrency."""
    for latency in plan.latencies_ms:
        for mode in MODES:
            for concurrency in plan.concurrencies:
                count = plan.count(mode, concurrency, latency)
                yield (
                    Cell("engine", mode, concurrency, latency, count),
                    Cell("raw", mode, concurrency, latency, count),
                )
        auto_c = 64 if 64 in plan.concurrencies else plan.concurrencies[0]
        yield (Cell("engine", "auto", auto_c, latency, plan.bulk_count),)
    yield (Cell("naive", "single", 1, 20, plan.naive_count),)


def memory_check(bench: Bench, counts: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    """Peak RSS of ``send`` in batch mode on a small and a 10x larger input (medians of ``repeats``)."""
    rows = []
    for count in counts:
        runs = []
        for rep in range(repeats):
            cell = Cell("engine", "batch", 64, 0, count)
            runs.append(bench.run(cell))
            print(
                report.progress_line(cell, runs[-1], rep, repeats)
                + f"  peak RSS {runs[-1].peak_rss_mb:.1f} MB"
            )
        rows.append({"records": count, **median_run(runs), "runs": [r.figures() for r in runs]})
        bench.inputs.drop(count)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run (about two minutes)")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results[/quick])")
    parser.add_argument("--repeats", type=int, help="repeats per cell (default 3, quick 1)")
    parser.add_argument(
        "--channels",
        choices=("getui", "all"),
        default="getui",
        help="message shape: a notification on Getui's channel (default), or also Android vendors and iOS "
        "(what --title/--body sends; the mock then needs ~3x the CPU per recipient and can become the limit)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    parser.add_argument(
        "--large",
        metavar="N[,N...]",
        help="record counts of the large cell: send end to end in list and batch mode, one run each "
        "(default 1000000,10000000; quick 0 = off)",
    )
    parser.add_argument(
        "--features",
        type=int,
        metavar="N",
        help="records per feature cell: ledger, exclusions, variants, metrics (default 200000; quick "
        "20000; 0 = off)",
    )
    args = parser.parse_args(argv)
    plan = replace(QUICK if args.quick else FULL, notes=[])
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
    if args.large is not None:
        try:
            plan = replace(plan, large_counts=parse_sizes(args.large))
        except ValueError as exc:
            parser.error(f"--large: {exc}")
    if args.features is not None:
        plan = replace(plan, feature_count=max(0, args.features))
    out_dir = args.out or (HERE / "results" / ("quick" if args.quick else ""))
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    mock_cpu, client_cpus = cpu_split()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)  # children inherit it
    else:
        plan.notes.append("fewer than two CPUs: the mock and the client share the CPU")
    info = machine()
    info.update(mock_cpu=mock_cpu, client_cpus=sorted(client_cpus) if client_cpus else None)
    info["channels"] = args.channels
    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="getui-bench-") as tmp:
        mock = Mock(mock_cpu)
        try:
            bench = Bench(plan, mock, Path(tmp), args.channels)
            groups = list(cells(plan))
            for rep in range(plan.repeats):
                if rep and time.monotonic() - started > plan.budget_s:
                    plan.notes.append(f"time budget reached: {rep} repeat(s) per cell, not {plan.repeats}")
                    break
                for group in groups:
                    for cell in group:
                        run = bench.run(cell)
                        runs.setdefault(cell.key, []).append(run)
                        print(report.progress_line(cell, run, rep, plan.repeats), flush=True)
            memory = memory_check(bench, plan.memory_counts, plan.repeats)
            features = feature_cells(bench, plan.feature_count, plan.repeats) if plan.feature_count else []
            large = large_cell(bench, plan.large_counts)
        finally:
            mock.close()
    info["load_average_end"] = list(os.getloadavg())
    results = {
        "kind": "quick" if args.quick else "full",
        "machine": info,
        "plan": {k: v for k, v in asdict(plan).items() if k != "notes"},
        "notes": plan.notes,
        "cells": {
            key: {**asdict(rs[0].cell), "median": median_run(rs), "runs": [r.figures() for r in rs]}
            for key, rs in runs.items()
        },
        "memory": memory,
        "features": features,
        "large": large,
        "duration_s": time.monotonic() - started,
    }
    paths = report.write(results, out_dir, chart_png=not args.no_chart)
    print(paths["markdown_text"])
    for kind in ("markdown", "json", "png"):
        if paths.get(kind):
            print(f"{kind}: {paths[kind]}")
    failed = [r["feature"] for r in features if not r["median"]["ok_repeats"]]
    failed += [f"large {r['mode']} {r['records']:,}" for r in large if not r["ok"]]
    for what in failed:
        print(f"FAILED: {what}", file=sys.stderr)
    return 0 if all(c["median"]["ok_repeats"] for c in results["cells"].values()) and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
