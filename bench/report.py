"""Turn the benchmark's figures into the markdown tables, the target checks, the JSON file and the chart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

#: The issue's targets (engine as a fraction of the raw loop, multiples of the naive client, memory).
RAW_RATIO = {"single": 0.85, "batch": 0.90, "list": 0.90}
NAIVE_SINGLE = 50.0
NAIVE_AUTO = 1000.0
LATENCY_BOUND_SHARE = 0.80
RSS_GROWTH = 1.20
RSS_LIMIT_MB = 150.0
PER_REQUEST = {"single": 1, "batch": 200, "list": 200, "auto": 200}
#: A mock this busy (CPU seconds per wall second) is the limit of the run, not the client.
MOCK_BUSY = 0.90


def progress_line(cell: Any, run: Any, rep: int, repeats: int) -> str:
    state = "ok" if run.ok else f"FAILED {run.note}"
    return (
        f"[{rep + 1}/{repeats}] {cell.key:<28} {run.recipients_per_s:>10,.0f} recipients/s "
        f"{run.cpu_us_per_recipient:>7.1f} us/recipient  {state}"
    )


def _busy(run: dict[str, Any]) -> str:
    return "*" if (run.get("mock_cpu_share") or 0) >= MOCK_BUSY else ""


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _cell(results: dict[str, Any], client: str, mode: str, c: int, latency: int) -> dict[str, Any] | None:
    cell = results["cells"].get(f"{client}/{mode}/c{c}/{latency}ms")
    return cell["median"] if cell else None


def _naive(results: dict[str, Any]) -> dict[str, Any] | None:
    for key, cell in results["cells"].items():
        if key.startswith("naive/"):
            return dict(cell["median"])
    return None


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (mode, latency, concurrency): engine and raw-loop medians and their ratio."""
    plan = results["plan"]
    naive = _naive(results)
    rows = []
    for latency in plan["latencies_ms"]:
        for mode in ("single", "batch", "list", "auto"):
            for c in plan["concurrencies"]:
                engine = _cell(results, "engine", mode, c, latency)
                if engine is None:
                    continue
                raw = _cell(results, "raw", "batch" if mode == "auto" else mode, c, latency)
                row = {"mode": mode, "latency_ms": latency, "concurrency": c, "engine": engine, "raw": raw}
                row["vs_raw"] = (
                    engine["recipients_per_s"] / raw["recipients_per_s"]
                    if raw and raw["recipients_per_s"]
                    else None
                )
                row["vs_naive"] = (
                    engine["recipients_per_s"] / naive["recipients_per_s"]
                    if naive and naive["recipients_per_s"] and latency == 20
                    else None
                )
                rows.append(row)
    return rows


