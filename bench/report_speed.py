"""How fast ``getui-push report`` reads a results file, against a plain JSONL read, and its peak memory.

    python bench/report_speed.py [--lines 1000000] [--dir DIR]

Writes a synthetic results file (the engine's line schema; 1% dead, 2% retryable, 3% inactive, 1% of
records superseded by a later line), then times in fresh processes: (a) decoding every line with orjson
and nothing else, (b) ``getui-push report --json``. Prints lines/s and peak RSS (``ru_maxrss``) of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

BASELINE = """
import sys, orjson
n = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        orjson.loads(raw)
        n += 1
print(n)
"""


def write_results(path: Path, lines: int) -> int:
    """A results file of ``lines`` lines (some superseding earlier ones); returns the record count."""
    records = int(lines / 1.01)
    with path.open("wb") as out:
        buf = []
        for record in range(1, lines + 1):
            again = record > records
            r = record - records if again else record
            status, code, msg = "successed_online", 0, ""
            if r % 100 == 0:
                status, code, msg = "failed", 20001, "target user is invalid"
            elif r % 50 == 1 and not again:
                status, code, msg = "failed", None, "HTTP 502 from Getui (gave up after 1 attempt)"
            elif r % 33 == 0:
                status = "successed_ignore"
            line = {
                "line": r + 1, "record": r, "cid": f"{r:032x}", "request_id": f"{r:032x}", "status": status,
                "code": code, "msg": msg, "taskid": f"RASS_1201_{r:032x}", "attempts": 1,
                "ts": f"2026-12-01T10:{(r // 4000) // 60 % 60:02d}:{(r // 4000) % 60:02d}.{r % 1000:03d}Z",
            }  # fmt: skip
            if again:
                line["supersedes"] = "failed"
            buf.append(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
            if len(buf) >= 10_000:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))
    return records


#: Runs ``-m module args`` or ``-c code args`` and prints its own peak RSS (VmHWM) at exit. A child's
#: ru_maxrss would include the bench process's pages at fork time; VmHWM starts afresh at exec.
PEAK = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        for row in status:
            if row.startswith("VmHWM"):
                sys.stderr.write("VMHWM " + row.split()[1] + "\\n")
atexit.register(peak)
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""


def timed(argv: list[str]) -> tuple[float, float, float, bytes]:
    """(wall s, CPU s, peak RSS MB, stdout) of ``python -m/-c ...`` in a fresh process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as sink, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", PEAK, *argv], stdout=sink, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        sink.seek(0)
        err.seek(0)
        out, log = sink.read(), err.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{argv} exited {child.returncode}: {log[-2000:]}")
    peak_kb = max((int(w.split()[1]) for w in log.splitlines() if w.startswith("VMHWM ")), default=0)
    return wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024, out


def show(label: str, lines: int, wall: float, cpu: float, rss: float) -> None:
    print(
        f"{label:<22}: {lines / cpu:>10,.0f} lines/CPU-s  {lines / wall:>10,.0f} lines/s wall  "
        f"{cpu:6.2f} CPU-s  peak RSS {rss:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    path = args.dir / f"report-bench-{args.lines}.jsonl"
    records = write_results(path, args.lines)
    size_mb = path.stat().st_size / 1e6
    print(f"{args.lines:,} lines ({records:,} records, {size_mb:.0f} MB) in {path}")
    idle = timed(["-m", "getui_async", "--version"])
    show("startup (--version)", args.lines, *idle[:3])
    base = timed(["-c", BASELINE, str(path)])
    show("orjson.loads per line", args.lines, *base[:3])
    rep = timed(["-m", "getui_async", "report", "--json", str(path)])
    data = orjson.loads(rep[3])
    assert data["records"] == records, (data["records"], records)
    show("getui-push report", args.lines, *rep[:3])
    print(f"report / plain read   : {base[1] / rep[1]:.2f} of the speed (CPU)")
    path.unlink()


if __name__ == "__main__":
    main()
