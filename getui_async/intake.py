"""Intake: source → resume filter → render → dedupe → planner → the bounded queue of plans.

Intake takes what the reader thread read (:class:`~getui_async.feed.Feed`), applies the resume
state, the duplicate filter and the planner, decides the outcomes that need no request (``rejected``,
``duplicate``, ``validated``) and hands every other record, grouped into requests and screened, to the
dispatcher through a bounded queue. It never talks to Getui.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from .dedupe import DuplicateFilter
from .errors import InputError, MessageError
from .feed import Feed, InputDigest
from .messages import MessageTemplate, Rendered, recipient_ids
from .outcome import Kind, Status, StopReason
from .planner import Plan, Planner
from .results import ResultsLog, ResumeState
from .sources import BadRecord, Record, SourceItem

__all__ = [
    "FIRST_ITEMS",
    "STREAM_LINGER_S",
    "Intake",
    "IntakeParts",
    "IntakeSettings",
    "Job",
    "RunControl",
    "Screen",
    "StreamCheck",
    "record_decided",
]

#: Items read before anything is written (errors in them are input errors, exit 2), for a file.
FIRST_ITEMS: Final = 1024
#: A stream quiet for this long sends its partly filled requests (records go as they arrive).
STREAM_LINGER_S: Final = 0.05
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


def record_decided(results: ResultsLog, job: Job, status: Status, msg: str = "") -> None:
    """The line of a recipient decided without a request (duplicate, validated, excluded, capped)."""
    results.add(
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


class RunControl(Protocol):
    """What intake needs of the run it feeds: whether it is stopping, and a way to stop it."""

    @property
    def stopping(self) -> bool: ...

    def request_stop(self, reason: StopReason, detail: str = "") -> None: ...


class Screen(Protocol):
    """A last look at a request's recipients before it is queued (exclusion lists, frequency caps)."""

    async def screen(self, plans: list[Plan[Job]], results: ResultsLog) -> list[Plan[Job]]:
        """``plans`` (one intake chunk) without the recipients it decided (their lines written), in
        order; a plan left empty is dropped."""
        ...


@dataclass(frozen=True, slots=True)
class StreamCheck:
    """A streamed input (stdin, a FIFO): read as it arrives, and compared with what an earlier run read."""

    digest: InputDigest
    #: The stop detail when the stream is not the input the earlier run read.
    refusal: str
    #: A quiet stream sends its partly filled requests after this long (records go as they arrive).
    linger_s: float = STREAM_LINGER_S


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """How intake decides: the campaign's ids, a dry run (``validated`` lines), a streamed input."""

    campaign_id: str
    dry_run: bool = False
    stream: StreamCheck | None = None


@dataclass(frozen=True, slots=True)
class IntakeParts:
    """The stages a record passes, in order: render, dedupe, plan, screen (the campaign owns their life)."""

    template: MessageTemplate
    dedupe: DuplicateFilter[Job]
    planner: Planner[Job]
    screen: Screen | None = None


class Intake:
    """Turns source items into plans on ``queue`` and decided lines in the results log.

    ``resume`` says which records an earlier run finished; ``control`` is the run (its stop switch).
    """

    def __init__(
        self,
        feed: Feed,
        parts: IntakeParts,
        results: ResultsLog,
        resume: ResumeState,
        *,
        settings: IntakeSettings,
        control: RunControl,
    ) -> None:
        self._feed = feed
        self._template = parts.template
        self._dedupe = parts.dedupe
        self._planner = parts.planner
        self._screen = parts.screen
        self._results = results
        self._resume = resume
        self._campaign = settings.campaign_id
        self._dry_run = settings.dry_run
        self._stream = settings.stream
        self._linger_s = settings.stream.linger_s if settings.stream is not None else None
        self._control = control
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
            control, stream = self._control, self._stream
            while not control.stopping:
                if self._first is not None:
                    items, self._first = self._first, None
                else:
                    try:
                        got = await self._next(ready, queue)
                    except InputError as exc:
                        control.request_stop(StopReason.INPUT, str(exc))
                        break
                    if got is None:
                        self.complete = not control.stopping
                        break
                    items = got
                if stream is not None and stream.digest.matches is False:
                    # A resumed stream differs from what the earlier run read.
                    control.request_stop(StopReason.INPUT_CHANGED, stream.refusal)
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
        except Exception as exc:
            self._results.commit()
            # Stop first, so the workers drain the queue unsent; then end them, so a run whose requests
            # are all done does not wait out its drain timeout for workers idle on an empty queue.
            self._control.request_stop(StopReason.FATAL, f"internal error: {exc!r}")
            if queue is not None:
                for _ in range(senders):
                    await queue.put(None)
            raise
        except BaseException:
            self._results.commit()
            raise  # no end markers: a cancelled intake must not block again on a full queue
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
        if queue is not None and ready:
            screen = self._screen
            for plan in ready if screen is None else await screen.screen(ready, self._results):
                await queue.put(plan)
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
            record_decided(self._results, job, status, msg)
        else:
            endpoint = self._planner.endpoint_for(job.message.shared, job.kind)
            assert endpoint is not None
            plan = self._planner.add(job, job.kind, endpoint)
            if plan is not None:
                ready.append(plan)
