"""The two reference clients the engine is measured against: ``raw`` (the ceiling) and ``naive`` (the floor).

Run by ``bench.py`` as child processes, one cell each, so each has its own CPU and memory accounting::

    python bench/clients.py raw   --base-url URL --mode batch --count 200000 --concurrency 64 --run-id r1
    python bench/clients.py naive --base-url URL --count 200 --run-id r2

Both print one JSON line on stdout: recipients, requests, errors, elapsed_s, cpu_s (user + system CPU of
the sending phase, from ``resource``) and request latency percentiles.

``raw`` is what a careful engineer writes in an afternoon: one ``aiohttp`` session, ``concurrency``
workers pulling from one shared iterator (a semaphore without the per-request task), bodies built and
encoded with orjson as they are sent, the reply decoded and its ``code`` checked. It sends the same
requests as the engine (same endpoints, the same body shape with a request_id per message, the same
recipients and concurrency) but reads no file, writes no results, and never retries.

``naive`` is the original snippet's style: ``urllib.request``, one blocking POST per recipient, a new
connection every time, the token fetched once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import sys
import time
import urllib.request
from array import array
from collections.abc import Callable, Iterator
from typing import Any

import orjson

#: The mock's demo credentials (getui_async/mock/config.py): public values, not secrets.
APP_ID = "demo-app"
APP_KEY = "demo-app-key"
MASTER_SECRET = "demo-master-secret"
JSON_TYPE = "application/json;charset=utf-8"
BATCH = 200
LIST_CHUNK = 200
NOTIFY_ID = 123456789
IDENTICAL = ("Flash sale", "20 percent off today")


def cid_of(i: int) -> str:
    """The cid of recipient ``i``: the same one ``bench.py`` writes into the recipients files."""
    return f"{i:032x}"


def name_of(i: int) -> str:
    return f"User {i}"


def _notification(title: str, body: str) -> dict[str, Any]:
    return {"title": title, "body": body, "click_type": "startapp", "notify_id": NOTIFY_ID}


def message(title: str, body: str, collapse_id: str, channels: str) -> dict[str, Any]:
    """The body the engine sends for the bench template (``engine_template``), minus audience and id.

    ``channels="getui"``: a notification on Getui's own channel only. ``"all"``: the shape of
    ``--title/--body`` (``MessageTemplate.simple``): Getui's channel, Android vendors and iOS.
    """
    if channels == "getui":
        return {"push_message": {"notification": _notification(title, body)}}
    return {
        "push_message": {"notification": _notification(title, body)},
        "push_channel": {
            "android": {"ups": {"notification": _notification(title, body)}},
            "ios": {
                "type": "notify",
                "aps": {"alert": {"title": title, "body": body}},
                "apns-collapse-id": collapse_id,
            },
        },
    }


def personalized(i: int, run_id: str, channels: str) -> dict[str, Any]:
    """One recipient's single-push body: a request_id, the cid, and text naming the recipient."""
    name = name_of(i)
    body = {"request_id": f"{run_id[:12]}{i:020d}", "audience": {"cid": [cid_of(i)]}, "group_name": run_id}
    body.update(message(f"Hello {name}", f"Your offer is waiting, {name}", run_id, channels))
    return body


def engine_template(personal: bool, channels: str) -> dict[str, Any]:
    """The message file ``bench.py`` gives ``getui-push send --message``: what ``message`` builds."""
    title, body = ("Hello {name}", "Your offer is waiting, {name}") if personal else IDENTICAL
    note = {"title": title, "body": body, "click_type": "startapp", "notify_id": NOTIFY_ID}
    if channels == "getui":
        return {"push_message": {"notification": note}}
    ios = {"type": "notify", "aps": {"alert": {"title": title, "body": body}}}
    return {
        "push_message": {"notification": note},
        "push_channel": {"android": {"ups": {"notification": note}}, "ios": ios},
    }


def _auth_body() -> dict[str, str]:
    ts = str(int(time.time() * 1000))
    sign = hashlib.sha256((APP_KEY + ts + MASTER_SECRET).encode()).hexdigest()
    return {"sign": sign, "timestamp": ts, "appkey": APP_KEY}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles_ms(latencies: array[float]) -> dict[str, float | None]:
    """p50 and p99 of ``latencies`` (seconds) in milliseconds; None when nothing was measured."""
    if not latencies:
        return {"p50_ms": None, "p99_ms": None}
    ordered = sorted(latencies)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)  # noqa: E731
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99)}


# -- raw: the practical ceiling -------------------------------------------------------------------------

Request = tuple[str, Callable[[], bytes], int]  # (path, body builder, recipients)


