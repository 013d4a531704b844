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
from typing import Any, Final, NamedTuple, TypeVar

from .dedupe import DuplicateFilter
from .errors import InputError, MessageError
from .messages import MessageTemplate, Rendered, recipient_ids
from .outcome import Kind
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


T = TypeVar("T")

#: Items read before anything is written (errors in them are input errors, exit 2), for a file.
FIRST_ITEMS: Final = 1024
#: A stream quiet for this long sends its partly filled requests (records go as they arrive).
STREAM_LINGER_S: Final = 0.05
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


_DUPLICATE_MSG: Final = "the same recipient appears earlier in the input"


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
        campaign, done, dedupe = self._campaign, self._resume.skip, self._dedupe  # skip: --retry-failed
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
            line=line,
            record=record,
            kind=kind or "cid",
            target=target,
            request_id=None,
            status=Status.REJECTED,
            code=None,
            msg=msg,
            taskid=None,
            attempts=0,
            extra={"field": field_name},
        )

    def _decided(self, job: Job, duplicate: bool, ready: list[Plan[Job]]) -> None:
        if duplicate or self._dry_run:
            status, msg = (Status.DUPLICATE, _DUPLICATE_MSG) if duplicate else (Status.VALIDATED, "")
            self._results.add(
                line=job.line,
                record=job.record,
                kind=job.kind,
                target=job.target,
                request_id=job.request_id,
                status=status,
                code=None,
                msg=msg,
                taskid=None,
                attempts=0,
            )
        else:
            endpoint = self._planner.endpoint_for(job.message.shared, job.kind)
            assert endpoint is not None
            plan = self._planner.add(job, job.kind, endpoint)
            if plan is not None:
                ready.append(plan)
