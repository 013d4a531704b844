"""Turn the benchmark's figures into the markdown tables, the target checks, the JSON file and the chart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from targets import comparisons, naive, targets

#: A mock this busy (CPU seconds per wall second) is the limit of the run, not the client.
MOCK_BUSY = 0.90

__all__ = ["comparisons", "markdown", "num", "progress_line", "target_rows", "targets", "write"]


def progress_line(cell: Any, run: Any, rep: int, repeats: int) -> str:
    state = "ok" if run.ok else f"FAILED {run.note}"
    return (
        f"[{rep + 1}/{repeats}] {cell.key:<28} {run.recipients_per_s:>10,.0f} recipients/s "
        f"{run.cpu_us_per_recipient:>7.1f} us/recipient  {state}"
    )


def _busy(run: dict[str, Any]) -> str:
    return "*" if (run.get("mock_cpu_share") or 0) >= MOCK_BUSY else ""


def num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    rows = comparisons(results)
    checks = targets(results, rows)
    results["comparisons"] = [{k: v for k, v in r.items() if k not in ("engine", "raw")} for r in rows]
    results["targets"] = checks
    m = results["machine"]
    naive_run = naive(results)
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
            f"| {r['mode']} | {r['latency_ms']} ms | {r['concurrency']} | {num(e['recipients_per_s'])} "
            f"| {num(w.get('recipients_per_s'))}{_busy(w)} | {num(r['vs_raw'], 2)} "
            f"| {num(r['vs_naive'], 0)} "
            f"| {num(e['cpu_us_per_recipient'], 1)} | {num(w.get('cpu_us_per_recipient'), 1)} "
            f"| {num(e['p50_ms'], 1)} / {num(e['p99_ms'], 1)} "
            f"| {num(w.get('p50_ms'), 1)} / {num(w.get('p99_ms'), 1)} |"
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
            f"| {cell['count']:,} | {num(med['recipients_per_s'])} | {num(med['requests_per_s'])} "
            f"| {num(med['cpu_us_per_recipient'], 1)} | {num(med['process_cpu_s'], 2)} "
            f"| {num(med['p50_ms'], 1)} | {num(med['p99_ms'], 1)} | {num(med['peak_rss_mb'], 1)} "
            f"| {num((med['mock_cpu_share'] or 0) * 100)}% | {num(med['errors'])} "
            f"| {med['ok_repeats']}/{med['repeats']} |"
        )
    if naive_run:
        lines += [
            "",
            f"Naive baseline (urllib, a new connection per POST, sequential, 20 ms latency): "
            f"{naive_run['recipients_per_s']:.1f} recipients/s, "
            f"{naive_run['cpu_us_per_recipient']:.0f} µs CPU each.",
        ]
    lines += ["", "## Memory: `send` in batch mode, peak RSS", "", "| records | peak RSS MB | recipients/s |"]
    lines.append("|---:|---:|---:|")
    for row in results.get("memory") or []:
        lines.append(f"| {row['records']:,} | {row['peak_rss_mb']:.1f} | {row['recipients_per_s']:,.0f} |")
    lines += _features(results.get("features") or [])
    lines += large_rows(results.get("large") or [])
    lines += ["", "## Targets", "", "| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    lines += target_rows(checks)
    for note in results["notes"]:
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def target_rows(checks: list[dict[str, Any]]) -> list[str]:
    """The Targets table's rows (scripts read them: a row's text never changes); the sign is the check's."""
    rows = []
    for c in checks:
        sign = "≤" if c["at_most"] else "≥"
        verdict = {True: "pass", False: "**miss**", None: "not measured"}[c["passed"]]
        rows.append(
            f"| {c['target']} | {num(c['measured'], 2)} {c['unit']} | {sign} {c['goal']:g} {c['unit']} "
            f"| {verdict} |"
        )
    return rows


def _features(rows: list[dict[str, Any]]) -> list[str]:
    """The feature cells: each feature on, against the plain engine runs around it."""
    if not rows:
        return []
    plain = rows[0]["plain"]
    lines = [
        "",
        f"## Feature cells: engine batch c64 0 ms, {rows[0]['records']:,} records, one feature on",
        "",
        f"Plain engine runs (medians): {num(plain['recipients_per_s'])} recipients/s, "
        f"{num(plain['cpu_us_per_recipient'], 1)} µs CPU/recipient. Ratios are medians over the repeats "
        "of the feature run against the plain runs just before and after it.",
        "",
        "| feature | flags | recipients/s | µs CPU/recipient | recipients/s vs plain | CPU vs plain "
        "| ok runs |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        med = row["median"]
        lines.append(
            f"| {row['feature']} | `{row['flags']}` | {num(med['recipients_per_s'])} "
            f"| {num(med['cpu_us_per_recipient'], 1)} | {num(row['rate_ratio'], 2)} x "
            f"| {num(row['cpu_ratio'], 2)} x | {med['ok_repeats']}/{med['repeats']} |"
        )
    return lines


def large_rows(rows: list[dict[str, Any]]) -> list[str]:
    """The large cell: ``send`` end to end, one run per size and mode."""
    if not rows:
        return []
    lines = [
        "",
        "## Large cell: `send` end to end (CSV in, results out), c64, 0 ms",
        "",
        "Wall: the whole child process, start-up included. CPU s: the engine's, as in the cells; process "
        "CPU s: the whole process. recipients/s: records / wall. Mock peak RSS: its `VmHWM` so far "
        "(reset before each run, but a process's high-water mark never comes down).",
        "",
        "| mode | records | wall s | CPU s | process CPU s | µs CPU/recipient | recipients/s | peak RSS MB "
        "| mock peak RSS MB | ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines.extend(
        f"| {row['mode']} | {row['records']:,} | {num(row['wall_s'], 1)} | {num(row['cpu_s'], 1)} "
        f"| {num(row['process_cpu_s'], 1)} | {num(row['cpu_us_per_recipient'], 1)} "
        f"| {num(row['end_to_end_per_s'])} | {num(row['peak_rss_mb'], 1)} "
        f"| {num(row['mock_peak_rss_mb'], 0)} | {'ok' if row['ok'] else 'FAILED ' + row['note']} |"
        for row in rows
    )
    return lines


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
