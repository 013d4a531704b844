"""The issue's targets, judged on one benchmark's figures: one home for every goal and its row's label.

Each check is a row of the report's "Targets" table; the labels of the rows that existed first are
read by scripts, so they never change (new checks get new rows). A check's sign (``≤`` or ``≥``)
comes from its ``at_most``.
"""

from __future__ import annotations

from typing import Any

#: Engine as a fraction of the raw loop (recipients/s), multiples of the naive client, memory.
RAW_RATIO = {"single": 0.85, "batch": 0.90, "list": 0.90}
NAIVE_SINGLE = 50.0
NAIVE_AUTO = 1000.0
LATENCY_BOUND_SHARE = 0.80
RSS_GROWTH = 1.20
RSS_LIMIT_MB = 150.0
PER_REQUEST = {"single": 1, "batch": 200, "list": 200, "auto": 200}
#: Client CPU per recipient, engine as a multiple of the raw loop's (at most), at concurrency 64.
CPU_RATIO = {"batch": 2.0, "list": 3.0}
CPU_RATIO_CONCURRENCY = 64
#: The large cell: list mode's whole-process CPU (4 minutes of one core at 10,000,000 records).
LARGE_CPU_S_PER_RECORD = 240.0 / 10_000_000


def cell(results: dict[str, Any], client: str, mode: str, c: int, latency: int) -> dict[str, Any] | None:
    """The medians of one cell of the matrix, None when it did not run."""
    found = results["cells"].get(f"{client}/{mode}/c{c}/{latency}ms")
    return found["median"] if found else None


def naive(results: dict[str, Any]) -> dict[str, Any] | None:
    for key, found in results["cells"].items():
        if key.startswith("naive/"):
            return dict(found["median"])
    return None


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (mode, latency, concurrency): engine and raw-loop medians and their ratio."""
    plan = results["plan"]
    baseline = naive(results)
    rows = []
    for latency in plan["latencies_ms"]:
        for mode in ("single", "batch", "list", "auto"):
            for c in plan["concurrencies"]:
                engine = cell(results, "engine", mode, c, latency)
                if engine is None:
                    continue
                raw = cell(results, "raw", "batch" if mode == "auto" else mode, c, latency)
                row = {"mode": mode, "latency_ms": latency, "concurrency": c, "engine": engine, "raw": raw}
                row["vs_raw"] = (
                    engine["recipients_per_s"] / raw["recipients_per_s"]
                    if raw and raw["recipients_per_s"]
                    else None
                )
                row["vs_naive"] = (
                    engine["recipients_per_s"] / baseline["recipients_per_s"]
                    if baseline and baseline["recipients_per_s"] and latency == 20
                    else None
                )
                rows.append(row)
    return rows


class Checks(list[dict[str, Any]]):
    """The target rows, in the order they print."""

    def add(self, name: str, measured: float | None, goal: float, unit: str, at_most: bool = False) -> None:
        passed = None if measured is None else (measured <= goal if at_most else measured >= goal)
        self.append(
            {
                "target": name,
                "measured": measured,
                "goal": goal,
                "unit": unit,
                "at_most": at_most,
                "passed": passed,
            }
        )


def targets(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target of the issue that this run can check, with the measured figure and a verdict."""
    checks = Checks()
    for row in rows:
        mode, c, lat = row["mode"], row["concurrency"], row["latency_ms"]
        if mode in RAW_RATIO:
            checks.add(f"{mode} c{c} {lat} ms: engine / raw loop", row["vs_raw"], RAW_RATIO[mode], "x")
    for row in rows:
        if row["latency_ms"] == 20 and row["concurrency"] == 64 and row["mode"] in ("single", "auto"):
            goal = NAIVE_SINGLE if row["mode"] == "single" else NAIVE_AUTO
            checks.add(f"{row['mode']} c64 20 ms: engine / naive", row["vs_naive"], goal, "x")
    for row in rows:
        if row["latency_ms"] == 0 or row["mode"] == "auto":
            continue
        unloaded = cell(results, "engine", row["mode"], row["concurrency"], 0)
        bound = row["concurrency"] * PER_REQUEST[row["mode"]] / (row["latency_ms"] / 1000)
        if unloaded:
            bound = min(bound, unloaded["recipients_per_s"])  # "until CPU-bound"
        measured = row["engine"]["recipients_per_s"] / bound if bound else None
        checks.add(
            f"{row['mode']} c{row['concurrency']} {row['latency_ms']} ms: share of min(c/latency, CPU-bound)",
            measured,
            LATENCY_BOUND_SHARE,
            "x",
        )
    memory = results.get("memory") or []
    if len(memory) == 2:
        small, large = memory
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] if small["peak_rss_mb"] else None
        checks.add(
            f"peak RSS {large['records']:,} / {small['records']:,} records", growth, RSS_GROWTH, "x", True
        )
        checks.add(
            f"peak RSS at {large['records']:,} records", large["peak_rss_mb"], RSS_LIMIT_MB, "MB", True
        )
    _cpu_ratios(checks, rows)
    _large(checks, results.get("large") or [])
    return list(checks)


def _cpu_ratios(checks: Checks, rows: list[dict[str, Any]]) -> None:
    """Client CPU per recipient, engine / raw loop, in batch and list at concurrency 64."""
    for row in rows:
        mode, lat = row["mode"], row["latency_ms"]
        if mode not in CPU_RATIO or row["concurrency"] != CPU_RATIO_CONCURRENCY:
            continue
        engine_us = row["engine"].get("cpu_us_per_recipient")
        raw_us = (row["raw"] or {}).get("cpu_us_per_recipient")
        measured = engine_us / raw_us if engine_us and raw_us else None
        name = f"{mode} c{CPU_RATIO_CONCURRENCY} {lat} ms: client CPU per recipient, engine / raw loop"
        checks.add(name, measured, CPU_RATIO[mode], "x", True)


def _large(checks: Checks, large: list[dict[str, Any]]) -> None:
    """The large cell at its largest size (list mode's CPU, peak RSS) and its RSS growth from the smallest."""
    if not large:
        return
    sizes = sorted({row["records"] for row in large})
    top, bottom = sizes[-1], sizes[0]
    runs = {(row["mode"], row["records"]): row for row in large}

    def figure(mode: str, records: int, key: str) -> float | None:
        row = runs.get((mode, records))
        return row[key] if row and row.get("ok") else None

    if ("list", top) in runs:
        cpu_s = figure("list", top, "process_cpu_s")
        checks.add(f"list {top:,} records: client CPU s", cpu_s, LARGE_CPU_S_PER_RECORD * top, "s", True)
    for mode in ("list", "batch"):
        if (mode, top) not in runs:
            continue
        rss = figure(mode, top, "peak_rss_mb")
        checks.add(f"peak RSS at {top:,} records ({mode})", rss, RSS_LIMIT_MB, "MB", True)
        if top != bottom and (mode, bottom) in runs:
            small = figure(mode, bottom, "peak_rss_mb")
            growth = rss / small if rss and small else None
            checks.add(f"peak RSS {top:,} / {bottom:,} records ({mode})", growth, RSS_GROWTH, "x", True)