def targets(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target of the issue that this run can check, with the measured figure and a verdict."""
    checks: list[dict[str, Any]] = []

    def check(name: str, measured: float | None, goal: float, unit: str, at_most: bool = False) -> None:
        passed = None if measured is None else (measured <= goal if at_most else measured >= goal)
        checks.append({"target": name, "measured": measured, "goal": goal, "unit": unit, "passed": passed})

    for row in rows:
        mode, c, lat = row["mode"], row["concurrency"], row["latency_ms"]
        if mode in RAW_RATIO:
            check(f"{mode} c{c} {lat} ms: engine / raw loop", row["vs_raw"], RAW_RATIO[mode], "x")
    for row in rows:
        if row["latency_ms"] == 20 and row["concurrency"] == 64 and row["mode"] in ("single", "auto"):
            goal = NAIVE_SINGLE if row["mode"] == "single" else NAIVE_AUTO
            check(f"{row['mode']} c64 20 ms: engine / naive", row["vs_naive"], goal, "x")
    for row in rows:
        if row["latency_ms"] == 0 or row["mode"] == "auto":
            continue
        unloaded = _cell(results, "engine", row["mode"], row["concurrency"], 0)
        bound = row["concurrency"] * PER_REQUEST[row["mode"]] / (row["latency_ms"] / 1000)
        if unloaded:
            bound = min(bound, unloaded["recipients_per_s"])  # "until CPU-bound"
        measured = row["engine"]["recipients_per_s"] / bound if bound else None
        check(
            f"{row['mode']} c{row['concurrency']} {row['latency_ms']} ms: share of min(c/latency, CPU-bound)",
            measured,
            LATENCY_BOUND_SHARE,
            "x",
        )
    memory = results.get("memory") or []
    if len(memory) == 2:
        small, large = memory
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] if small["peak_rss_mb"] else None
        check(f"peak RSS {large['records']:,} / {small['records']:,} records", growth, RSS_GROWTH, "x", True)
        check(f"peak RSS at {large['records']:,} records", large["peak_rss_mb"], RSS_LIMIT_MB, "MB", True)
    return checks


def markdown(results: dict[str, Any]) -> str:
    rows = comparisons(results)
    checks = targets(results, rows)
    results["comparisons"] = [{k: v for k, v in r.items() if k not in ("engine", "raw")} for r in rows]
    results["targets"] = checks
    m = results["machine"]
    naive = _naive(results)
    lines = [
        f"# getui_async benchmark ({results['kind']}, {results['stamp']})",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), mock pinned to CPU "
        f"{m['mock_cpu']}, clients to {m['client_cpus']}; Python {m['python']}, {m['event_loop']}, "
        f"aiohttp {m['aiohttp']}; load average {m['load_average_start'][0]:.2f} at start, "
        f"{m['load_average_end'][0]:.2f} at end. Medians of {results['plan']['repeats']} repeat(s); "
        f"{results['duration_s']:.0f} s in all.",
        "",
        "## Engine (`getui-push send`) vs the raw aiohttp loop, same mock, same run",
        "",
        "| mode | latency | conc | engine recipients/s | raw recipients/s | engine/raw | engine/naive "
        "| engine µs CPU/recipient | raw µs CPU/recipient | engine p50/p99 ms | raw p50/p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        e, w = r["engine"], r["raw"] or {}
        lines.append(
            f"| {r['mode']} | {r['latency_ms']} ms | {r['concurrency']} | {_num(e['recipients_per_s'])} "
            f"| {_num(w.get('recipients_per_s'))}{_busy(w)} | {_num(r['vs_raw'], 2)} "
            f"| {_num(r['vs_naive'], 0)} "
            f"| {_num(e['cpu_us_per_recipient'], 1)} | {_num(w.get('cpu_us_per_recipient'), 1)} "
            f"| {_num(e['p50_ms'], 1)} / {_num(e['p99_ms'], 1)} "
            f"| {_num(w.get('p50_ms'), 1)} / {_num(w.get('p99_ms'), 1)} |"
        )
    lines += [
        "",
        "`auto` sends personalized content, so it plans batches; its raw column is the batch raw loop. "
        f"`*`: the mock's CPU was at least {MOCK_BUSY:.0%} busy during that raw-loop run, so the figure is "
        "the mock's limit rather than the client's (the ratio then understates the raw loop's headroom).",
        "",
        "## Every cell (medians)",
        "",
        "| client | mode | latency | conc | recipients | recipients/s | requests/s | µs CPU/recipient "
        "| process CPU s | p50 ms | p99 ms | peak RSS MB | mock CPU busy | errors | ok runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in results["cells"].values():
        med = cell["median"]
        lines.append(
            f"| {cell['client']} | {cell['mode']} | {cell['latency_ms']} ms | {cell['concurrency']} "
            f"| {cell['count']:,} | {_num(med['recipients_per_s'])} | {_num(med['requests_per_s'])} "
            f"| {_num(med['cpu_us_per_recipient'], 1)} | {_num(med['process_cpu_s'], 2)} "
            f"| {_num(med['p50_ms'], 1)} | {_num(med['p99_ms'], 1)} | {_num(med['peak_rss_mb'], 1)} "
            f"| {_num((med['mock_cpu_share'] or 0) * 100)}% | {_num(med['errors'])} "
            f"| {med['ok_repeats']}/{med['repeats']} |"
        )
    if naive:
        lines += [
            "",
            f"Naive baseline (urllib, a new connection per POST, sequential, 20 ms latency): "
            f"{naive['recipients_per_s']:.1f} recipients/s, {naive['cpu_us_per_recipient']:.0f} µs CPU each.",
        ]
    lines += ["", "## Memory: `send` in batch mode, peak RSS", "", "| records | peak RSS MB | recipients/s |"]
    lines.append("|---:|---:|---:|")
    for row in results.get("memory") or []:
        lines.append(f"| {row['records']:,} | {row['peak_rss_mb']:.1f} | {row['recipients_per_s']:,.0f} |")
    lines += ["", "## Targets", "", "| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    for c in checks:
        sign = "≤" if "RSS" in c["target"] else "≥"
        verdict = {True: "pass", False: "**miss**", None: "not measured"}[c["passed"]]
        lines.append(
            f"| {c['target']} | {_num(c['measured'], 2)} {c['unit']} | {sign} {c['goal']:g} {c['unit']} "
            f"| {verdict} |"
        )
    for note in results["notes"]:
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> str | None:
    """Recipients/s by mode and concurrency, engine vs raw loop, one panel per latency; None if drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): the PNG chart was skipped"
    rows = [r for r in comparisons(results) if r["mode"] != "auto"]
    latencies = results["plan"]["latencies_ms"]
    fig, axes = plt.subplots(1, len(latencies), figsize=(6 * len(latencies), 4.5), squeeze=False)
    for ax, latency in zip(axes[0], latencies, strict=True):
        mine = [r for r in rows if r["latency_ms"] == latency]
        labels = [f"{r['mode']}\nc={r['concurrency']}" for r in mine]
        xs = range(len(mine))
        engine = [r["engine"]["recipients_per_s"] for r in mine]
        raw = [(r["raw"] or {}).get("recipients_per_s") or 0 for r in mine]
        ax.bar([x - 0.2 for x in xs], raw, width=0.4, label="raw aiohttp loop", color="#bbbbbb")
        ax.bar([x + 0.2 for x in xs], engine, width=0.4, label="getui-push send", color="#1f77b4")
        for x, r, height in zip(xs, mine, engine, strict=True):
            if r["vs_raw"] is not None:
                ax.annotate(f"{r['vs_raw']:.2f}x", (x + 0.2, height), ha="center", va="bottom", fontsize=7)
        ax.set_yscale("log")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("recipients/s (log scale)")
        ax.set_title(f"mock latency {latency} ms")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    m = results["machine"]
    fig.suptitle(
        f"getui_async benchmark: {m['cpus']} CPUs, Python {m['python']}, {m['event_loop']}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write(results: dict[str, Any], out_dir: Path, *, chart_png: bool = True) -> dict[str, Any]:
    """Write ``<stamp>.md``, ``<stamp>.json`` and ``<stamp>.png``; return their paths and the markdown."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results["stamp"] = stamp
    base = out_dir / f"{results['kind']}-{stamp}"
    paths: dict[str, Any] = {
        "markdown": base.with_suffix(".md"),
        "json": base.with_suffix(".json"),
        "png": None,
    }
    if chart_png:
        png = base.with_suffix(".png")
        skipped = chart(results, png)
        if skipped:
            results["notes"].append(skipped)
        else:
            paths["png"] = png
    else:
        results["notes"].append("chart skipped (--no-chart)")
    text = markdown(results)
    paths["markdown"].write_text(text, encoding="utf-8")
    paths["json"].write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    paths["markdown_text"] = text
    return paths
