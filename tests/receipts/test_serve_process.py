"""``receipts serve`` as a process: durable before answering (SIGKILL), a 100,000-line burst, SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from getui_async.receipts.opening import open_store
from tests.components import Postgres
from tests.receipts.conftest import Receiver, body, receipt, stop
from tests.receipts.test_store import fresh_database

StartReceiver = Callable[..., Receiver]
BURST_LINES = 100_000
BURST_BATCH = 500
BURST_TIME_LIMIT_S = 60.0


async def _post_all(url: str, bodies: list[bytes], concurrency: int) -> list[int]:
    """POST every body (``concurrency`` at a time); the statuses, in order."""
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(data: bytes) -> int:
            async with gate, session.post(url, data=data) as reply:
                await reply.read()
                return reply.status

        return list(await asyncio.gather(*(one(b) for b in bodies)))


async def test_answered_lines_survive_sigkill(receiver: StartReceiver, tmp_path: Path) -> None:
    """SIGKILL while requests are in flight: every line that was answered 200 is in the store."""
    store_path = str(tmp_path / "r.db")
    served = receiver(store_path)
    answered: list[int] = []
    killed = asyncio.Event()

    async with aiohttp.ClientSession() as session:

        async def sender(worker: int) -> None:
            for n in range(50):  # bounded: at most 50 requests per worker
                batch = worker * 1000 + n
                data = body(*(receipt(f"c{batch}-{i}", taskid=f"t{batch}") for i in range(100)))
                try:
                    async with session.post(served.url, data=data) as reply:
                        await reply.read()
                        if reply.status == 200:
                            answered.append(batch)
                except aiohttp.ClientError:
                    return  # the receiver is gone
                if len(answered) >= 20 and not killed.is_set():
                    killed.set()
                    served.proc.send_signal(signal.SIGKILL)

        await asyncio.gather(*(sender(w) for w in range(4)))
    served.proc.wait(timeout=10)
    assert killed.is_set()
    store = await open_store(store_path)
    try:
        stored = {row[0] for row in await store.action_rows()}
        assert {f"t{b}" for b in answered} <= stored
        assert await store.count() >= 100 * len(answered)
    finally:
        await store.close()


def _burst() -> tuple[list[bytes], int, int, int]:
    """100,000 lines: 1% bad-signed, 4% repeats of earlier lines; (bodies, new, duplicate, refused)."""
    lines = []
    bad = repeats = 0
    for i in range(BURST_LINES):
        if i % 100 == 99:
            lines.append(receipt(f"bad{i}", signed="bad"))
            bad += 1
        elif i % 25 == 24:
            lines.append(receipt(f"c{i - 24}", taskid="RASL_burst", action_id=(i - 24) % 3 * 10000))
            repeats += 1
        else:
            lines.append(receipt(f"c{i}", taskid="RASL_burst", action_id=i % 3 * 10000))
    bodies = [body(*lines[n : n + BURST_BATCH]) for n in range(0, BURST_LINES, BURST_BATCH)]
    return bodies, BURST_LINES - bad - repeats, repeats, bad


async def test_burst_of_100000_lines(receiver: StartReceiver, tmp_path: Path) -> None:
    """100,000 lines through the real server: the store's figures are exact, within a time bound."""
    store_path = str(tmp_path / "r.db")
    served = receiver(store_path)
    bodies, new, duplicate, refused = _burst()
    started = time.monotonic()
    statuses = await _post_all(served.url, bodies, concurrency=8)
    elapsed = time.monotonic() - started
    assert set(statuses) == {200}
    assert elapsed < BURST_TIME_LIMIT_S, f"{BURST_LINES} lines took {elapsed:.1f} s"
    assert stop(served.proc) == 0  # SIGTERM: a clean stop
    assert (
        f"received={BURST_LINES} stored={new} duplicate={duplicate} refused={refused} (bad_sign={refused})"
        in served.stderr()
    )
    store = await open_store(store_path)
    try:
        assert await store.count() == new
        by_action = await store.by_action()
        assert sum(by_action.values()) == new
        assert set(by_action) == {0, 10000, 20000}
    finally:
        await store.close()


async def test_postgres_store_through_the_server(receiver: StartReceiver, postgres: Postgres) -> None:
    """The same server on a PostgreSQL store: repeats stored once, bad signs never."""
    url = await fresh_database(postgres)
    served = receiver(url)
    assert "***" not in served.stderr()  # no password in this URL: nothing to hide, nothing garbled
    data = body(*(receipt(f"c{i}", action_id=10000) for i in range(1000)), receipt("x", signed="bad"))
    statuses = await _post_all(served.url, [data] * 3, concurrency=3)
    assert statuses == [200, 200, 200]
    assert stop(served.proc) == 0
    assert re.search(r"stored=1000 duplicate=2000 refused=3", served.stderr())
    store = await open_store(url)
    try:
        assert await store.by_action() == {10000: 1000}
    finally:
        await store.close()


async def test_sigterm_under_load_answers_only_what_it_stored(
    receiver: StartReceiver, tmp_path: Path
) -> None:
    """SIGTERM mid-burst: exit 0; every request got 200 or no answer, and every 200 is in the store."""
    store_path = str(tmp_path / "r.db")
    served = receiver(store_path)
    statuses: dict[int, int | None] = {}

    async with aiohttp.ClientSession() as session:

        async def sender(worker: int) -> None:
            for n in range(40):  # bounded
                batch = worker * 1000 + n
                data = body(*(receipt(f"c{batch}-{i}", taskid=f"t{batch}") for i in range(200)))
                try:
                    async with session.post(served.url, data=data) as reply:
                        await reply.read()
                        statuses[batch] = reply.status
                except aiohttp.ClientError:
                    statuses[batch] = None
                    return
                if len(statuses) == 30:
                    served.proc.send_signal(signal.SIGTERM)

        await asyncio.gather(*(sender(w) for w in range(4)))
    assert served.proc.wait(timeout=30) == 0
    assert set(statuses.values()) <= {200, None}
    answered = {f"t{b}" for b, s in statuses.items() if s == 200}
    store = await open_store(store_path)
    try:
        assert answered <= {row[0] for row in await store.action_rows()}
    finally:
        await store.close()
    assert "stopped;" in served.stderr()
