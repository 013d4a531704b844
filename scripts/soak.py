"""Soak: a million recipients through ``getui-push send`` against the mock with every fault on.

Not part of CI. It writes the input (with a few unknown cids, bad rows and repeats), starts
``getui-push mock-server`` as its own process with moderate fault rates and a daily quota that stops
the first run part-way, lifts the quota through the mock's control API, resumes, and then checks the
results file against the mock's counters and reports::

    records in, result lines out (and whether each record has exactly one), statuses,
    deliveries, distinct cids, cids delivered twice, repeats Getui dropped, faults injected,
    peak RSS of each send run, elapsed time.

Everything is bounded by ``--time-limit-s`` (default 20 min): past it the sender is stopped, then
killed, and the report says the soak was aborted. Exit status 0 when every check passed.

    .venv/bin/python scripts/soak.py                       # 1,000,000 recipients, batch pushes
    .venv/bin/python scripts/soak.py --records 100000 --mode list --json soak.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from getui_async.mock.config import DEMO_APP_KEY, DEMO_MASTER_SECRET

DELIVERED: Final = frozenset({"successed_online", "successed_offline", "successed_ignore", "accepted"})
CAMPAIGN: Final = "soak-0001"
#: Moderate rates: every fault happens hundreds of times in a million-recipient batch run.
FAULTS: Final = {
    "--seed": "20240611",
    "--latency-ms": "1",
    "--latency-jitter-ms": "4",
    "--http-5xx-rate": "0.01",
    "--reset-rate": "0.01",
    "--reset-phase": "after",
    "--hang-rate": "0.003",
    "--hang-phase": "after",
    "--hang-s": "4",
    "--busy-rate": "0.01",
    "--throttle-per-window": "3000",
    "--throttle-window-s": "60",
    "--revoke-tokens-every-s": "90",
    "--host-change": "",
}
MESSAGES: Final = {
    "list": ("--title", "Hello", "--body", "The sale starts today"),
    "other": ("--title", "Hi {name}", "--body", "Your offer, {name}"),
}


@dataclass
class Run:
    """One ``send`` process: its exit status, peak RSS and duration."""

    resume: bool
    returncode: int | None = None
    peak_rss_mb: float = 0.0
    elapsed_s: float = 0.0


@dataclass
class Report:
    records: int
    mode: str
    runs: list[Run] = field(default_factory=list)
    aborted: str | None = None
    lines: int = 0
    records_with_one_line: int = 0
    records_without_line: int = 0
    records_with_several_lines: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    mock: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)


# --- input ---------------------------------------------------------------------------------------------


def _plain(record: int) -> bool:
    """A record with its own valid cid (not unknown, bad or a repeat)."""
    return bool(record % 1009 and record % 1013 and record % 997)


def write_input(path: Path, records: int) -> tuple[int, int]:
    """JSONL recipients; ~0.1% unknown cids, bad rows and repeats. Returns (deliverable, repeats)."""
    deliverable = repeats = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in range(1, records + 1):
            if record % 1009 == 0:
                row = {"cid": f"invalid{record:010d}", "name": f"user{record}"}
            elif record % 1013 == 0:
                row = {"cid": f"bad cid {record}", "name": f"user{record}"}
            elif record % 997 == 0 and _plain(record - 1):
                row = {"cid": f"{record - 1:032x}", "name": "again"}
                repeats += 1
            else:
                row = {"cid": f"{record:032x}", "name": f"user{record}"}
                deliverable += 1
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
    return deliverable, repeats


# --- the mock process ------------------------------------------------------------------------------------


class MockProcess:
    """``getui-push mock-server`` in its own process; talks to its control API on 127.0.0.1."""

    def __init__(self, daily_quota: int | None) -> None:
        flags = [item for flag, value in FAULTS.items() for item in ((flag, value) if value else (flag,))]
        if daily_quota is not None:
            flags += ["--daily-quota", str(daily_quota)]
        self.proc = subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
            [sys.executable, "-m", "getui_async", "mock-server", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.env: dict[str, str] = {}
        for line in self.proc.stdout:  # the server prints its variables first, then a comment line
            if line.startswith("#"):
                break
            key, _, value = line.strip().partition("=")
            self.env[key] = value
        base = urlsplit(self.env["GETUI_BASE_URL"])
        if base.hostname is None or base.port is None:
            raise RuntimeError(f"the mock printed no usable GETUI_BASE_URL: {self.env}")
        self.host, self.port = base.hostname, base.port

    def control(self, method: str, path: str, body: Any = None) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, f"/_mock{path}", body=payload, headers={"Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        if reply.get("code") != 0:
            raise RuntimeError(f"mock control {path}: {reply}")
        return reply.get("data")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the send runs ----------------------------------------------------------------------------------------


def send(args: argparse.Namespace, mock: MockProcess, work: Path, resume: bool, deadline: float) -> Run:
    """One ``getui-push send`` run; stopped (SIGTERM, then SIGKILL) if it outlives ``deadline``."""
    message = MESSAGES["list" if args.mode == "list" else "other"]
    argv = [
        sys.executable, "-m", "getui_async", "send", str(work / "recipients.jsonl"),
        "--out", str(work / "results.jsonl"), "--mode", args.mode, "--campaign", CAMPAIGN,
        "--concurrency", str(args.concurrency), "--timeout-s", "2", "--max-attempts", "10",
        "--no-progress", *message, *(["--resume"] if resume else []),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("GETUI_")}
    env.update(mock.env)
    env["GETUI_APP_KEY"] = DEMO_APP_KEY
    env["GETUI_MASTER_SECRET"] = DEMO_MASTER_SECRET
    run = Run(resume)
    started = time.monotonic()
    with (work / f"send-{'resume' if resume else 'first'}.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)  # noqa: S603 (our own CLI)
        status = _wait(proc, deadline)
    run.elapsed_s = time.monotonic() - started
    if status is not None:
        returncode, rusage = status
        run.returncode = returncode
        run.peak_rss_mb = rusage.ru_maxrss / 1024  # KiB on Linux
    return run


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, Any] | None:
    """``os.wait4`` (which gives this child's own peak RSS) with a deadline; None if it had to be killed."""
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return None
        time.sleep(0.2)


# --- checks and report ----------------------------------------------------------------------------------


def check_results(path: Path, report: Report) -> None:
    """Stream the results file: one line per record, statuses, no half line."""
    seen = bytearray(report.records + 1)
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                report.problems.append("the results file ends with half a line")
                break
            line = json.loads(raw)
            report.lines += 1
            report.statuses[line["status"]] += 1
            record = line["record"]
            seen[record] = min(seen[record] + 1, 2)
    counts = Counter(seen[1:])
    report.records_without_line = counts[0]
    report.records_with_one_line = counts[1]
    report.records_with_several_lines = counts[2]


def judge(report: Report, deliverable: int, repeats: int) -> None:
    mock = report.mock
    delivered_lines = sum(n for status, n in report.statuses.items() if status in DELIVERED)
    checks = {
        "a record without a line": report.records_without_line == 0,
        "a record with several lines": report.records_with_several_lines == 0,
        "lines != records": report.lines == report.records,
        "a cid delivered twice": mock.get("redeliveries") == 0 or report.mode == "list",
        "delivered cids != deliverable cids": mock.get("distinct_cids") == deliverable,
        "delivered lines != delivered cids": delivered_lines == mock.get("distinct_cids"),
        "duplicate lines != repeats in the input": report.statuses["duplicate"] == repeats,
        "last run did not exit 1 (bad rows)": bool(report.runs) and report.runs[-1].returncode == 1,
    }
    report.problems += [name for name, ok in checks.items() if not ok]


def print_report(report: Report) -> None:
    mock = report.mock
    print(f"soak: {report.records:,} recipients, mode {report.mode}, elapsed {report.elapsed_s:,.1f} s")
    for run in report.runs:
        what = "resume" if run.resume else "first "
        print(
            f"  {what} run: exit {run.returncode}, {run.elapsed_s:,.1f} s, peak RSS {run.peak_rss_mb:,.1f} MB"
        )
    print(f"  records in {report.records:,}; result lines out {report.lines:,}")
    print(
        f"  records with exactly one line {report.records_with_one_line:,}, without "
        f"{report.records_without_line:,}, with several {report.records_with_several_lines:,}"
    )
    print("  statuses: " + ", ".join(f"{s} {n:,}" for s, n in sorted(report.statuses.items())))
    print(
        f"  mock: deliveries {mock.get('deliveries', 0):,}, distinct cids {mock.get('distinct_cids', 0):,}, "
        f"delivered twice {mock.get('redeliveries', 0):,}, "
        f"repeats dropped {mock.get('duplicates_dropped', 0):,}"
    )
    print(f"  mock requests: {mock.get('requests')}, auth calls {mock.get('auth_calls')}")
    print(f"  faults injected: {mock.get('faults')}, throttled {mock.get('throttled')}, "
          f"quota refusals {mock.get('quota_refusals')}")  # fmt: skip
    if report.aborted:
        print(f"  ABORTED: {report.aborted}")
    print("  result: " + ("OK" if not report.problems else "PROBLEMS: " + "; ".join(report.problems)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=("auto", "single", "batch", "list"), default="batch")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quota-share", type=float, default=0.6, help="stop the first run at this share")
    parser.add_argument("--time-limit-s", type=float, default=1200.0)
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = parser.parse_args(argv)

    started = time.monotonic()
    deadline = started + args.time_limit_s
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="getui-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("results.jsonl", "results.jsonl.meta.json"):
        (work / stale).unlink(missing_ok=True)
    report = Report(args.records, args.mode)
    deliverable, repeats = write_input(work / "recipients.jsonl", args.records)
    quota = int(deliverable * args.quota_share) if args.quota_share < 1 else None
    mock = MockProcess(quota)
    try:
        first = send(args, mock, work, resume=False, deadline=deadline)
        report.runs.append(first)
        if first.returncode == 3:  # stopped by the quota, as planned: lift it and resume
            mock.control("POST", "/faults", {"daily_quota": None})
            report.runs.append(send(args, mock, work, resume=True, deadline=deadline))
        if report.runs[-1].returncode is None:
            report.aborted = f"a send run passed the {args.time_limit_s:g} s limit and was stopped"
        report.mock = mock.control("GET", "/stats")
    finally:
        mock.stop()
    check_results(work / "results.jsonl", report)
    report.elapsed_s = time.monotonic() - started
    if report.aborted:
        report.problems.append(report.aborted)
    else:
        judge(report, deliverable, repeats)
    print_report(report)
    if args.json:
        out = {k: v for k, v in report.__dict__.items() if k != "runs"}
        out["runs"] = [run.__dict__ for run in report.runs]
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())
