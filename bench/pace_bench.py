"""The #14 benchmark cell: batch-mode ``getui-push send`` with and without ``--ledger --max-per-day``.

    python bench/pace_bench.py                         # 1 M recipients, a ledger holding 1 M rows today
    python bench/pace_bench.py --count 200000 --repeats 2 --json

The same mock process as ``bench.py`` (pinned to its own CPU, reset before each run), the same
recipients file, concurrency 64, no latency. The ledger run starts from a copy of one prepared ledger
holding ``--existing`` rows for today (Asia/Shanghai) from an earlier campaign, for other cids, so
every recipient is checked, sent and recorded, and both runs send exactly the same pushes. Runs
alternate (plain, ledger, plain, ...) so a change in machine load hits both; the median is kept.
Throughput is result lines per second of the run's own clock (the summary's ``recipients_per_s``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from ledger_bench import fill_sqlite

from bench import FULL, Bench, Mock, cpu_split, run_child

TARGET_RATIO = 0.8  # issue #14: with the ledger, within 20% of a run without it


def prepare_ledger(path: Path, rows: int) -> float:
    """``rows`` deliveries today by another campaign (cids not in the input); seconds taken."""
    return fill_sqlite(path, rows)


def one_run(bench: Bench, count: int, ledger: Path | str | None, timeout_s: float) -> dict[str, Any]:
    """One ``send`` child: its summary figures, CPU and peak RSS."""
    bench.mock.prepare(0)
    run_id = bench._run_id()
    out = bench.workdir / f"results-{run_id}.jsonl"
    summary = bench.workdir / f"summary-{run_id}.json"
    argv = [
        sys.executable, "-m", "getui_async", "send", str(bench.inputs.csv(count)), "--out", str(out),
        "--message", str(bench.templates[True]), "--mode", "batch", "--concurrency", "64",
        "--no-progress", "--base-url", bench.mock.base_url, "--campaign", run_id,
        "--summary-json", str(summary),
    ]  # fmt: skip
    if ledger is not None:
        argv += ["--ledger", str(ledger), "--max-per-day", "1"]
    child = run_child(argv, timeout_s, bench.env)
    try:
        facts = orjson.loads(summary.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        raise RuntimeError(f"run failed (exit {child.code}): {child.stderr[-2000:]}") from None
    finally:
        for path in (out, out.with_name(out.name + ".meta.json"), summary):
            path.unlink(missing_ok=True)
    delivered = sum(v for k, v in facts["counts"].items() if k.startswith("successed_") or k == "accepted")
    return {
        "ledger": ledger is not None,
        "exit": child.code,
        "lines": facts["lines_written"],
        "delivered": delivered,
        "capped": facts["counts"].get("capped", 0),
        "elapsed_s": facts["elapsed_s"],
        "recipients_per_s": facts["recipients_per_s"],
        "cpu_s": round(child.cpu_s, 2),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="recipients per run (default 1 M)")
    parser.add_argument("--existing", type=int, help="ledger rows for today before the run (default --count)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each kind (default 1)")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="longest one run may take")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args(argv)
    existing = args.count if args.existing is None else args.existing
    mock_cpu, _ = cpu_split()
    mock = Mock(mock_cpu)
    try:
        with tempfile.TemporaryDirectory(prefix="pace-bench-") as tmp:
            workdir = Path(tmp)
            bench = Bench(replace(FULL, repeats=args.repeats), mock, workdir, "getui")
            prepared = workdir / "prepared.sqlite"
            fill_s = prepare_ledger(prepared, existing)
            bench.inputs.csv(args.count)
            runs: list[dict[str, Any]] = []
            for _ in range(args.repeats):
                runs.append(one_run(bench, args.count, None, args.timeout_s))
                ledger = workdir / "ledger.sqlite"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{ledger}{suffix}").unlink(missing_ok=True)
                shutil.copy(prepared, ledger)
                runs.append(one_run(bench, args.count, ledger, args.timeout_s))
    finally:
        mock.close()
    plain = statistics.median(r["recipients_per_s"] for r in runs if not r["ledger"])
    paced = statistics.median(r["recipients_per_s"] for r in runs if r["ledger"])
    result = {
        "count": args.count,
        "existing_rows": existing,
        "ledger_fill_s": round(fill_s, 1),
        "plain_recipients_per_s": plain,
        "ledger_recipients_per_s": paced,
        "ratio": round(paced / plain, 3) if plain else None,
        "target_ratio": TARGET_RATIO,
        "runs": runs,
    }
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        for run in runs:
            print(
                f"{'ledger' if run['ledger'] else 'plain ':6}  {run['lines']:>9,} lines  "
                f"{run['elapsed_s']:>7.1f} s  {run['recipients_per_s']:>9,.0f}/s  "
                f"cpu {run['cpu_s']:>6.1f} s  rss {run['peak_rss_mb']:>6.1f} MB  exit {run['exit']}"
            )
        print(
            f"batch, {args.count:,} recipients, ledger holding {existing:,} rows today: "
            f"plain {plain:,.0f}/s, "
            f"--ledger --max-per-day 1 {paced:,.0f}/s (ratio {result['ratio']}, target >= {TARGET_RATIO})"
        )
    ok = all(r["exit"] == 0 and r["lines"] == args.count for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
