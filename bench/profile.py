"""Profile one engine run (``getui-push send``) against the bundled mock, the way ``bench.py`` runs it.

    python bench/profile.py --mode batch --count 200000      # also: --mode single --count 20000

The mock runs pinned to its own CPU, the client to the others, exactly as in the benchmark. The client
runs under pyinstrument (the ``bench`` extra) and the text profile of the main thread is written to
``bench/results/profile-<mode>.txt`` (``--out`` to change) and its top printed. The reader thread
(CSV parsing, ~2 µs per record) is not in a pyinstrument profile; ``py-spy record --threads`` shows it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import orjson
from clients import engine_template

from bench import HERE, QUICK, Bench, Cell, Mock, cpu_split, run_child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("single", "batch", "list"), default="batch")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--out", type=Path, help="profile file (default bench/results/profile-MODE.txt)")
    args = parser.parse_args(argv)
    try:
        import pyinstrument  # noqa: F401 - only checking that the bench extra is installed
    except ImportError:
        print("pyinstrument is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    out = args.out or HERE / "results" / f"profile-{args.mode}.txt"
    mock_cpu, client_cpus = cpu_split()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory(prefix="getui-profile-") as tmp:
        mock = Mock(mock_cpu)
        try:
            mock.prepare(args.latency_ms)
            bench = Bench(replace(QUICK, child_timeout_s=600.0), mock, Path(tmp), "getui")
            cell = Cell("engine", args.mode, args.concurrency, args.latency_ms, args.count)
            message = Path(tmp) / "message.json"
            message.write_bytes(orjson.dumps(engine_template(args.mode != "list", "getui")))
            argv_ = [
                sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile", str(out),
                str(HERE / "cli_probe.py"), str(Path(tmp) / "probe.json"),
                "send", str(bench.inputs.csv(cell.count)), "--out", str(Path(tmp) / "results.jsonl"),
                "--message", str(message), "--mode", args.mode, "--concurrency", str(args.concurrency),
                "--no-progress", "--base-url", mock.base_url, "--campaign", bench._run_id(),
            ]  # fmt: skip
            child = run_child(argv_, 600, bench.env)
        finally:
            mock.close()
    if child.code != 0 or not out.exists():
        print(child.stderr[-2000:], file=sys.stderr)
        return 1
    print("\n".join(out.read_text().splitlines()[:60]))
    print(f"\nprofile: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
