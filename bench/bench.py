"""The getui_async benchmark: the engine against a raw aiohttp loop and a naive client, same run, same mock.

    python bench/bench.py            # the full matrix (about 10 minutes on 2 cores)
    python bench/bench.py --quick    # a smoke-sized run (under a minute)

One mock server (``python -m getui_async.mock``) runs for the whole benchmark in its own process, pinned
to its own CPU when there are two or more; every client runs as a child process pinned to the others,
so each gets exact CPU and peak-RSS accounting (``os.wait4``). Between runs the mock is reset (it
forgets deliveries and request_ids) and its latency is set through its control API. Each cell is
repeated and the median kept; engine and raw-loop runs alternate so a change in machine load hits both.
The engine is reported as a ratio to the raw loop and to the naive client measured in the same run:
absolute figures move between machines, ratios hold.

Output (``--out``, default ``bench/results``, or ``bench/results/quick`` with ``--quick``):
``<stamp>.md`` (the tables, also printed), ``<stamp>.json`` (every figure of every run) and
``<stamp>.png`` (needs matplotlib: ``pip install -e '.[bench]'``; without it the chart is skipped with a
note).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import report
from clients import APP_ID, APP_KEY, MASTER_SECRET, cid_of, engine_template, name_of

from getui_async.mock.capacity import process_cpu_s

HERE = Path(__file__).resolve().parent
MODES = ("single", "batch", "list")


@dataclass(frozen=True)
class Cell:
    """One measured configuration; ``client`` is engine, raw or naive."""

    client: str
    mode: str
    concurrency: int
    latency_ms: int
    count: int

    @property
    def key(self) -> str:
        return f"{self.client}/{self.mode}/c{self.concurrency}/{self.latency_ms}ms"


@dataclass
class Run:
    """One child process's figures."""

    cell: Cell
    ok: bool
    recipients: int = 0
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0
    process_cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    mock_cpu_share: float | None = None
    note: str = ""

    @property
    def recipients_per_s(self) -> float:
        return self.recipients / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_us_per_recipient(self) -> float:
        return self.cpu_s / self.recipients * 1e6 if self.recipients else 0.0

    def figures(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "cell"}
        out.update(
            recipients_per_s=self.recipients_per_s,
            requests_per_s=self.requests_per_s,
            cpu_us_per_recipient=self.cpu_us_per_recipient,
        )
        return out


@dataclass
class Plan:
    """What a benchmark run measures."""

    concurrencies: tuple[int, ...]
    latencies_ms: tuple[int, ...]
    repeats: int
    single_max: int
    bulk_count: int
    naive_count: int
    memory_counts: tuple[int, int]
    child_timeout_s: float
    budget_s: float
    notes: list[str] = field(default_factory=list)

    def count(self, mode: str, concurrency: int, latency_ms: int) -> int:
        """Recipients for a cell: a few seconds of work, never more than the cap."""
        if mode != "single":
            return self.bulk_count
        if latency_ms == 0:
            return self.single_max
        per_s = concurrency / (latency_ms / 1000)  # what the latency allows
        return max(1000, min(self.single_max, round(per_s * 3 / 100) * 100))


FULL = Plan((16, 64, 256), (0, 20), 3, 15_000, 200_000, 200, (100_000, 1_000_000), 240.0, 900.0)
QUICK = Plan((64,), (0, 20), 1, 2_000, 20_000, 40, (10_000, 100_000), 60.0, 50.0)


# -- processes ---------------------------------------------------------------------------------------------


def cpu_split() -> tuple[int | None, set[int] | None]:
    """``(mock CPU, client CPUs)``: the last allowed CPU for the mock, the rest for clients."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[-1], set(cpus[:-1])


@dataclass
class Child:
    """A finished child: exit code, its resource usage and what it printed."""

    code: int
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool


def run_child(argv: Sequence[str], timeout_s: float, env: dict[str, str]) -> Child:
    """Run ``argv`` to the end (killed after ``timeout_s``) and read its rusage with ``os.wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        timer = threading.Timer(timeout_s, proc.kill)  # kills only the child we started
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
        return Child(
            code=proc.returncode,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=rss_kb / 1024,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=proc.returncode == -signal.SIGKILL,
        )


