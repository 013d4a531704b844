"""Library sources: records a caller already holds, as an iterable or an async iterable of mappings."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from getui_async.sources import BadRecord, Record, SourceItem, open_source
from tests.results_file import read_results


def described(items: list[SourceItem]) -> list[tuple[Any, ...]]:
    return [
        (i.line, i.kind, i.target, i.variables) if isinstance(i, Record) else (i.line, i.field, i.reason)
        for i in items
    ]


ROWS: list[Any] = [
    {"cid": "c1", "name": "张伟", "title": "Hi {name}"},
    {"alias": "a2", "n": 3, "price": decimal.Decimal("9.50"), "since": dt.date(2024, 5, 1), "nick": None},
    {"cid": "c3", "tags": ["x"]},
    ["not", "a", "mapping"],
    {"cid": "", "alias": ""},
]
EXPECTED: list[tuple[Any, ...]] = [
    (1, "cid", "c1", {"name": "张伟", "title": "Hi {name}"}),
    (2, "alias", "a2", {"n": "3", "price": "9.50", "since": "2024-05-01"}),
    (3, "tags", "expected a string, number or boolean, got array"),
    (4, None, "expected a mapping, got array"),
    (5, "cid", "missing: the record needs a cid or an alias"),
]


def test_a_list_of_dicts_is_a_source() -> None:
    """Each mapping is one record numbered from 1, read like a JSONL object; bad ones are BadRecords."""
    with open_source(ROWS) as source:
        items = list(source)
        assert source.name == "<records>"
        assert source.complete
    assert described(items) == EXPECTED
    assert isinstance(items[0], Record)
    assert items[0].overrides == {"title": "Hi {name}"}
    assert isinstance(items[2], BadRecord)
    assert (items[2].kind, items[2].target) == ("cid", "c3")


def test_a_generator_is_read_lazily_in_chunks() -> None:
    """A generator is consumed only as far as the chunks asked for."""
    pulled: list[int] = []

    def rows() -> Iterator[dict[str, str]]:
        for i in range(10):
            pulled.append(i)
            yield {"cid": f"c{i}"}

    with open_source(rows(), name="db query") as source:
        assert [item.line for item in source.read_chunk(3)] == [1, 2, 3]
        assert pulled == [0, 1, 2]
        assert source.name == "db query"
        assert len(list(source)) == 7


def test_equal_record_streams_have_equal_digests() -> None:
    """The digest covers the records read, so a changed row changes it."""
    digests = []
    for rows in (ROWS, ROWS, [*ROWS[:1], {"cid": "c9"}]):
        with open_source(rows) as source:
            list(source)
            digests.append(source.digest())
    assert digests[0] == digests[1] != digests[2]


def test_things_that_are_no_source_are_a_type_error() -> None:
    """A mapping, bytes or a number is refused with a TypeError saying what a source is."""
    for wrong in ({"cid": "c1"}, b"cid\nc1\n", 42):
        with pytest.raises(TypeError, match="iterable or async iterable of mappings"):
            open_source(wrong)  # type: ignore[arg-type]


async def arows() -> AsyncIterator[Any]:
    for row in ROWS:
        await asyncio.sleep(0)
        yield row


async def test_an_async_iterable_is_read_with_aread_chunk() -> None:
    """aread_chunk pulls an async iterable on the loop, in chunks, until []."""
    with open_source(arows()) as source:
        got: list[SourceItem] = []
        for _ in range(10):  # bounded: 5 records in chunks of 2
            chunk = await source.aread_chunk(2)
            if not chunk:
                break
            assert len(chunk) <= 2
            got.extend(chunk)
        assert source.complete
    assert described(got) == EXPECTED


async def test_an_async_iterable_reads_synchronously_from_a_worker_thread() -> None:
    """read_chunk in asyncio.to_thread fetches each item on the running loop."""
    with open_source(arows()) as source:
        first = await asyncio.to_thread(source.read_chunk, 3)
        rest = await asyncio.to_thread(source.read_chunk, 100)
        assert await asyncio.to_thread(source.read_chunk, 100) == []
    assert described([*first, *rest]) == EXPECTED


async def test_an_async_iterable_refuses_a_blocking_read_on_its_loop() -> None:
    """Iterating it synchronously on the loop's own thread raises instead of deadlocking."""
    with open_source(arows()) as source, pytest.raises(RuntimeError, match="aread_chunk"):
        source.read_chunk(1)


async def test_sync_sources_also_offer_aread_chunk() -> None:
    """aread_chunk works for every source, so the engine can use one call for all."""
    with open_source([{"cid": "c1"}]) as source:
        assert [item.line for item in await source.aread_chunk(10)] == [1]
        assert await source.aread_chunk(10) == []


async def test_run_campaign_takes_a_list_and_an_async_iterable(tmp_path: Any) -> None:
    """run_campaign sends records passed as a list of dicts or an async iterable, one line per record."""
    from getui_async.config import CampaignSettings, Mode
    from getui_async.engine import run_campaign
    from getui_async.messages import MessageTemplate
    from tests.fakes import Call, FakeGetui, reply, settings

    def single_ok(call: Call) -> Any:
        return reply(data={"t": {call.body["audience"]["cid"][0]: "successed_online"}})

    template = MessageTemplate.simple(title="Hi {name}", body="Body")

    async def rows() -> AsyncIterator[dict[str, str]]:
        for i in range(3):
            await asyncio.sleep(0)
            yield {"cid": f"a{i}", "name": f"N{i}"}

    for name, records in (("list", [{"cid": f"l{i}", "name": f"N{i}"} for i in range(3)]), ("async", rows())):
        fake = FakeGetui()
        fake.routes[("POST", "/push/single/cid")] = single_ok
        out = tmp_path / f"{name}.jsonl"
        summary = await run_campaign(
            records,  # type: ignore[arg-type]
            template,
            settings(),
            CampaignSettings(mode=Mode.SINGLE),
            out=out,
            transport=fake.transport(),
        )
        lines = read_results(out)
        assert sorted(line["line"] for line in lines) == [1, 2, 3], name
        assert summary.exit_code == 0, name


def test_a_mapping_source_digest_can_be_marked_by_record_count() -> None:
    """position counts records; digest_at(n) equals the digest after n records of an equal stream."""
    with open_source(ROWS) as first:
        first.read_chunk(2)
        assert first.position == 2
        at_two = first.digest()
    with open_source(ROWS) as second:
        second.mark(2)
        list(second)
        assert second.digest_at(2) == at_two
        assert second.position == len(ROWS)
