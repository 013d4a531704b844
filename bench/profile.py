"""Profile one engine run (``getui-push send``) against the bundled mock, every thread, stage by stage.

    python bench/profile.py --mode list --count 1000000     # also: --mode batch, --mode single (20,000)

The mock runs pinned to its own CPU and the client to the others, exactly as in the benchmark. The
client runs under py-spy (``py-spy record --threads --format raw``, the ``bench`` extra), which samples
every thread, the input reader's included. Each sample's stack is given a stage by the rules in
``stages.py`` (read, parse, render, ids, dedupe, plan, encode, send, reply parse, result line, write,
fsync, events/progress, startup/other), and each stage's share of the samples is turned into µs of
client CPU per recipient: ``samples x cpu_s / all samples / recipients``, where ``cpu_s`` is the CPU the
run spent inside ``cli.main`` (from ``cli_probe.py``; the profiler's pauses slow the run, not this
figure much). The table and the 40 functions with the most self time are written to
``bench/results/profile-<mode>.txt`` (``--out`` to change) and printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from harness import HERE, QUICK, Cell, Mock, Run, cpu_split
from large import timeout_s
from runner import Bench
from stages import IDLE, STAGES, Classifier, parse_raw

DEFAULT_COUNT = {"list": 1_000_000, "batch": 1_000_000, "single": 20_000}
TOP = 40


def breakdown(raw_lines: list[str], run: Run, mode: str) -> str:
    """The per-stage table and the top self-time functions, as text."""
    stacks = parse_raw(raw_lines)
    classify = Classifier()
    by_stage: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    for frames, count in stacks:
        by_stage[classify.stage(frames)] += count
        if frames and classify.stage(frames[-1:]) != IDLE:
            by_self[frames[-1].name] += count
    idle = by_stage.pop(IDLE, 0)
    total = sum(by_stage.values()) or 1
    us = run.cpu_s / total / run.recipients * 1e6 if run.recipients else 0.0
    lines = [
        f"# getui-push send --mode {mode}: {run.recipients:,} recipients, {run.cpu_s:.2f} s client CPU "
        f"inside cli.main ({run.cpu_us_per_recipient:.2f} µs/recipient), {total:,} samples, "
        f"{time.strftime('%Y-%m-%d %H:%M')}; {idle:,} more samples of threads blocked in a wait left out",
        "",
        f"{'stage':<16} {'samples':>8} {'share':>7} {'µs/recipient':>13}",
    ]
    for stage in STAGES:
        n = by_stage.get(stage, 0)
        lines.append(f"{stage:<16} {n:>8,} {n / total:>7.1%} {n * us:>13.2f}")
    lines += [
        f"{'total':<16} {total:>8,} {1:>7.1%} {total * us:>13.2f}",
        "",
        f"Top {TOP} functions by self time:",
    ]
    lines += [f"{n:>8,} {n / total:>7.1%} {n * us:>8.2f} µs  {name}" for name, n in by_self.most_common(TOP)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("single", "batch", "list"), default="batch")
    parser.add_argument("--count", type=int, help="records (default 1,000,000; single 20,000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    parser.add_argument("--out", type=Path, help="profile file (default bench/results/profile-MODE.txt)")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        print("py-spy is not installed: pip install -e '.[bench]' (or pip install py-spy)", file=sys.stderr)
        return 2
    count = args.count or DEFAULT_COUNT[args.mode]
    out = args.out or HERE / "results" / f"profile-{args.mode}.txt"
    mock_cpu, client_cpus = cpu_split()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory(prefix="getui-profile-") as tmp:
        raw = Path(tmp) / "py-spy.txt"
        mock = Mock(mock_cpu)
        try:
            bench = Bench(replace(QUICK, child_timeout_s=2 * timeout_s(count)), mock, Path(tmp), "getui")
            bench.wrap = [py_spy, "record", "--threads", "--format", "raw", "--rate", str(args.rate)]
            bench.wrap += ["--output", str(raw), "--"]
            run = bench.run(Cell("engine", args.mode, args.concurrency, args.latency_ms, count))
        finally:
            mock.close()
        if not run.ok or not raw.exists():
            print(f"the profiled run failed: {run.note}", file=sys.stderr)
            return 1
        text = breakdown(raw.read_text().splitlines(), run, args.mode)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"profile: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
