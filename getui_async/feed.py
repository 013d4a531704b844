"""Reading the input: what it is (its fingerprint and digest) and the daemon thread that reads it.

The input is identified by its whole content: a regular file is hashed up front (before anything is
sent), a stream (stdin, a FIFO) is hashed as it is read, via :class:`InputDigest`. :class:`Feed` hands
the records to the event loop as the reader thread gets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from .sources import RecordSource, SourceItem

__all__ = ["FEED_CHUNK", "FEED_ITEMS", "Feed", "InputDigest", "describe_input", "file_sha256", "off_loop"]

T = TypeVar("T")

#: Items the reader thread may hold for the loop, at most (back-pressure on the reader). One chunk: a
#: reader running 4,096 items ahead fought the loop for the GIL; 200k batch records against the mock
#: took 5.26 s of user CPU with 4,096 and 4.48 s with 1,024 (medians of 4-5 interleaved runs; the engine
#: before the rebuild: 4.58 s).
FEED_ITEMS: Final = 1024
#: Items the reader thread takes from the source per hop (a pipe's read_chunk returns sooner, with what
#: has arrived). Chunks rather than single items under the lock: 200k records in batch mode against the
#: mock took 4.57 s of user CPU instead of 4.99 (medians of 3 interleaved runs).
FEED_CHUNK: Final = 1024
_HASH_CHUNK: Final = 1 << 20
_STDIN_NAME: Final = "<stdin>"


# --- what the input is ---


class InputDigest:
    """Whether a streamed input (stdin, a FIFO) starts as an earlier run's did, from the source's own digest.

    The source hashes what it reads (:meth:`RecordSource.digest`); ``expect`` is the (position, sha256)
    an earlier run recorded. The position is marked before the first read, so :attr:`matches` is known
    once reading gets there: True, False (different, or shorter), or None (not there yet). When
    ``exact`` (the earlier run read the whole input), reading past that position is a change too.
    """

    def __init__(self, source: RecordSource, expect: tuple[int, str] | None = None, *, exact: bool = False):
        self._source = source
        self._expect = expect if expect and expect[0] > 0 else None
        self._exact = exact and self._expect is not None
        if self._expect is not None:
            source.mark(self._expect[0])

    @property
    def matches(self) -> bool | None:
        expect, source = self._expect, self._source
        if expect is None:
            return True
        seen = source.digest_at(expect[0])
        if seen is None:
            return False if source.complete else None  # shorter than what the earlier run read
        if seen != expect[1]:
            return False
        return not (self._exact and source.position > expect[0])  # longer than the whole earlier input

    @property
    def total(self) -> int:
        """How far the digest reaches (see :attr:`RecordSource.position`)."""
        return self._source.position

    def hexdigest(self) -> str:
        return self._source.digest()


def file_sha256(path: str, cancel: threading.Event | None = None) -> str:
    """sha256 of a file's raw bytes, read in chunks (constant memory); "" if ``cancel`` was set."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            if cancel is not None and cancel.is_set():
                return ""
            digest.update(chunk)
    return digest.hexdigest()


def describe_input(
    source: RecordSource, cancel: threading.Event | None = None
) -> tuple[dict[str, Any], bool]:
    """The input's fingerprint for the sidecar, and whether it is a stream (hashed while read).

    A regular file is hashed whole here, before anything is sent; this may take a second per GB, so
    call it off the event loop (see :func:`off_loop`), with ``cancel`` to cut it short on a stop.
    """
    name = source.name
    regular = False
    size: int | None = None
    if name != _STDIN_NAME:
        try:
            info = os.stat(name)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            regular, size = True, info.st_size
    fingerprint: dict[str, Any] = {
        "name": name if name == _STDIN_NAME else os.path.basename(name),
        "format": source.format,
        "size": size,
        "sha256": file_sha256(name, cancel) if regular else None,
    }
    return fingerprint, not regular


async def off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread (never joined at exit, unlike ``asyncio.to_thread``'s executor)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the loop
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="getui-hash", daemon=True).start()
    return await future


# --- the reader thread ---


class Feed:
    """Reads the source in a daemon thread and hands items to the event loop as they come.

    Not ``asyncio.to_thread``: the default executor is joined at exit, so a read stalled on a pipe
    would hang the process; a daemon thread is simply left behind. The thread appends each item
    under a lock, a ``read_chunk`` at a time, and wakes the loop when the list goes from empty to
    non-empty, so a slow pipe's records are sent as they arrive (its ``read_chunk`` returns with what
    has come) and a fast file's come in large batches; it waits while ``FEED_ITEMS`` are unclaimed.
    """

    def __init__(
        self, source: RecordSource, loop: asyncio.AbstractEventLoop, *, limit: int = FEED_ITEMS
    ) -> None:
        self._source = source
        self._loop = loop
        self._limit = limit
        self._cond = threading.Condition(threading.Lock())
        self._items: list[SourceItem] = []
        self._done = False
        self._closed = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, name=f"getui-input {source.name}", daemon=True)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def _run(self) -> None:
        cond, limit, read = self._cond, self._limit, self._source.read_chunk
        try:
            while chunk := read(FEED_CHUNK):
                with cond:
                    while len(self._items) >= limit and not self._closed:
                        cond.wait()
                    if self._closed:
                        return
                    was_empty = not self._items
                    self._items.extend(chunk)
                    if was_empty:
                        self._poke()
        except BaseException as exc:  # handed to the loop, raised there
            self._error = exc
        finally:
            with cond:
                self._done = True
            self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> list[SourceItem] | None:
        """The items read since the last call (waiting for at least one); None at the end or once closed."""
        while True:
            with self._cond:
                if self._closed:
                    return None
                if self._items:
                    batch, self._items = self._items, []
                    self._cond.notify()
                    return batch
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return None
                self._waiter = self._loop.create_future()
            await self._waiter

    def close(self) -> None:
        """Stop handing out items and wake a waiting :meth:`get`; the thread is not waited for."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._wake()

    def let_go(self, timeout_s: float = 0.5) -> bool:
        """After :meth:`close`: give the thread a moment to leave the source; False if a read is stalled."""
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()
