"""Receipt stores (SQLite and a real PostgreSQL): idempotent on the key, the funnel read back, no leaks."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from getui_async import _json
from getui_async.config import Secret
from getui_async.errors import ConfigError
from getui_async.receipts.opening import open_store, parse_store
from getui_async.receipts.protocol import Receipt, Stage, Verifier
from getui_async.receipts.store import ReceiptStore, StoreError, recipients, redact_url
from tests.components import Postgres
from tests.receipts.conftest import APP_ID, MASTER_SECRET, receipt

VERIFIER = Verifier(APP_ID, Secret(MASTER_SECRET))


def make(cid: str, taskid: str, action_id: int, msgid: str = "m1", **extra: object) -> Receipt:
    got = VERIFIER.check(_json.dumps(receipt(cid, taskid, msgid, action_id, **extra)))
    assert isinstance(got, Receipt)
    return got


async def fresh_database(postgres: Postgres) -> str:
    """A new, empty database on the session's server (tests never share tables)."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return postgres.database_url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReceiptStore]:
    """Each store test runs on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        spec = str(tmp_path / "receipts.db")
    else:
        spec = await fresh_database(request.getfixturevalue("postgres"))
    opened = await open_store(spec)
    yield opened
    await opened.close()


async def test_add_is_idempotent_on_the_key(store: ReceiptStore) -> None:
    """(taskid, cid, actionId, msgid) is stored once; repeats, within and across batches, are not new."""
    first = [make("c1", "t1", 0), make("c1", "t1", 10000), make("c1", "t1", 0)]
    assert await store.add(first) == 2
    assert await store.add([make("c1", "t1", 10000), make("c2", "t1", 0)]) == 1
    assert await store.add([make("c1", "t1", 0, msgid="m2")]) == 1  # another message: new
    assert await store.count() == 4


async def test_furthest_stage_and_failures(store: ReceiptStore) -> None:
    """Per (taskid, cid): the furthest of arrived/displayed/clicked, failures by reason, actions by number."""
    await store.add(
        [
            make("c1", "t1", 0),
            make("c1", "t1", 10000),
            make("c1", "t1", 10010),
            make("c2", "t1", 110000),
            make("c3", "t1", 110102),
            make("c4", "t1", 777777),
            make("c1", "t2", 0),
        ]
    )
    got = {(r.taskid, r.cid): r for r in await recipients(store)}
    assert got["t1", "c1"].furthest is Stage.CLICKED
    assert got["t1", "c2"].furthest is Stage.ARRIVED
    assert got["t1", "c3"].furthest is None
    assert dict(got["t1", "c3"].failures) == {"huawei_marketing_cap": 1}
    assert dict(got["t1", "c4"].actions) == {777777: 1}
    assert [r.cid for r in await recipients(store, ["t2"])] == ["c1"]
    assert await store.by_action() == {0: 2, 10000: 1, 10010: 1, 110000: 1, 110102: 1, 777777: 1}


async def test_closed_store_refuses(store: ReceiptStore) -> None:
    """After close, add raises StoreError (the server then drops the connection)."""
    await store.close()
    with pytest.raises(StoreError):
        await store.add([make("c1", "t1", 0)])


async def test_sqlite_store_keeps_unknown_fields(tmp_path: Path) -> None:
    """The stored line is the original JSON: fields we do not know survive."""
    path = tmp_path / "r.db"
    store = await open_store(str(path))
    await store.add([make("c1", "t1", 0, custom="keep me")])
    await store.close()
    with sqlite3.connect(path) as conn:
        (line,) = conn.execute("SELECT line FROM receipts").fetchone()
        (sync,) = conn.execute("PRAGMA journal_mode").fetchone()
    assert _json.loads(line)["custom"] == "keep me"
    assert sync == "wal"


async def test_sqlite_refuses_another_database(tmp_path: Path) -> None:
    """A SQLite file that is not a receipt store (the ledger, say) is refused, not written into."""
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE deliveries (x)")
    with pytest.raises(StoreError, match="not a receipt store"):
        await open_store(str(path))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("mysql://u:pw@h/db", "only a SQLite file"),
        ("/no/such/dir/r.db", "does not exist"),
        ("postgresql:///db", "needs a host"),
    ],
)
def test_bad_store_specs(spec: str, message: str) -> None:
    """A store spec is checked before anything is done; the message never shows a password."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_store(spec)
    assert "pw" not in str(caught.value)


def test_redact_url() -> None:
    """The password of a URL is replaced; the rest stays readable."""
    assert redact_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


async def test_postgres_errors_never_show_the_password() -> None:
    """A refused connection's error names the redacted URL, with no chained driver exception."""
    from tests.components import free_port

    url = f"postgresql://getui:Sup3rSecretPw@127.0.0.1:{free_port()}/x"
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    assert "Sup3rSecretPw" not in str(caught.value)
    assert "***" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_postgres_schema_is_its_own(postgres: Postgres) -> None:
    """The store lives in schema getui_receipts, versioned; opening twice (or at once) is safe."""
    import asyncio

    url = await fresh_database(postgres)
    stores = await asyncio.gather(*(open_store(url) for _ in range(3)))
    for one in stores:
        await one.close()
    conn = await asyncpg.connect(url)
    try:
        version = await conn.fetchval("SELECT value FROM getui_receipts.meta WHERE key = 'version'")
        public = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    assert version == "1"
    assert public == 0
