"""Receipt lines per second into the receiver's stores (SQLite, PostgreSQL); goal: >= 20,000/s into SQLite.

The server is ``python -m getui_async.receipts serve`` in its own process, pinned to one core; this
process is the client (Getui), pinned to the other, POSTing pre-signed newline-delimited lines in batches
of ``--batch`` with ``--concurrency`` requests in flight. Every line is new and well signed, so each is
parsed, verified and committed (SQLite: WAL, synchronous=FULL, group commit) before its answer. The
figures: wall-clock lines/s, and the server's CPU seconds (from /proc) per 100,000 lines, with the
rate one free core would give (lines per server CPU-second): on a shared machine the server does not
get its whole core, and the wall-clock rate understates it.

    python bench/receipts_bench.py --quick                 # 20,000 lines, SQLite + a temporary PostgreSQL
    python bench/receipts_bench.py --lines 500000 --postgres postgresql://user@host/db --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from getui_async import _json

ROOT = Path(__file__).resolve().parent.parent
APP_ID, APP_KEY, SECRET = "benchApp", "benchKey", "benchMasterSecret"
GOAL_SQLITE_LINES_PER_S = 20_000
_LISTENING = re.compile(r"listening on (http://\S+)")


def bodies(lines: int, batch: int, run: str) -> list[bytes]:
    """``lines`` distinct signed receipt lines (arrivals), joined ``batch`` to a request body."""
    out, chunk = [], []
    for n in range(lines):
        # Random-looking 32-hex cids, as Getui's are: the store's unique index takes them out of order.
        cid = hashlib.blake2b(f"{run}{n}".encode(), digest_size=16).hexdigest()
        msgid = f"m{n:09d}"
        taskid = f"RASL_{run}"
        sign = hashlib.md5((APP_ID + cid + taskid + msgid + SECRET).encode()).hexdigest()  # noqa: S324
        chunk.append(
            _json.dumps(
                {
                    "appid": APP_ID,
                    "cid": cid,
                    "taskid": taskid,
                    "msgid": msgid,
                    "code": 200,
                    "desc": "ok",
                    "sign": sign,
                    "actionId": 0,
                    "recvtime": 1_765_000_000_000 + n,
                }
            )
        )
        if len(chunk) == batch:
            out.append(b"\n".join(chunk))
            chunk = []
    if chunk:
        out.append(b"\n".join(chunk))
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(store: str, workdir: Path, core: int | None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``receipts serve`` on a free port (pinned to ``core``), stopped by PID with SIGTERM."""
    log = workdir / f"server-{uuid.uuid4().hex[:6]}.log"
    env = {**os.environ, "GETUI_APP_ID": APP_ID, "GETUI_APP_KEY": APP_KEY, "GETUI_MASTER_SECRET": SECRET}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "getui_async.receipts",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                store,
            ],
            stdout=sink,
            stderr=sink,
            env=env,
            cwd=ROOT,
        )
    try:
        if core is not None:
            os.sched_setaffinity(proc.pid, {core})
        deadline = time.monotonic() + 30
        while not (found := _LISTENING.search(log.read_text(errors="replace"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.05)
        yield found.group(1), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def post_all(url: str, data: list[bytes], concurrency: int) -> float:
    """POST every body, ``concurrency`` at a time; wall seconds. Any non-200 answer is an error."""
    queue = list(reversed(data))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with session.post(url, data=body) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise RuntimeError(f"answer {reply.status}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def cell(name: str, store: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One store's figures."""
    data = bodies(args.lines, args.batch, uuid.uuid4().hex[:8])
    with server(store, workdir, core=1 if args.pin else None) as (url, proc):
        asyncio.run(post_all(url, data[: max(1, len(data) // 20)], args.concurrency))  # warm-up
        cpu_before = _cpu_s(proc.pid)
        wall = asyncio.run(post_all(url, data, args.concurrency))
        cpu = _cpu_s(proc.pid) - cpu_before
    return {
        "store": name,
        "lines": args.lines,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "seconds": round(wall, 3),
        "lines_per_s": round(args.lines / wall),
        "server_cpu_s_per_100k": round(cpu * 100_000 / args.lines, 2),
        #: What one free core would take: on a shared machine the wall-clock rate understates it.
        "lines_per_server_cpu_s": round(args.lines / cpu) if cpu > 0 else None,
    }


async def _create_database(url: str) -> str:
    import asyncpg

    name = f"receipts_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def postgres(spec: str | None) -> Iterator[str | None]:
    """The PostgreSQL server to use: ``--postgres URL``, or ``auto`` (a temporary one), or none."""
    if spec is None or spec == "none":
        yield None
    elif spec != "auto":
        yield asyncio.run(_create_database(spec))
    else:
        sys.path.insert(0, str(ROOT))
        try:
            from tests.components import postgres_server
        except ImportError:
            yield None
            return
        try:
            with postgres_server() as found:
                yield asyncio.run(_create_database(found.url))
        except BaseException as exc:  # pytest.skip outside pytest: PostgreSQL is not installed
            if type(exc).__name__ != "Skipped":
                raise
            print(f"PostgreSQL cell skipped: {exc}", file=sys.stderr)
            yield None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 lines per store")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=200, help="lines per request")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--postgres", default="auto", help="URL, 'auto' (a temporary server) or 'none'")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin to cores 0 and 1")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.lines = 20_000
    if args.pin and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {0})
    else:
        args.pin = False
    rows = []
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        workdir = Path(tmp)
        rows.append(cell("sqlite", str(workdir / "receipts.db"), args, workdir))
        with postgres(args.postgres) as url:
            if url is not None:
                rows.append(cell("postgresql", url, args, workdir))
    if args.json:
        print(_json.dumps(rows).decode())
        return 0
    head = ("store", "lines", "batch", "conc", "seconds", "lines/s", "srv CPU s/100k", "lines/srv CPU s")
    print("{:<11} {:>8} {:>5} {:>4} {:>8} {:>8} {:>14} {:>15}".format(*head))
    for r in rows:
        print(
            f"{r['store']:<11} {r['lines']:>8} {r['batch']:>5} {r['concurrency']:>4} {r['seconds']:>8.2f} "
            f"{r['lines_per_s']:>8} {r['server_cpu_s_per_100k']:>14} {r['lines_per_server_cpu_s']:>15}"
        )
    sqlite = rows[0]["lines_per_s"]
    verdict = "meets" if sqlite >= GOAL_SQLITE_LINES_PER_S else "misses"
    print(
        f"SQLite {verdict} the goal of {GOAL_SQLITE_LINES_PER_S} lines/s ({sqlite} lines/s wall clock; "
        f"{rows[0]['lines_per_server_cpu_s']} per server CPU-second; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
