"""The one interface the engine reads every kind of input through: :class:`RecordSource`.

A source is a stream of :data:`SourceItem` (one per input record, in order) plus what a run keeps about
its input: ``encoding`` (for the sidecar, so a resume decodes the same way), ``columns`` (so placeholders
are checked before anything is sent) and a running ``digest()`` of everything read (complete at the end,
so a resume can prove the input is the same without reading ahead).
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import itertools
import os
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import Any, Final

from ._records import SourceItem
from .options import DEFAULT_OPTIONS, Format, SourceOptions

STDIN_NAME: Final = "<stdin>"


class RunningDigest:
    """sha256 of an input fed in pieces, which also keeps the digest of prefixes asked for in advance.

    ``position`` counts what was fed: bytes, or items when each :meth:`update` says ``units=1``. A
    resume asks, before reading, for the digest at the position the first run had reached, and compares.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.position = 0
        self._pending: list[int] = []  # marks not reached yet, ascending
        self._at: dict[int, str] = {}

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def mark(self, position: int) -> None:
        """Keep the digest at ``position`` when reading reaches it; refused once reading is past it."""
        if position < 0:
            raise ValueError("a position is never negative")
        if position == self.position:
            self._at[position] = self._sha.hexdigest()
        elif position < self.position:
            if position not in self._at:
                raise ValueError(f"the input was already read past position {position}; mark it before")
        elif position not in self._pending:
            bisect.insort(self._pending, position)

    def at(self, position: int) -> str | None:
        """The digest of the first ``position`` units, if it was marked and reached."""
        return self._at.get(position)

    def update(self, data: bytes, *, units: int | None = None) -> None:
        """Feed ``data`` (``units``: how far it moves the position; default its length in bytes)."""
        end = self.position + (len(data) if units is None else units)
        while units is None and self._pending and self._pending[0] < end:  # a mark inside these bytes
            mark = self._pending.pop(0)
            prefix = self._sha.copy()
            prefix.update(data[: mark - self.position])
            self._at[mark] = prefix.hexdigest()
        self._sha.update(data)
        self.position = end
        while self._pending and self._pending[0] <= end:
            self._at[self._pending.pop(0)] = self._sha.hexdigest()


class RecordSource:
    """One recipients input, read as a stream of :data:`SourceItem`; a context manager that closes it.

    ``__iter__``, :meth:`read_chunk` and :meth:`aread_chunk` share one position, so they can be mixed.
    Nothing is read until the first item, ``encoding`` or ``columns`` is asked for. Not thread-safe: one
    thread at a time may use it.
    """

    #: How this input is read (header names, delimiter, sheet); a reader given choices sets its own.
    options: SourceOptions = DEFAULT_OPTIONS

    def __init__(self, *, name: str, format: Format, size: int | None) -> None:
        self.name = name
        self.format: Format = format
        self._size = size
        self._closed = False
        self._items: Generator[SourceItem, None, None] = self._generate()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} format={self.format}>"

    def __enter__(self) -> RecordSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[SourceItem]:
        return self._items

    # -- what a subclass provides ----------------------------------------------------------------------

    def _generate(self) -> Generator[SourceItem, None, None]:
        """The items, in input order; whole-input problems raise :class:`~getui_async.errors.InputError`."""
        raise NotImplementedError

    #: Whether reads may stall (a pipe or FIFO), so read_chunk checks before each next item.
    _pipe = False

    def _would_block(self) -> bool:
        """Whether the next item may have to wait for a pipe that has no more data for now."""
        return False

    def _release(self) -> None:
        """Close what the subclass opened."""

    # -- reading -------------------------------------------------------------------------------------

    def read_chunk(self, max_items: int) -> list[SourceItem]:
        """Up to ``max_items`` next items; ``[]`` at the end. Meant for ``asyncio.to_thread``.

        On a pipe it returns early, with what it has, once the pipe has no more data for now: records are
        handed on as they arrive instead of waiting for a full chunk.
        """
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if not self._pipe:  # nothing can stall: the C-level slice keeps the hot path as it was
            return list(itertools.islice(self._items, max_items))
        items: list[SourceItem] = []
        for item in self._items:  # breaking out of the loop leaves the generator open
            items.append(item)
            if len(items) >= max_items or self._would_block():
                break
        return items

    async def aread_chunk(self, max_items: int) -> list[SourceItem]:
        """:meth:`read_chunk` for the event loop: blocking reads run in a worker thread."""
        return await asyncio.to_thread(self.read_chunk, max_items)

    @property
    def encoding(self) -> str | None:
        """The text encoding in use (``utf-8``, ``gb18030``, ``utf-16``), None for inputs without one.

        For auto-detection this reads the start of the input (on stdin: waits for its first read).
        """
        return None

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The header's named columns, or None for inputs without a header (JSONL, mappings).

        Reads the header if it was not read yet (on stdin: waits for it); raises ``InputError`` for a bad
        header, the same error reading would raise.
        """
        return None

    def fingerprint(self) -> dict[str, Any]:
        """The input's name, format and size (None for stdin): no reading, no waiting.

        Whether the content is the same is told by :meth:`digest`, compared once the input was read.
        """
        basename = self.name if self.name.startswith("<") else os.path.basename(self.name)
        return {"name": basename, "format": self.format, "size": self._size}

    def _digest(self) -> RunningDigest:
        """The running digest of what was read (a subclass feeds it)."""
        raise NotImplementedError

    def digest(self) -> str:
        """Hex sha256 of the input read so far (see :attr:`complete`); equal inputs, equal digests."""
        return self._digest().hexdigest()

    @property
    def position(self) -> int:
        """How far :meth:`digest` reaches: content bytes (text), records (mappings), file bytes (xlsx)."""
        return self._digest().position

    def mark(self, position: int) -> None:
        """Ask for :meth:`digest_at` ``position``; call it before reading passes there (``ValueError`` after).

        A resume marks the position the first run's digest was taken at, reads on, and compares.
        """
        self._digest().mark(position)

    def digest_at(self, position: int) -> str | None:
        """The digest of the input up to a marked ``position``; None until reading got there."""
        return self._digest().at(position)

    @property
    def complete(self) -> bool:
        """Whether the whole input was read, so :meth:`digest` covers all of it."""
        return False

    def close(self) -> None:
        """Release the input (never a caller's stdin). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._items.close()
        except ValueError:  # "generator already executing": a reader thread is stalled inside (an open
            return  # pipe); closing under it would break its read, so it is left to process exit
        self._release()
