"""Records a library caller already holds: an iterable or an async iterable of mappings.

Each mapping is one record, numbered from 1 (the number is its ``line``), read like a JSONL object:
``cid`` or ``alias`` identifies it, ``title``/``body``/``payload`` override the message, other keys are
template variables; numbers, booleans, dates and decimals become text, None means absent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Mapping
from typing import Any, Final

from getui_async import _json

from ._records import (
    BadRecord,
    SourceItem,
    record_from_mapping,
    type_name,
)
from .base import RecordSource, RunningDigest

__all__ = ["AsyncMappingSource", "MappingSource", "mapping_item"]

RECORDS_NAME: Final = "<records>"


def mapping_item(number: int, obj: Any) -> SourceItem:
    """The item for one mapping: a Record, or a BadRecord naming the key at fault."""
    if not isinstance(obj, Mapping):
        return BadRecord(number, None, f"expected a mapping, got {type_name(obj)}")
    for key in obj:
        if not isinstance(key, str):
            return BadRecord(number, None, f"keys must be strings, got {type_name(key)} {key!r}")
    return record_from_mapping(number, obj)


class _Hashed(RunningDigest):
    """A running sha256 over the items made (position = records), so equal streams give equal digests."""

    def add(self, item: SourceItem) -> SourceItem:
        if isinstance(item, BadRecord):
            self.update(_json.dumps_line([item.line, item.field, item.reason]), units=1)
        else:
            self.update(_json.dumps_line([item.line, item.kind, item.target, item.variables]), units=1)
        return item


class MappingSource(RecordSource):
    """An iterable of mappings (a list of dicts, a database cursor of dict rows, a generator)."""

    def __init__(self, records: Iterable[Any], *, name: str = RECORDS_NAME) -> None:
        self._records = records
        self._hash = _Hashed()
        self._eof = False
        super().__init__(name=name, format="jsonl", size=None)

    def _digest(self) -> RunningDigest:
        return self._hash

    @property
    def complete(self) -> bool:
        return self._eof

    def _generate(self) -> Generator[SourceItem, None, None]:
        add = self._hash.add
        for number, obj in enumerate(self._records, 1):
            yield add(mapping_item(number, obj))
        self._eof = True


class AsyncMappingSource(RecordSource):
    """An async iterable of mappings; read it with ``await source.aread_chunk(n)`` on its event loop.

    The synchronous interface (iteration, :meth:`read_chunk`) also works from a worker thread while
    that loop runs (``asyncio.to_thread``): each item is fetched on the loop. On the loop's own thread
    it raises ``RuntimeError``, since waiting there for the loop would deadlock.
    """

    def __init__(self, records: AsyncIterable[Any], *, name: str = RECORDS_NAME) -> None:
        self._iterator: AsyncIterator[Any] = records.__aiter__()
        self._hash = _Hashed()
        self._number = 0
        self._eof = False
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):  # opened outside a loop: aread_chunk records it
            self._loop = asyncio.get_running_loop()
        super().__init__(name=name, format="jsonl", size=None)

    def _digest(self) -> RunningDigest:
        return self._hash

    @property
    def complete(self) -> bool:
        return self._eof

    async def aread_chunk(self, max_items: int) -> list[SourceItem]:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._loop = asyncio.get_running_loop()
        items: list[SourceItem] = []
        while len(items) < max_items and not self._eof:  # bounded by max_items
            item = await self._next()
            if item is not None:
                items.append(item)
        return items

    async def _next(self) -> SourceItem | None:
        if self._eof or self._closed:
            self._eof = True
            return None
        try:
            obj = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return None
        self._number += 1
        return self._hash.add(mapping_item(self._number, obj))

    def _generate(self) -> Generator[SourceItem, None, None]:
        while True:  # bounded by the iterable: every pass takes one item or ends
            loop = self._loop
            if loop is None or not loop.is_running():
                raise RuntimeError(f"{self.name}: an async iterable is read with `await aread_chunk(n)`")
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError(
                    f"{self.name}: on the event loop, read an async iterable with `await aread_chunk(n)`"
                )
            item = asyncio.run_coroutine_threadsafe(self._next(), loop).result()
            if item is None:
                return
            yield item
