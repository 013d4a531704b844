"""Ledger fixtures: every backend test runs on a SQLite file and on a fresh database of a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from getui_async.ledger import Ledger, open_ledger
from tests.receipts.test_store import fresh_database

STARTUP_TRIES = 100


async def ledger_spec(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    """A ledger that does not exist yet: a SQLite path, or the URL of a new empty database."""
    if backend == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    server = request.getfixturevalue("postgres")
    for _ in range(STARTUP_TRIES):  # the server accepts TCP a moment before it takes logins
        try:
            return await fresh_database(server)
        except asyncpg.CannotConnectNowError:
            await asyncio.sleep(0.2)
    return await fresh_database(server)


@pytest.fixture(params=["sqlite", "postgresql"])
async def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh ledger goes, on each backend."""
    return await ledger_spec(request, tmp_path, str(request.param))


@pytest.fixture
async def ledger(spec: str) -> AsyncIterator[Ledger]:
    """A freshly created ledger, on each backend."""
    opened = await open_ledger(spec)
    yield opened
    await opened.close()
