"""The benchmark's parts that every cell shares: cells and runs, the child processes, the mock, the inputs.

Child processes are measured from outside with ``os.wait4`` (CPU and peak RSS); the mock runs pinned to
its own CPU and is controlled over HTTP on 127.0.0.1. ``bench.py`` and the other cells import these.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from clients import cid_of, name_of

from getui_async.mock.capacity import process_cpu_s

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Cell:
    """One measured configuration; ``client`` is engine, raw or naive; ``feature`` a switched-on option."""

    client: str
    mode: str
    concurrency: int
    latency_ms: int
    count: int
    feature: str = ""

    @property
    def key(self) -> str:
        key = f"{self.client}/{self.mode}/c{self.concurrency}/{self.latency_ms}ms"
        return f"{key}/{self.feature}" if self.feature else key


@dataclass
class Run:
    """One child process's figures."""

    cell: Cell
    ok: bool
    recipients: int = 0
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    process_cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    mock_cpu_share: float | None = None
    mock_peak_rss_mb: float | None = None
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
    #: Sizes of the large cell (``send`` end to end in list and batch mode); empty: not run.
    large_counts: tuple[int, ...] = ()
    #: Records per feature cell (batch with the ledger, exclusions, variants or metrics on); 0: not run.
    feature_count: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, mode: str, concurrency: int, latency_ms: int) -> int:
        """Recipients for a cell: a few seconds of work, never more than the cap."""
        if mode != "single":
            return self.bulk_count
        if latency_ms == 0:
            return self.single_max
        per_s = concurrency / (latency_ms / 1000)  # what the latency allows
        return max(1000, min(self.single_max, round(per_s * 3 / 100) * 100))


FULL = Plan(
    (16, 64, 256), (0, 20), 3, 15_000, 200_000, 200, (100_000, 1_000_000), 240.0, 900.0,
    large_counts=(1_000_000, 10_000_000), feature_count=200_000,
)  # fmt: skip
QUICK = Plan((64,), (0, 20), 1, 2_000, 20_000, 40, (10_000, 100_000), 60.0, 50.0, feature_count=20_000)


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

    def peak_rss_mb(self) -> float | None:
        """The mock's peak RSS so far (``VmHWM``): it keeps per-cid delivery state, ~270 B a cid."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

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
        """The file of ``count`` records, written in blocks of 10,000 rows (constant memory at any size)."""
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
        """Delete a generated file (the million-record one is 40 MB, ten million 450 MB)."""
        path = self._files.pop(count, None)
        if path is not None:
            path.unlink()


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
