"""The receipt endpoint in-process: line-by-line checks, idempotence, no answer when the store fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path

import aiohttp
import pytest

from getui_async.config import Secret
from getui_async.receipts.opening import open_store
from getui_async.receipts.protocol import Receipt, Refusal, Verifier
from getui_async.receipts.server import ReceiptServer, serve
from getui_async.receipts.store import ActionRow, ReceiptStore, StoreError
from getui_async.receipts.store_sqlite import SqliteReceiptStore
from tests.receipts.conftest import APP_ID, MASTER_SECRET, body, receipt

Served = tuple[ReceiptServer, str]
Serve = Callable[..., Awaitable[Served]]


class FailingStore:
    """A store whose writes fail (the disk is full, the database is down)."""

    async def add(self, receipts: Sequence[Receipt]) -> int:
        raise StoreError("disk full")

    async def action_rows(self, taskids: Iterable[str] | None = None) -> list[ActionRow]:
        return []

    async def by_action(self) -> dict[int, int]:
        return {}

    async def count(self) -> int:
        return 0

    async def close(self) -> None:
        return None


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ReceiptStore]:
    store = await open_store(str(tmp_path / "receipts.db"))
    yield store
    await store.close()


@pytest.fixture
async def start() -> AsyncIterator[Serve]:
    """``await start(store, **options)`` serves on a free port; returns the server and its URL."""
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def run(store: ReceiptStore, **options: object) -> Served:
        server = ReceiptServer(Verifier(APP_ID, Secret(MASTER_SECRET)), store, **options)  # type: ignore[arg-type]
        bound: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(server, "127.0.0.1", 0, ready=bound.set_result, stop=stop))
        stops.append((stop, task))
        return server, await asyncio.wait_for(bound, 10)

    yield run
    for stop, task in stops:
        stop.set()
        await asyncio.wait_for(task, 20)


async def post(url: str, data: bytes) -> tuple[int, dict[str, int]]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as reply:
        return reply.status, (await reply.json() if reply.status == 200 else {})


async def test_good_lines_are_stored_and_bad_ones_refused(start: Serve, sqlite_store: ReceiptStore) -> None:
    """One request with good, bad-signed, unsigned and other-app lines: only the good one is stored."""
    server, url = await start(sqlite_store)
    data = (
        body(
            receipt("c1"),
            receipt("c2", signed="bad"),
            receipt("c3", signed=None),
            receipt("c4", app_id="otherApp"),
        )
        + b"garbage\n"
    )
    status, answer = await post(url, data)
    assert status == 200
    assert answer == {"received": 5, "stored": 1, "duplicate": 0, "refused": 4}
    assert await sqlite_store.count() == 1
    assert dict(server.tally.refused) == {
        Refusal.BAD_SIGN: 1,
        Refusal.MISSING_SIGN: 1,
        Refusal.OTHER_APP: 1,
        Refusal.BAD_JSON: 1,
    }


async def test_repeated_posts_are_stored_once(start: Serve, sqlite_store: ReceiptStore) -> None:
    """Getui's re-sends (the same lines again, concurrently too) add nothing and count as duplicates."""
    server, url = await start(sqlite_store)
    data = body(*(receipt(f"c{i}", action_id=a) for i in range(50) for a in (0, 10000)))
    answers = await asyncio.gather(*(post(url, data) for _ in range(5)))
    assert all(status == 200 for status, _ in answers)
    assert sum(a["stored"] for _, a in answers) == 100
    assert await sqlite_store.count() == 100
    assert (server.tally.stored, server.tally.duplicate) == (100, 400)


async def test_store_failure_gets_no_answer(start: Serve) -> None:
    """When the store fails the connection is dropped without an answer, so Getui tries again."""
    server, url = await start(FailingStore())
    with pytest.raises(aiohttp.ClientError):
        await post(url, body(receipt()))
    assert server.tally.store_failures == 1
    assert server.tally.stored == 0


async def test_path_healthz_and_size_cap(start: Serve, sqlite_store: ReceiptStore) -> None:
    """POSTs are taken at / and at --path; /healthz answers; an oversized request is 413."""
    server, url = await start(sqlite_store, path="/getui/receipts", max_request_bytes=4096)
    assert url.endswith("/getui/receipts")
    root = url.removesuffix("/getui/receipts")
    assert (await post(url, body(receipt("c1"))))[0] == 200
    assert (await post(root + "/", body(receipt("c2"))))[0] == 200
    async with aiohttp.ClientSession() as session:
        async with session.get(root + "/healthz") as reply:
            assert reply.status == 200
        async with session.post(url, data=b"x" * 10_000) as reply:
            assert reply.status == 413
    assert await sqlite_store.count() == 2
    assert server.too_large == 1


async def test_answer_comes_after_the_commit(start: Serve, tmp_path: Path) -> None:
    """By the time the answer arrives, another connection to the file already sees the rows."""
    path = tmp_path / "r.db"
    store = await SqliteReceiptStore.open(str(path))
    try:
        _, url = await start(store)
        await post(url, body(*(receipt(f"c{i}") for i in range(300))))
        reader = await SqliteReceiptStore.open(str(path))
        assert await reader.count() == 300
        await reader.close()
    finally:
        await store.close()


async def test_count_line_is_logged_each_interval(
    start: Serve, sqlite_store: ReceiptStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log interval one line says received, stored, duplicate and refused by reason."""
    caplog.set_level(logging.INFO, logger="getui_async.receipts")
    _, url = await start(sqlite_store, log_interval_s=0.05)
    await post(url, body(receipt("c1"), receipt("c1"), receipt("c2", signed="bad")))
    await asyncio.sleep(0.2)
    lines = [r.getMessage() for r in caplog.records if r.name == "getui_async.receipts.server"]
    assert "receipts: received=3 stored=1 duplicate=1 refused=1 (bad_sign=1)" in lines
