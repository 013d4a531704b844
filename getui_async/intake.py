"""Intake: source → resume filter → render → dedupe → planner → the bounded queue of plans.

Intake owns the reading of the input (a daemon thread, see :class:`Feed`), the resume state, the
duplicate filter and the planner. It decides the outcomes that need no request (``rejected``,
``duplicate``, ``validated``) and hands every other record, grouped into requests, to the dispatcher
through a bounded queue. It never talks to Getui.

The input is identified by its whole content: a regular file is hashed up front (before anything is
sent), a stream (stdin, a FIFO) is hashed as it is read, via :class:`InputDigest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, NamedTuple, TypeVar

from .dedupe import DuplicateFilter
from .errors import InputError, MessageError
from .messages import MessageTemplate, Rendered, recipient_ids
from .planner import Plan, Planner
from .results import ResultsLog, ResumeState, Status
from .sources import BadRecord, Record, RecordSource, SourceItem

__all__ = [
    "FIRST_ITEMS",
    "STREAM_LINGER_S",
    "Feed",
    "InputDigest",
    "Intake",
    "Job",
    "describe_input",
    "off_loop",
]

log = logging.getLogger(__name__)

Kind = Literal["cid", "alias"]
T = TypeVar("T")

#: Items read before anything is written (errors in them are input errors, exit 2), for a file.
FIRST_ITEMS: Final = 1024
#: A stream quiet for this long sends its partly filled requests (records go as they arrive).
STREAM_LINGER_S: Final = 0.05
#: Items the reader thread may hold for the loop, at most (back-pressure on the reader).
FEED_ITEMS: Final = 4096
_HASH_CHUNK: Final = 1 << 20
_STDIN_NAME: Final = "<stdin>"
_PERSONAL_IN_LIST: Final = "personalized content cannot be sent with --mode list (use auto or batch)"


class Job(NamedTuple):
    """One recipient on its way: a push (target, request_id, message) plus where it came from.

    A tuple, not a dataclass: one is made per recipient, and a frozen dataclass costs ~3x to build.
    """

    target: str
    request_id: str
    message: Rendered
    kind: Kind
    line: int
    record: int


# --- what the input is ---


class InputDigest:
    """A read-through wrapper that hashes a stream's raw bytes as the source reads them.

    Reads with one ``os.read`` on the file descriptor when there is one, so a pipe's records come
    through as they arrive (a buffered ``read(n)`` waits for ``n`` bytes) and no interpreter-level
    lock of ``sys.stdin`` is held by the reader thread at exit. ``expect`` is the (bytes, sha256) of
    what an earlier run read: :attr:`matches` says whether this input starts the same way (and, when
    ``exact``, the earlier run read the whole input: whether it is the same length too).
    """

    def __init__(self, inner: Any, expect: tuple[int, str] | None = None, *, exact: bool = False) -> None:
        self._inner = inner
        self._sha = hashlib.sha256()
        self.total = 0
        self.eof = False
        self._expect = expect
        self.matches: bool | None = None if expect and expect[0] > 0 else True
        self._exact = exact and expect is not None
        fd: int | None
        try:
            fd = inner.fileno()
            mode = os.fstat(fd).st_mode
            # Only for pipes, terminals and sockets, read before anyone else did (nothing buffered).
            if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)):
                fd = None
        except (AttributeError, OSError, ValueError):
            fd = None
        self._fd = fd
        self._read1 = getattr(inner, "read1", None)

    def read(self, size: int = -1, /) -> bytes:
        if self._fd is not None:
            data = os.read(self._fd, size if size > 0 else _HASH_CHUNK)
            if size < 0 and data:
                parts = [data]
                while chunk := os.read(self._fd, _HASH_CHUNK):
                    parts.append(chunk)
                data = b"".join(parts)
        elif self._read1 is not None and size > 0:
            data = self._read1(size)
        else:
            data = self._inner.read(size)
        if not data:
            self.eof = True
            self._check_prefix(final=True)
            return data
        expect = self._expect
        if expect is not None and self.matches is None and self.total + len(data) >= expect[0]:
            cut = expect[0] - self.total
            head = self._sha.copy()
            head.update(data[:cut])
            self.matches = head.hexdigest() == expect[1]
        self._sha.update(data)
        self.total += len(data)
        if self._exact and expect is not None and self.total > expect[0]:
            self.matches = False  # longer than the whole input the earlier run read
        return data

    def _check_prefix(self, *, final: bool) -> None:
        if final and self.matches is None:
            self.matches = False  # shorter than what the earlier run read

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def fileno(self) -> int:
        return int(self._inner.fileno())

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


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


def hash_stream(
    source: RecordSource, expect: tuple[int, str] | None, *, exact: bool = False
) -> InputDigest | None:
    """Put an :class:`InputDigest` under ``source`` before its first read; None if that cannot be done.

    Reaches into the source's raw stream (``RecordSource._stream``): the one place the engine does.
    """
    if getattr(source, "_content", "missing") is not None or not hasattr(source, "_stream"):
        log.warning(
            "%s: cannot hash this input as it streams; a resume cannot prove it unchanged", source.name
        )
        return None
    digest = InputDigest(source._stream, expect, exact=exact)
    source._stream = digest
    return digest


# --- the reader thread ---


class Feed:
    """Reads the source in a daemon thread and hands items to the event loop as they come.

    Not ``asyncio.to_thread``: the default executor is joined at exit, so a read stalled on a pipe
    would hang the process; a daemon thread is simply left behind. The thread appends each item
    under a lock and wakes the loop when the list goes from empty to non-empty, so a slow pipe's
    records are sent as they arrive and a fast file's come in large batches; it waits while
    ``FEED_ITEMS`` are unclaimed.
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
        cond, items, limit = self._cond, self._items, self._limit
        try:
            for item in self._source:
                with cond:
                    while len(self._items) >= limit and not self._closed:
                        cond.wait()
                    if self._closed:
                        return
                    items = self._items
                    items.append(item)
                    if len(items) == 1:
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


