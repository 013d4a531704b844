"""Measure the mock's own capacity: ``python -m getui_async.mock.capacity [--count N] [--concurrency K]``.

The mock runs in a child process (``python -m getui_async.mock``, uvloop when installed); this process
sends a fixed number of requests with a fixed number in flight and reports requests/s, recipients/s and
the server's CPU time per request (from ``/proc``). On a small machine the Python load loop itself may
be the limit, so the CPU figure is the one that says what one server core can take.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from getui_async import _json

from .config import DEMO_APP_ID, DEMO_APP_KEY, DEMO_MASTER_SECRET

__all__ = ["main"]

_NOTIFICATION = b'{"notification":{"title":"Flash sale","body":"20 percent off","click_type":"startapp"}}'
_ITEM = b'{"request_id":"cap%029d","audience":{"cid":["cid-%029d"]},"push_message":' + _NOTIFICATION + b"}"


@dataclass(frozen=True)
class _Plan:
    """What to send: ``count`` requests to ``endpoint``, request ``n`` carrying ``body(n)``."""

    endpoint: str
    body: Callable[[int], bytes]
    count: int
    recipients_per_request: int


@dataclass(frozen=True)
class Result:
    """One measured run."""

    endpoint: str
    requests: int
    recipients: int
    errors: int
    wall_s: float
    server_cpu_s: float | None

    def line(self) -> str:
        cpu = (
            f", server CPU {self.server_cpu_s / self.requests * 1e6:.0f} us/request"
            f" ({self.requests / self.server_cpu_s:,.0f} requests/s per server core)"
            if self.server_cpu_s
            else ""
        )
        return (
            f"{self.endpoint}: {self.requests:,} requests, {self.requests / self.wall_s:,.0f} requests/s, "
            f"{self.recipients / self.wall_s:,.0f} recipients/s, errors {self.errors}{cpu}"
        )


def _single_body(n: int) -> bytes:
    return _ITEM % (n, n)


def _batch_body(n: int, size: int) -> bytes:
    items = b",".join(_ITEM % (n * size + i, n * size + i) for i in range(size))
    return b'{"is_async":false,"msg_list":[' + items + b"]}"


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (Linux ``/proc``), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(session: aiohttp.ClientSession, url: str, token: str, plan: _Plan, concurrency: int) -> int:
    """Send exactly ``count`` requests with ``concurrency`` in flight; return how many failed."""
    numbers = iter(range(plan.count))
    errors = 0
    headers = {"token": token, "Content-Type": "application/json;charset=UTF-8"}

    async def worker() -> None:
        nonlocal errors
        for n in numbers:  # the shared iterator bounds the whole run to `count` requests
            async with session.post(url, data=plan.body(n), headers=headers) as resp:
                reply = _json.loads(await resp.read())
                errors += reply["code"] != 0

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


async def _auth(session: aiohttp.ClientSession, base_url: str) -> str:
    ts = str(int(time.time() * 1000))
    sign = hashlib.sha256((DEMO_APP_KEY + ts + DEMO_MASTER_SECRET).encode()).hexdigest()
    body = {"sign": sign, "timestamp": ts, "appkey": DEMO_APP_KEY}
    async with session.post(f"{base_url}/{DEMO_APP_ID}/auth", json=body) as resp:
        return str((await resp.json(content_type=None))["data"]["token"])


async def _measure(args: argparse.Namespace) -> list[Result]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "getui_async.mock", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        base_url = line.partition("=")[2]
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            token = await _auth(session, base_url)
            batch = args.batch
            plans = [
                _Plan("push/single/cid", _single_body, args.count, 1),
                _Plan("push/single/batch/cid", lambda n: _batch_body(n, batch), args.count // batch, batch),
            ]
            results = []
            for plan in plans:
                cpu_before, started = process_cpu_s(proc.pid), time.perf_counter()
                url = f"{base_url}/{DEMO_APP_ID}/{plan.endpoint}"
                errors = await _load(session, url, token, plan, args.concurrency)
                wall = time.perf_counter() - started
                cpu_after = process_cpu_s(proc.pid)
                cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
                recipients = plan.count * plan.recipients_per_request
                results.append(Result(plan.endpoint, plan.count, recipients, errors, wall, cpu))
                print(results[-1].line(), flush=True)
        return results
    finally:
        proc.terminate()
        await proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m getui_async.mock.capacity", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="single-push requests (batch: count/batch)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--batch", type=int, default=200, help="items per batch request")
    args = parser.parse_args(argv)
    try:
        import uvloop  # noqa: PLC0415 (optional dependency)
    except ImportError:
        results = asyncio.run(_measure(args))
    else:
        results = uvloop.run(_measure(args))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
