"""Running one cell: the engine (``getui-push send`` through ``cli_probe.py``) or a reference client.

Every run gets a freshly reset mock, its own child process (exact CPU and peak RSS from ``os.wait4``)
and unique request_ids; the engine's results, summary and probe files are deleted once read.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson
from clients import APP_ID, APP_KEY, MASTER_SECRET, engine_template
from harness import HERE, Cell, Child, Inputs, Mock, Plan, Run, run_child


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
        #: Put before the engine's command line (a profiler that runs it: ``profile.py``).
        self.wrap: list[str] = []
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

    def run(
        self,
        cell: Cell,
        *,
        extra: Sequence[str] = (),
        message: Sequence[str] | None = None,
        timeout_s: float | None = None,
    ) -> Run:
        """Run one cell on a freshly reset mock; engine cells take ``extra`` flags and may replace
        ``--message FILE`` by ``message`` (variants are the message)."""
        if cell.client == "engine":
            self.inputs.csv(cell.count)  # generated before the clock starts
        self.mock.prepare(cell.latency_ms)
        mock_cpu0, wall0 = self.mock.cpu_s(), time.perf_counter()
        timeout_s = timeout_s or self.plan.child_timeout_s
        if cell.client == "engine":
            result = self._engine(cell, extra, message, timeout_s)
        else:
            result = self._reference(cell, timeout_s)
        wall = time.perf_counter() - wall0
        result.wall_s = wall
        mock_cpu1 = self.mock.cpu_s()
        if mock_cpu0 is not None and mock_cpu1 is not None and wall > 0:
            result.mock_cpu_share = (mock_cpu1 - mock_cpu0) / wall
        result.mock_peak_rss_mb = self.mock.peak_rss_mb()
        return result

    def _engine(
        self, cell: Cell, extra: Sequence[str], message: Sequence[str] | None, timeout_s: float
    ) -> Run:
        template = self.templates[cell.mode != "list"]  # list cells: identical content for everyone
        if message is None:
            message = ("--message", str(template))
        run_id = self._run_id()
        out = self.workdir / f"results-{run_id}.jsonl"
        summary, probe = self.workdir / f"summary-{run_id}.json", self.workdir / f"probe-{run_id}.json"
        argv = [
            *self.wrap, sys.executable, str(HERE / "cli_probe.py"), str(probe),
            "send", str(self.inputs.csv(cell.count)), "--out", str(out),
            *message, "--mode", cell.mode,
            "--concurrency", str(cell.concurrency), "--no-progress", "--base-url", self.mock.base_url,
            "--campaign", run_id, "--summary-json", str(summary),
            # The raw loop sends the template as it is: no vendor class options (and so no
            # push_channel) on the engine's side either, so both put the same bytes on the wire.
            "--vendor-class", "none", *extra,
        ]  # fmt: skip
        child = run_child(argv, timeout_s, self.env)
        try:
            facts = orjson.loads(summary.read_bytes())
            inside = orjson.loads(probe.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return self._failed(cell, child)
        finally:
            for path in (
                *(out.with_name(out.name + tail) for tail in ("", ".meta.json", ".lock")),
                summary,
                probe,
            ):
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

    def _reference(self, cell: Cell, timeout_s: float) -> Run:
        argv = [
            sys.executable, str(HERE / "clients.py"), cell.client, "--base-url", self.mock.base_url,
            "--mode", cell.mode, "--count", str(cell.count), "--concurrency", str(cell.concurrency),
            "--run-id", self._run_id(), "--channels", self.channels,
        ]  # fmt: skip
        child = run_child(argv, timeout_s, self.env)
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