class Mock:
    """The bundled mock server in its own process (pinned), controlled over HTTP."""

    def __init__(self, cpu: int | None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "getui_async.mock", "--port", "0", "--list-chunk-limit", "1000"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        if cpu is not None:
            os.sched_setaffinity(self.proc.pid, {cpu})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip().removeprefix("export ")
        if not line.startswith("GETUI_BASE_URL=http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the mock server did not start: {line!r}")
        self.base_url = line.partition("=")[2]
        self.root = self.base_url.rsplit("/v2", 1)[0]

    def control(self, path: str, body: dict[str, Any] | None = None) -> None:
        data = orjson.dumps(body if body is not None else {})
        url = f"{self.root}/_mock/{path}"  # the mock we started, on 127.0.0.1
        request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - http://127.0.0.1
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - http://127.0.0.1
            if orjson.loads(resp.read()).get("code") != 0:
                raise RuntimeError(f"mock control {path} refused")

    def prepare(self, latency_ms: int) -> None:
        self.control("reset")
        self.control("faults", {"latency_ms": latency_ms})

    def cpu_s(self) -> float | None:
        return process_cpu_s(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- inputs ------------------------------------------------------------------------------------------------


class Inputs:
    """Recipients files (``cid,name``), generated once per size, with the cids the raw loop uses."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[int, Path] = {}

    def csv(self, count: int) -> Path:
        path = self._files.get(count)
        if path is None:
            path = self.directory / f"recipients-{count}.csv"
            with path.open("w", encoding="utf-8") as handle:
                handle.write("cid,name\n")
                for start in range(0, count, 10_000):
                    rows = (f"{cid_of(i)},{name_of(i)}\n" for i in range(start, min(count, start + 10_000)))
                    handle.write("".join(rows))
            self._files[count] = path
        return path

    def drop(self, count: int) -> None:
        """Delete a generated file (the million-record one is 40 MB)."""
        path = self._files.pop(count, None)
        if path is not None:
            path.unlink()


# -- running cells -----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, plan: Plan, mock: Mock, workdir: Path, channels: str) -> None:
        self.plan = plan
        self.channels = channels
        self.templates: dict[bool, Path] = {}
        for personal in (True, False):
            path = workdir / f"message-{'personal' if personal else 'identical'}.json"
            path.write_bytes(orjson.dumps(engine_template(personal, channels)))
            self.templates[personal] = path
        self.mock = mock
        self.workdir = workdir
        self.inputs = Inputs(workdir)
        self.run_tag = uuid.uuid4().hex[:6]
        self.seq = 0
        self.env = {
            **os.environ,
            "GETUI_APP_ID": APP_ID,
            "GETUI_APP_KEY": APP_KEY,
            "GETUI_MASTER_SECRET": MASTER_SECRET,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }

    def _run_id(self) -> str:
        self.seq += 1
        return f"b{self.run_tag}{self.seq:05d}"  # 12 characters: unique request_ids per run

    def run(self, cell: Cell) -> Run:
        self.mock.prepare(cell.latency_ms)
        mock_cpu0, wall0 = self.mock.cpu_s(), time.perf_counter()
        result = self._engine(cell) if cell.client == "engine" else self._reference(cell)
        wall = time.perf_counter() - wall0
        mock_cpu1 = self.mock.cpu_s()
        if mock_cpu0 is not None and mock_cpu1 is not None and wall > 0:
            result.mock_cpu_share = (mock_cpu1 - mock_cpu0) / wall
        return result

    def _engine(self, cell: Cell) -> Run:
        template = self.templates[cell.mode != "list"]  # list cells: identical content for everyone
        run_id = self._run_id()
        out = self.workdir / f"results-{run_id}.jsonl"
        summary, probe = self.workdir / f"summary-{run_id}.json", self.workdir / f"probe-{run_id}.json"
        argv = [
            sys.executable, str(HERE / "cli_probe.py"), str(probe),
            "send", str(self.inputs.csv(cell.count)), "--out", str(out),
            "--message", str(template), "--mode", cell.mode,
            "--concurrency", str(cell.concurrency), "--no-progress", "--base-url", self.mock.base_url,
            "--campaign", run_id, "--summary-json", str(summary),
            # The raw loop sends the template as it is: no vendor class options (and so no
            # push_channel) on the engine's side either, so both put the same bytes on the wire.
            "--vendor-class", "none",
        ]  # fmt: skip
        child = run_child(argv, self.plan.child_timeout_s, self.env)
        try:
            facts = orjson.loads(summary.read_bytes())
            inside = orjson.loads(probe.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return self._failed(cell, child)
        finally:
            for path in (out, out.with_name(out.name + ".meta.json"), summary, probe):
                path.unlink(missing_ok=True)
        counts = facts["counts"]
        errors = counts.get("failed", 0) + counts.get("rejected", 0) + cell.count - facts["lines_written"]
        return Run(
            cell,
            ok=child.code == 0 and errors == 0,
            recipients=facts["lines_written"],
            requests=facts["requests"],
            errors=errors,
            elapsed_s=facts["elapsed_s"],
            cpu_s=inside["cpu_s"],
            process_cpu_s=child.cpu_s,
            peak_rss_mb=child.peak_rss_mb,
            p50_ms=inside["p50_ms"],
            p99_ms=inside["p99_ms"],
        )

    def _reference(self, cell: Cell) -> Run:
        argv = [
            sys.executable, str(HERE / "clients.py"), cell.client, "--base-url", self.mock.base_url,
            "--mode", cell.mode, "--count", str(cell.count), "--concurrency", str(cell.concurrency),
            "--run-id", self._run_id(), "--channels", self.channels,
        ]  # fmt: skip
        child = run_child(argv, self.plan.child_timeout_s, self.env)
        try:
            facts = orjson.loads(child.stdout.strip().splitlines()[-1])
        except (IndexError, orjson.JSONDecodeError):
            return self._failed(cell, child)
        return Run(
            cell,
            ok=child.code == 0 and facts["errors"] == 0,
            recipients=facts["recipients"],
            requests=facts["requests"],
            errors=facts["errors"],
            elapsed_s=facts["elapsed_s"],
            cpu_s=facts["cpu_s"],
            process_cpu_s=child.cpu_s,
            peak_rss_mb=child.peak_rss_mb,
            p50_ms=facts["p50_ms"],
            p99_ms=facts["p99_ms"],
        )

    @staticmethod
    def _failed(cell: Cell, child: Child) -> Run:
        why = "timed out" if child.timed_out else f"exit {child.code}"
        tail = child.stderr.strip().splitlines()[-3:]
        return Run(cell, ok=False, errors=cell.count, note=f"{why}: {' | '.join(tail)}"[:300])


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


def median_run(runs: Sequence[Run]) -> dict[str, Any]:
    """The median of every figure over the successful repeats (all repeats when none succeeded)."""
    good = [r for r in runs if r.ok] or list(runs)
    figures = [r.figures() for r in good]
    out: dict[str, Any] = {"repeats": len(runs), "ok_repeats": sum(r.ok for r in runs)}
    for key, value in figures[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [f[key] for f in figures if f[key] is not None]
            out[key] = statistics.median(values) if values else None
        elif key == "note":
            out[key] = "; ".join(sorted({f[key] for f in figures if f[key]}))
    return out


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    import aiohttp

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "event_loop": loop,
        "aiohttp": aiohttp.__version__,
        "orjson": orjson.__version__,
        "load_average_start": list(os.getloadavg()),
    }


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
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run (under a minute)")
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
    args = parser.parse_args(argv)
    plan = replace(QUICK if args.quick else FULL, notes=[])
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
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
        "duration_s": time.monotonic() - started,
    }
    paths = report.write(results, out_dir, chart_png=not args.no_chart)
    print(paths["markdown_text"])
    for kind in ("markdown", "json", "png"):
        if paths.get(kind):
            print(f"{kind}: {paths[kind]}")
    return 0 if all(c["median"]["ok_repeats"] for c in results["cells"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