# --- intake ---


class Intake:
    """Turns source items into plans on ``queue`` and decided lines in the results log."""

    def __init__(
        self,
        feed: Feed,
        template: MessageTemplate,
        planner: Planner[Job],
        campaign_id: str,
        resume: ResumeState,
        dedupe: DuplicateFilter[Job],
        results: ResultsLog,
        *,
        dry_run: bool,
        stopping: Callable[[], bool],
        on_input_error: Callable[[InputError], None],
        digest: InputDigest | None = None,
        on_input_changed: Callable[[], None] = lambda: None,
        linger_s: float | None = None,
        screen: Callable[[Plan[Job]], Awaitable[Plan[Job] | None]] | None = None,
    ) -> None:
        self._feed = feed
        self._screen = screen  # exclusions and caps (#14): a request's recipients before they are queued
        self._template = template
        self._planner = planner
        self._campaign = campaign_id
        self._resume = resume
        self._dedupe = dedupe
        self._results = results
        self._dry_run = dry_run
        self._stopping = stopping
        self._on_input_error = on_input_error
        self._digest = digest
        self._linger_s = linger_s
        self._on_input_changed = on_input_changed
        self.records = 0
        self.skipped = 0
        #: Set once the whole input was read (not after a stop).
        self.complete = False
        self._first: list[SourceItem] | None = None

    async def first(self, at_least: int) -> None:
        """Read the first items (up to ``at_least``, or what a stream has): an empty input, a bad header
        or a corrupt start raises here, before anything is written."""
        first: list[SourceItem] = []
        while len(first) < at_least:
            items = await self._feed.get()
            if items is None:
                break
            first += items
            if at_least <= 1:
                break
        self._first = first or None

    async def run(self, queue: asyncio.Queue[Plan[Job] | None] | None, senders: int) -> None:
        """Read, classify and plan every record; then tell the ``senders`` workers there is no more."""
        ready: list[Plan[Job]] = []
        try:
            while not self._stopping():
                if self._first is not None:
                    items, self._first = self._first, None
                else:
                    try:
                        got = await self._next(ready, queue)
                    except InputError as exc:
                        self._on_input_error(exc)
                        break
                    if got is None:
                        self.complete = not self._stopping()
                        break
                    items = got
                if self._digest is not None and self._digest.matches is False:
                    self._on_input_changed()  # a resumed stream differs from what the earlier run read
                    break
                self._classify(self.records + 1, items, ready)
                self.records += len(items)
                self._results.commit()
                await self._hand_over(ready, queue)
            if self.complete:
                for job, duplicate in self._dedupe.flush():
                    self._decided(job, duplicate, ready)
                ready.extend(self._planner.flush())
                self._results.commit()
                await self._hand_over(ready, queue)
            else:
                # Settle what the filter held back: a duplicate gets its line now; the rest stays unsent
                # (no line), so a resume finds few holes far behind the last line.
                for job, duplicate in self._dedupe.flush():
                    if duplicate:
                        self._decided(job, True, ready)
                self._results.commit()
        except BaseException:
            self._results.commit()
            raise  # no end markers: a cancelled or failed intake must not block again on a full queue
        if queue is not None:
            for _ in range(senders):
                await queue.put(None)  # workers drain the queue until they see this (a way out: cancel)

    async def _next(
        self, ready: list[Plan[Job]], queue: asyncio.Queue[Plan[Job] | None] | None
    ) -> list[SourceItem] | None:
        """The next items; a stream that goes quiet for ``linger_s`` first sends the requests it filled
        partly (and the records the duplicate filter held), so records go as they arrive."""
        if self._linger_s is None or not (self._planner.pending or self._dedupe.held):
            return await self._feed.get()
        getter = asyncio.ensure_future(self._feed.get())
        done, _ = await asyncio.wait({getter}, timeout=self._linger_s)
        if not done:
            for job, duplicate in self._dedupe.flush():
                self._decided(job, duplicate, ready)
            ready.extend(self._planner.flush())
            self._results.commit()
            await self._hand_over(ready, queue)
        return await getter

    async def _hand_over(self, ready: list[Plan[Job]], queue: asyncio.Queue[Plan[Job] | None] | None) -> None:
        if queue is not None:
            screen = self._screen
            for plan in ready:
                kept = plan if screen is None else await screen(plan)
                if kept is not None:
                    await queue.put(kept)
        ready.clear()

    def _classify(self, first: int, items: list[SourceItem], ready: list[Plan[Job]]) -> None:
        """Decide what happens to each record of a chunk (numbered from ``first``).

        Decisions are the same on a resumed run (same input): a record already done is rendered and
        registered with the duplicate filter exactly as the first run did, then skipped. This loop runs
        once per recipient, so it keeps its lookups in locals.
        """
        render, endpoint_for = self._template.render, self._planner.endpoint_for
        campaign, done, dedupe = self._campaign, self._resume.done, self._dedupe
        add, decide, ids, reject = dedupe.add, self._decided, recipient_ids, self._reject
        for record, item in enumerate(items, first):
            if type(item) is BadRecord:
                if done(record):
                    self.skipped += 1
                else:
                    reject(record, item.line, item.kind, item.target, item.field, item.reason)
                continue
            assert type(item) is Record
            try:
                rendered = render(item.variables, item.overrides or None)
            except MessageError as exc:
                self._refuse(record, item, done(record), exc.field, exc.reason)
                continue
            if endpoint_for(rendered.shared, item.kind) is None:
                self._refuse(record, item, done(record), None, _PERSONAL_IN_LIST)
                continue
            request_id, fingerprint = ids(campaign, item.kind, item.target)
            if done(record):
                dedupe.register(fingerprint)
                self.skipped += 1
                continue
            for job, duplicate in add(
                fingerprint, Job(item.target, request_id, rendered, item.kind, item.line, record)
            ):
                decide(job, duplicate, ready)

    def _refuse(self, record: int, item: Record, done: bool, field_name: str | None, reason: str) -> None:
        if done:
            self.skipped += 1
        else:
            self._reject(record, item.line, item.kind, item.target, field_name, reason)

    def _reject(
        self,
        record: int,
        line: int,
        kind: Kind | None,
        target: str | None,
        field_name: str | None,
        reason: str,
    ) -> None:
        msg = f"field '{field_name}': {reason}" if field_name else reason
        self._results.add(
            line,
            record,
            kind or "cid",
            target,
            None,
            Status.REJECTED,
            None,
            msg,
            None,
            0,
            {"field": field_name},
        )

    def _decided(self, job: Job, duplicate: bool, ready: list[Plan[Job]]) -> None:
        results = self._results
        if duplicate:
            msg = "the same recipient appears earlier in the input"
            results.add(
                job.line,
                job.record,
                job.kind,
                job.target,
                job.request_id,
                Status.DUPLICATE,
                None,
                msg,
                None,
                0,
            )
        elif self._dry_run:
            results.add(
                job.line,
                job.record,
                job.kind,
                job.target,
                job.request_id,
                Status.VALIDATED,
                None,
                "",
                None,
                0,
            )
        else:
            endpoint = self._planner.endpoint_for(job.message.shared, job.kind)
            assert endpoint is not None
            plan = self._planner.add(job, job.kind, endpoint)
            if plan is not None:
                ready.append(plan)