def _requests(mode: str, count: int, run_id: str, taskid: str | None, channels: str) -> Iterator[Request]:
    """Every request of the run, built lazily (bodies are rendered and encoded as they are sent)."""
    if mode == "single":
        for i in range(count):
            yield "/push/single/cid", (lambda i=i: orjson.dumps(personalized(i, run_id, channels))), 1
    elif mode == "batch":
        for start in range(0, count, BATCH):
            stop = min(count, start + BATCH)

            def batch(start: int = start, stop: int = stop) -> bytes:
                items = [personalized(i, run_id, channels) for i in range(start, stop)]
                return orjson.dumps({"is_async": False, "msg_list": items})

            yield "/push/single/batch/cid", batch, stop - start
    else:
        for start in range(0, count, LIST_CHUNK):
            stop = min(count, start + LIST_CHUNK)

            def chunk(start: int = start, stop: int = stop) -> bytes:
                cids = [cid_of(i) for i in range(start, stop)]
                return orjson.dumps({"audience": {"cid": cids}, "taskid": taskid, "is_async": False})

            yield "/push/list/cid", chunk, stop - start


async def _raw(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp  # the naive client must not pay for importing it

    prefix = f"{args.base_url}/{APP_ID}"
    connector = aiohttp.TCPConnector(limit=max(100, args.concurrency), limit_per_host=0)
    latencies: array[float] = array("d")
    counters = {"requests": 0, "recipients": 0, "errors": 0}
    cpu0, started = _cpu_s(), time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(f"{prefix}/auth", data=orjson.dumps(_auth_body())) as resp:
            token = orjson.loads(await resp.read())["data"]["token"]
        headers = {"token": token, "Content-Type": JSON_TYPE}
        taskid = None
        if args.mode == "list":
            # group_name as the engine sends it (the campaign id): the mock keeps per-group figures
            # for every push that names one, so both clients cost it the same.
            body = {"request_id": f"{args.run_id[:12]}list{0:016d}", "group_name": args.run_id}
            body.update(message(*IDENTICAL, args.run_id, args.channels))
            url = f"{prefix}/push/list/message"
            async with session.post(url, data=orjson.dumps(body), headers=headers) as r:
                taskid = orjson.loads(await r.read())["data"]["taskid"]
        todo = _requests(args.mode, args.count, args.run_id, taskid, args.channels)

        async def worker() -> None:
            for path, build, recipients in todo:  # one shared iterator: exactly `count` recipients
                t0 = time.perf_counter()
                try:
                    async with session.post(prefix + path, data=build(), headers=headers) as resp:
                        ok = orjson.loads(await resp.read()).get("code") == 0
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
                    ok = False
                latencies.append(time.perf_counter() - t0)
                counters["requests"] += 1
                counters["recipients"] += recipients
                counters["errors"] += not ok

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return {**counters, "elapsed_s": elapsed, "cpu_s": _cpu_s() - cpu0, **percentiles_ms(latencies)}


# -- naive: the original snippet's style ----------------------------------------------------------------


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - http://127.0.0.1 only
        reply: dict[str, Any] = json.loads(resp.read())
        return reply


def _naive(args: argparse.Namespace) -> dict[str, Any]:
    if not args.base_url.startswith("http://127.0.0.1"):
        raise SystemExit("the naive client only talks to the mock on 127.0.0.1")
    prefix = f"{args.base_url}/{APP_ID}"
    latencies: array[float] = array("d")
    errors = 0
    cpu0, started = _cpu_s(), time.perf_counter()
    token = _post(f"{prefix}/auth", _auth_body(), {"Content-Type": JSON_TYPE})["data"]["token"]
    headers = {"token": token, "Content-Type": JSON_TYPE, "Connection": "close"}
    url = f"{prefix}/push/single/cid"
    for i in range(args.count):
        t0 = time.perf_counter()
        try:
            errors += _post(url, personalized(i, args.run_id, args.channels), headers)["code"] != 0
        except OSError:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return {
        "requests": args.count,
        "recipients": args.count,
        "errors": errors,
        "elapsed_s": elapsed,
        "cpu_s": _cpu_s() - cpu0,
        **percentiles_ms(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=("raw", "naive"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--mode", choices=("single", "batch", "list"), default="single")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--channels", choices=("getui", "all"), default="getui", help="see message()")
    parser.add_argument("--run-id", required=True, help="makes request_ids unique per run (12+ characters)")
    args = parser.parse_args(argv)
    if args.client == "naive":
        result = _naive(args)
    else:
        try:
            import uvloop  # as the CLI does: uvloop when installed
        except ImportError:
            result = asyncio.run(_raw(args))
        else:
            result = uvloop.run(_raw(args))
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
