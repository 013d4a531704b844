"""The campaign: runs intake and the dispatcher's workers, stops them, drains them, sums them up.

::

    source ─► Feed (daemon thread) ─► Intake ─► bounded queue ─► Dispatcher workers ─► ResultsLog ─► RESULTS
              (raw bytes hashed)      (resume state, render,      (client, throttle,     (schema, Status,
                                       dedupe, planner)            list task, retries)    counts, writer)

Every stop (a signal, a quota, a fatal error, a write failure, unreadable input) goes through
:meth:`Campaign.request_stop`: the reader is let go at once (it is never waited for), workers drain
the queue without sending, requests in flight get ``drain_timeout_s`` to finish, then whatever is left
is cancelled. No task waits on another without a way out, so a stop always ends. :class:`Summary` is
filled in one place, at the end of :meth:`Campaign.run`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

from .client import GetuiClient
from .config import CampaignSettings, Mode, Settings
from .dedupe import DuplicateFilter
from .dispatcher import Dispatcher, LineBudget
from .events import CampaignStopping, Observer, Observers
from .intake import (
    FIRST_ITEMS,
    STREAM_LINGER_S,
    Feed,
    InputDigest,
    Intake,
    Job,
    describe_input,
    off_loop,
)
from .limits import Limits
from .messages import (
    MessageTemplate,
    VendorWarning,
    check_placeholders,
    derive_campaign_id,
    derive_notify_id,
)
from .pacing import Pacing
from .planner import Plan, Planner
from .results import (
    LIBRARY_WORDS,
    UNBOUNDED_RECORDS,
    ResultsLog,
    ResultsWriteError,
    ResultsWriter,
    ResumeState,
    RunLock,
    RunMeta,
    Words,
    compact_results,
    load_resume_state,
    read_meta,
    record_run,
    stored_encoding,
    write_meta,
)
from .retry import RetryDetails, call_with_retry
from .schedule import Schedule
from .sources import DEFAULT_OPTIONS, ENCODINGS, RecordSource, SourceOptions, open_source
from .throttle import Throttle
from .transport import Transport

__all__ = ["Campaign", "Summary", "run_campaign"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Recipients waiting in the queue for a worker, at most (about; a request is never split for it).
QUEUED_RECIPIENTS: Final = 4096
#: After the drain timeout, cancelled tasks get this long to unwind (within the +5 s of the contract).
_CANCEL_GRACE_S: Final = 3.0
#: Disk set aside for the lines of requests in flight when the results disk fills (about a line each).
_LINE_BYTES: Final = 400
_MAX_RESERVE: Final = 8 << 20
_MIN_RESERVE: Final = 64 << 10
#: Stop reasons whose exit status is 2 (the input or results file is not what the run needs).
_USAGE_STOPS: Final = frozenset({"input_changed"})


@dataclass
class Summary:
    """What a run did; ``exit_code`` is the CLI contract's (0 ok, 1 some failed/rejected, 3 stopped).

    ``stopped`` names why a run ended early: ``signal``, ``quota``, ``fatal``, ``input``,
    ``write_error`` (exit 3), or ``input_changed`` (a resumed stream is not the input of the earlier
    run: exit 2).
    """

    campaign_id: str
    results_path: str | None
    counts: Counter[str] = field(default_factory=Counter)
    previous: Counter[str] = field(default_factory=Counter)
    records: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    requests: int = 0
    retries: int = 0
    token_refreshes: int = 0
    throttle_pauses: int = 0
    #: Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``).
    already_taken: int = 0
    stopped: str | None = None
    stop_detail: str = ""
    dry_run: bool = False
    #: Result lines earlier runs wrote (on ``--resume``): the whole campaign is ``resume_prior + done``.
    resume_prior: int = 0
    #: Bytes of a torn last line (a killed write) cut from the results file before resuming.
    repaired_bytes: int = 0
    #: ``--retry-failed``: records whose last line was retryable were sent again.
    retry_failed: bool = False
    #: Earlier outcomes (by status) this run's lines superseded: ``--retry-failed`` re-sends.
    superseded: Counter[str] = field(default_factory=Counter)
    #: Superseded lines removed from the results file at the end (one line per record again).
    compacted_lines: int = 0
    #: Every run of this results file so far, this one last (from the sidecar; empty without ``out``).
    runs: list[dict[str, Any]] = field(default_factory=list)
    #: A send to test devices (``CampaignSettings.test``).
    test: bool = False
    #: Known silent-drop risks of this message (:func:`~getui_async.messages.vendor_warnings`).
    warnings: list[VendorWarning] = field(default_factory=list)

    @property
    def campaign_counts(self) -> Counter[str]:
        """The final outcome of every record of the campaign so far: earlier runs and this one."""
        total = self.previous + self.counts
        total.subtract(self.superseded)
        return +total

    #: Every wait for the send window or the daily quota (``WaitEnded.to_dict()``), in order.
    waits: list[dict[str, Any]] = field(default_factory=list)
    #: The run's time rules (``--tz``, ``--quota-reset``): a quota stop says when the quota resets.
    schedule: Schedule | None = field(default=None, repr=False)

    @property
    def done(self) -> int:
        """Result lines written by this run."""
        return sum(self.counts.values())

    @property
    def recipients_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped in _USAGE_STOPS:
            return 2
        if self.stopped:
            return 3
        total = self.campaign_counts
        return 1 if total["failed"] or total["rejected"] else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "results": self.results_path,
            "counts": dict(self.counts),
            "previous_counts": dict(self.previous),
            "records": self.records,
            "skipped_already_done": self.skipped,
            "lines_written": self.done,
            "resume_prior": self.resume_prior,
            "repaired_bytes": self.repaired_bytes,
            "elapsed_s": round(self.elapsed_s, 3),
            "recipients_per_s": round(self.recipients_per_s, 1),
            "requests": self.requests,
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "throttle_pauses": self.throttle_pauses,
            "already_taken": self.already_taken,
            "stopped": self.stopped,
            "stop_detail": self.stop_detail,
            "dry_run": self.dry_run,
            "test": self.test,
            "warnings": [dict(w) for w in self.warnings],
            "retry_failed": self.retry_failed,
            "superseded_counts": dict(self.superseded),
            "compacted_lines": self.compacted_lines,
            "campaign_by_status": dict(sorted(self.campaign_counts.items())),
            "campaign_records": sum(self.campaign_counts.values()),
            "runs": self.runs,
            "waits": self.waits,
            "exit_code": self.exit_code,
        }


def _timestamp() -> Any:
    """An ISO-8601 UTC clock with ms; formats once per millisecond (a batch reply settles 200 at once)."""
    sec_seen = ms_seen = -1
    sec_text = ms_text = ""

    def now() -> str:
        nonlocal sec_seen, sec_text, ms_seen, ms_text
        ms = time.time_ns() // 1_000_000
        if ms != ms_seen:
            sec = ms // 1000
            if sec != sec_seen:
                sec_seen, sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            ms_seen, ms_text = ms, f"{sec_text}.{ms % 1000:03d}Z"
        return ms_text

    return now


def _expected_records(fingerprint: dict[str, Any], name: str) -> int:
    """A generous guess at the record count, to size the duplicate filter (it grows if wrong)."""
    size = fingerprint.get("size")
    if not isinstance(size, int):
        return 1_000_000
    return max(100_000, size * (4 if name.endswith(".gz") else 1) // 32)


def _record_bound(fingerprint: dict[str, Any], name: str) -> int:
    """The most records (and lines) this input can hold: a resume refuses a file naming more."""
    size = fingerprint.get("size")
    if not isinstance(size, int) or name.endswith(".gz"):
        return UNBOUNDED_RECORDS  # a stream, or compressed (no cheap bound)
    return size + 1


class Campaign:
    """One run of one message over one recipients source. Use :func:`run_campaign` for the common case."""

    def __init__(
        self,
        source: RecordSource,
        template: MessageTemplate,
        settings: Settings | None,
        options: CampaignSettings,
        *,
        out: Path | None,
        resume: bool = False,
        retry_failed: bool = False,
        observers: Iterable[Observer] = (),
        transport: Transport | None = None,
        warnings: Iterable[VendorWarning] = (),
        words: Words = LIBRARY_WORDS,
    ) -> None:
        """``warnings``: the message's silent-drop warnings, for the summary; ``words``: how messages name
        the caller's options (library arguments by default; the CLI passes its flags)."""
        if settings is None and not options.dry_run:
            raise ValueError("settings are required unless dry_run is set")
        if retry_failed and not resume:
            raise ValueError("retry_failed needs resume: it sends again what an earlier run left failed")
        if retry_failed and options.dry_run:
            raise ValueError(
                "retry_failed cannot be a dry run: 'validated' lines would replace real outcomes"
            )
        self._retry_failed = retry_failed
        self._source = source
        self._options = options
        self._settings = settings
        self._out = out
        self._resume = resume
        self._transport = transport
        self._words = words
        #: The input's text encoding as read (kept in the sidecar so a resume reads it the same way).
        self._encoding: str | None = None
        self._observers = Observers(observers)
        self.campaign_id = options.campaign_id or derive_campaign_id(template)
        self._fingerprint = template.fingerprint
        self._template = template.with_notify_id(derive_notify_id(self.campaign_id), self.campaign_id)
        self.summary = Summary(
            self.campaign_id,
            str(out) if out else None,
            dry_run=options.dry_run,
            retry_failed=retry_failed,
            test=options.test,
            warnings=list(warnings),
        )
        self._group_name = self._template.to_dict().get("group_name")
        self._started_at = ""
        self._stop_event = asyncio.Event()
        self._stopped: tuple[str, str] | None = None
        self._feed: Feed | None = None
        self._results: ResultsLog | None = None
        self._lock: RunLock | None = None
        self._budget: LineBudget | None = None
        self._intake: Intake | None = None
        self._owners: tuple[Dispatcher, Throttle, GetuiClient] | None = None
        self._pacing: Pacing | None = None

    # -- public control ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopped is not None

    @property
    def template(self) -> MessageTemplate:
        """The message as sent: the given template with this campaign's notify_id and collapse id."""
        return self._template

    def request_stop(self, reason: str = "signal", detail: str = "") -> None:
        """Stop taking new work; requests in flight may finish within ``drain_timeout_s``."""
        if self._stopped is not None:
            return
        self._stopped = (reason, detail)
        self._stop_event.set()
        if self._pacing is not None:
            self._pacing.stop()  # a wait for the window or the quota ends at once
        if self._feed is not None:
            self._feed.close()
        if self._budget is not None:
            self._budget.open()
        self._observers.emit(CampaignStopping(reason, detail))
        log.warning("stopping the campaign (%s)%s", reason, f": {detail}" if detail else "")

    def abort(self) -> None:
        """Write every result line the OS will take, never raising (before an immediate exit)."""
        if self._results is not None:
            self._results.flush_quietly()

    flush_now = abort  # the name the CLI's second-signal handler has used

    def _write_failed(self, exc: ResultsWriteError) -> None:
        if self._lock is not None and self._lock.free_reserve():
            log.info("freed the disk reserve so the lines of requests in flight can be written")
        self.request_stop(
            "write_error",
            f"could not write {exc.path}: {exc.strerror}; free space, then {self._words.again}",
        )

    async def _unless_stopped(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None (``work`` cancelled) if the campaign is stopped first."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task}, timeout=_CANCEL_GRACE_S)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a late error must not surface as "never retrieved"
        return None

    # -- the run ---------------------------------------------------------------------------------------

    async def run(self) -> Summary:
        """Send the campaign; returns the summary. Raises only before anything was written or sent."""
        started = time.monotonic()
        if not self._resume:
            # A placeholder that is no column of the header would reject every record: one error
            # instead, before the input is hashed or anything is locked, written or sent (a bad header
            # raises here too). A resume skips it: the run that started the file checked the same
            # template and input, and a streamed input's resume must mark its digest before any read.
            source = self._source
            head = await self._unless_stopped(off_loop(lambda: (source.columns, source.encoding)))
            columns, self._encoding = head if head is not None else (None, None)
            if columns is not None:
                check_placeholders(self._template, columns)
        self._started_at = _timestamp()()
        lock = self._lock = RunLock(self._out, self._words).acquire() if self._out is not None else None
        if lock is not None:
            opts = self._options
            largest = 1 if opts.mode is Mode.SINGLE else max(opts.batch_size, opts.list_chunk)
            wanted = min(_MAX_RESERVE, max(_MIN_RESERVE, opts.concurrency * largest * _LINE_BYTES))
            reserved = lock.reserve(wanted)
            if 0 < reserved < wanted:
                # A nearly full disk: send no more at once than the reserve can record.
                self._budget = LineBudget(reserved // _LINE_BYTES)
                log.warning(
                    "%s: little disk space left; at most %d recipients in flight so their lines fit",
                    self._out,
                    self._budget.limit,
                )
        try:
            return await self._run_locked(started)
        finally:
            if lock is not None:
                lock.release()

    async def _run_locked(self, started: float) -> Summary:
        source, out, summary = self._source, self._out, self.summary
        cancel = threading.Event()
        described = await self._unless_stopped(off_loop(lambda: describe_input(source, cancel)))
        if described is None:  # stopped while hashing a large input: nothing was sent or written
            cancel.set()
            self._finish(ResumeState(), started)
            return summary
        fingerprint, streamed = described
        resume_state = (
            load_resume_state(
                out,
                max_record=_record_bound(fingerprint, source.name),
                retry_failed=self._retry_failed,
                retry_unconfirmed=self._options.retry_unconfirmed,
            )
            if (out is not None and self._resume)
            else ResumeState()
        )
        digest: InputDigest | None = None
        if streamed:
            stored = read_meta(out) if (out is not None and self._resume) else None
            stored_input = stored.get("input") if stored else None
            expect, exact = None, False
            if isinstance(stored_input, dict):
                size, sha = stored_input.get("stream_bytes"), stored_input.get("stream_sha256")
                if type(size) is int and isinstance(sha, str):
                    expect, exact = (size, sha), stored_input.get("stream_complete") is True
            digest = InputDigest(source, expect, exact=exact)  # marks the position before any read
        if not self._options.dry_run:
            # Exclusion lists and the ledger (repaired on --resume): read before anything is written.
            self._pacing = await Pacing.open(
                self._options.pace, self.campaign_id, out=out, resume=self._resume
            )
            if self._stopped is not None:
                self._pacing.stop()
        pacing = self._pacing
        self._feed = feed = Feed(source, asyncio.get_running_loop()).start()
        if self._stopped is not None:
            feed.close()
        planner: Planner[Job] = Planner(
            self._options.mode, batch_size=self._options.batch_size, list_chunk=self._options.list_chunk
        )
        if self._encoding is not None:
            fingerprint["encoding"] = self._encoding
        meta = RunMeta(self.campaign_id, self._fingerprint, fingerprint, test=self._options.test)
        dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=_expected_records(fingerprint, source.name))
        writer: ResultsWriter | None = None
        try:
            self._results = results = ResultsLog(
                None, self._observers, _timestamp(), on_error=self._write_failed
            )  # its file is attached once the first records were read
            intake = Intake(
                feed,
                self._template,
                planner,
                self.campaign_id,
                resume_state,
                dedupe,
                results,
                dry_run=self._options.dry_run,
                stopping=lambda: self._stopped is not None,
                on_input_error=lambda exc: self.request_stop("input", str(exc)),
                digest=digest,
                on_input_changed=lambda: self._input_changed(meta),
                linger_s=STREAM_LINGER_S if streamed else None,
                screen=(lambda plan: pacing.screen(plan, results)) if pacing and pacing.screens else None,
            )
            self._intake = intake
            # Read the first items before anything is written: an empty file or a bad header is an input
            # error (exit 2, no results file left behind), not a stopped run to resume.
            await intake.first(1 if streamed else FIRST_ITEMS)
            if self._encoding is None and source.encoding is not None:  # a resume: known once read
                self._encoding = source.encoding
                meta = replace(meta, input={**meta.input, "encoding": self._encoding})
            if out is not None:
                writer = ResultsWriter.open(out, meta, resume=self._resume, words=self._words)
                if writer.repaired:
                    log.warning(
                        "%s: cut a torn last line (%d bytes, left by a killed run); its record is sent again",
                        out,
                        writer.repaired,
                    )
                results.attach(writer, prior=resume_state.lines, supersedes=resume_state.supersedes)
            error: BaseException | None = None
            try:
                if self._options.dry_run:
                    await self._supervise([asyncio.ensure_future(intake.run(None, 0))])
                else:
                    await self._send(intake, results)
            except BaseException as exc:
                error = exc
            if digest is not None and out is not None:
                self._check_stream(digest, meta, intake.complete)
            write_error = results.close()
            if pacing is not None:
                await pacing.flush_ledger()  # after the last lines reached the file
            if write_error is not None and (self._stopped is None or self._stopped[0] != "write_error"):
                self._stopped = None
                self._write_failed(write_error)
            if error is not None:
                raise error
            if out is not None and self._stopped is None and (resume_state.superseded or results.superseded):
                await self._compact(out)
        finally:
            feed.close()
            if not feed.let_go():
                _let_go(source)
            dedupe.close()
            if pacing is not None:
                await asyncio.to_thread(pacing.close)  # the ledger merges its pending rows
            if writer is not None:
                try:
                    writer.close()  # idempotent: closed already unless an error cut the run short
                except ResultsWriteError as exc:
                    log.error("%s", exc)
            self._finish(resume_state, started)
            if out is not None and writer is not None:
                self._record_run(out, resume_state, started)
        return summary

    async def _compact(self, out: Path) -> None:
        """One line per record again: drop the lines ``--retry-failed`` superseded (lock still held)."""
        try:
            self.summary.compacted_lines = await asyncio.to_thread(compact_results, out)
        except ResultsWriteError as exc:
            # The file is untouched and valid (the last line per record wins); a resume compacts it.
            self._write_failed(exc)

    def _record_run(self, out: Path, resume_state: ResumeState, started: float) -> None:
        """Add this run to the sidecar's ``runs`` (for ``report`` and the next summary)."""
        summary = self.summary
        run = {
            "started": self._started_at,
            "ended": _timestamp()(),
            "exit": summary.exit_code,
            "stopped": summary.stopped,
            "resume": self._resume,
            "retry_failed": self._retry_failed,
            "counts": dict(summary.counts),
            "superseded": dict(summary.superseded),
            "requests": summary.requests,
            "retries": summary.retries,
        }
        try:
            summary.runs = record_run(out, run, group_name=self._group_name)
        except ResultsWriteError as exc:
            if self._stopped is None:
                self._write_failed(exc)
                self._finish(resume_state, started)  # the stop reason and exit status changed
            else:
                log.error("%s", exc)
            summary.runs = [run]

    def _check_stream(self, digest: InputDigest, meta: RunMeta, complete: bool) -> None:
        """A streamed input: compare with what the earlier run read; record what this run read."""
        out = self._out
        assert out is not None
        if digest.matches is False:
            self._input_changed(meta)
            return
        stored = read_meta(out)
        stored_input = stored.get("input") if stored else None
        previous = stored_input.get("stream_bytes", 0) if isinstance(stored_input, dict) else 0
        if digest.total < (previous if type(previous) is int else 0):
            return  # this run read less than the earlier one: keep the longer proof
        record = dict(meta.input)
        record.update(stream_bytes=digest.total, stream_sha256=digest.hexdigest(), stream_complete=complete)
        if complete:
            record["sha256"] = digest.hexdigest()
        try:
            write_meta(out, replace(meta, input=record))
        except ResultsWriteError as exc:
            self._write_failed(exc)

    def _input_changed(self, meta: RunMeta) -> None:
        if self._stopped is not None and self._stopped[0] == "input_changed":
            return
        self._stopped = None  # this reason wins over any other stop: the exit status is 2
        self.request_stop(
            "input_changed",
            f"{meta.input.get('name')} is not the input the earlier run of {self._out} read (its content "
            f"differs); refusing to go on: use the same input, or another {self._words.out}",
        )

    async def _send(self, intake: Intake, results: ResultsLog) -> None:
        assert self._settings is not None
        opts = self._options
        limits = Limits.of(opts.concurrency, connector_limit=self._settings.connector_limit)
        settings = replace(self._settings, connector_limit=limits.sockets)
        # A run takes over a transport it is handed (run_campaign(transport=...)): it closes it at the end.
        async with GetuiClient(
            settings, transport=self._transport, transport_owner=True, observers=self._observers
        ) as client:
            pacing = self._pacing
            gate = pacing.make_gate(self._observers.emit) if pacing is not None else None
            throttle = Throttle(
                concurrency=limits.in_flight,
                rate_per_s=opts.rate_per_s,
                window_s=settings.throttle_window_s,
                observers=self._observers,
                gate=gate,
            )
            dispatcher = Dispatcher(
                client,
                throttle,
                settings,
                opts,
                self._template,
                results,
                self._observers,
                stopping=lambda: self._stopped is not None,
                request_stop=self.request_stop,
                budget=self._budget,
                pacing=pacing,
            )
            try:
                # Pre-flight: bad credentials or an unreachable host fail here, before any line is written.
                await self._unless_stopped(
                    call_with_retry(
                        client.tokens.get,
                        settings.retry,
                        window_s=settings.throttle_window_s,
                        on_retry=_log_preflight,
                    )
                )
                # Bounded in recipients, not requests: enough to keep the workers fed, and no more, since
                # every queued recipient holds its rendered message (requests in flight hold the rest).
                largest = 1 if opts.mode is Mode.SINGLE else max(opts.batch_size, opts.list_chunk)
                queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue(
                    maxsize=max(2, QUEUED_RECIPIENTS // largest)
                )
                tasks = [asyncio.ensure_future(intake.run(queue, limits.workers))]
                tasks += [asyncio.ensure_future(dispatcher.worker(queue)) for _ in range(limits.workers)]
                await self._supervise(tasks, results)
            finally:
                self._owners = (dispatcher, throttle, client)
                if gate is not None:
                    await gate.aclose()

    async def _supervise(
        self, tasks: Sequence[asyncio.Future[None]], results: ResultsLog | None = None
    ) -> None:
        """Wait for ``tasks``; after a stop, at most ``drain_timeout_s`` more, then cancel what is left.

        Every task's outcome is retrieved here; the first unexpected error stops the campaign and is
        raised once everything has ended.
        """
        checkpoints = asyncio.ensure_future(self._checkpoints(results)) if results is not None else None
        stop = asyncio.ensure_future(self._stop_event.wait())
        pending: set[asyncio.Future[Any]] = set(tasks)
        error: BaseException | None = None
        try:
            while pending and not stop.done():
                done, pending = await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
                pending.discard(stop)
                for task in done - {stop}:
                    if not task.cancelled() and task.exception() is not None and error is None:
                        error = task.exception()
                        self.request_stop("fatal", f"internal error: {error!r}")
            if pending:
                _, pending = await asyncio.wait(pending, timeout=self._options.drain_timeout_s)
            if pending:
                log.warning(
                    "%d requests still in flight after the drain timeout (%.0f s) were abandoned; "
                    "their recipients get no line and are sent again on %s",
                    len(pending),
                    self._options.drain_timeout_s,
                    self._words.resume,
                )
                for task in pending:
                    task.cancel()
                _, stuck = await asyncio.wait(pending, timeout=_CANCEL_GRACE_S)
                if stuck:
                    log.error("%d tasks did not end when cancelled; leaving them behind", len(stuck))
        finally:
            stop.cancel()
            if checkpoints is not None:
                checkpoints.cancel()
                await asyncio.wait({checkpoints}, timeout=_CANCEL_GRACE_S)
            for task in tasks:
                if not task.done():
                    task.cancel()
                elif not task.cancelled() and task.exception() is not None and error is None:
                    error = task.exception()
        if error is not None and not isinstance(error, asyncio.CancelledError):
            raise error

    async def _checkpoints(self, results: ResultsLog) -> None:
        interval = self._options.checkpoint_interval_s
        while True:
            await asyncio.sleep(interval)
            results.commit(fsync=True)
            if self._pacing is not None:
                await self._pacing.flush_ledger()  # the ledger follows the fsynced results

    def _finish(self, resume_state: ResumeState, started: float) -> None:
        """Fill the summary from the parts that own each figure (the one place it is written)."""
        summary = self.summary
        if self._intake is not None:
            summary.records, summary.skipped = self._intake.records, self._intake.skipped
        if self._owners is not None:
            dispatcher, throttle, client = self._owners
            summary.requests, summary.retries = dispatcher.requests, dispatcher.retries
            summary.already_taken = dispatcher.already_taken
            summary.token_refreshes, summary.throttle_pauses = client.tokens.auth_calls, throttle.pauses
        summary.previous = Counter(resume_state.counts)
        summary.resume_prior = resume_state.lines
        summary.repaired_bytes = resume_state.repaired
        if self._results is not None:
            summary.counts = Counter(self._results.counts)
            summary.superseded = Counter(self._results.superseded)
        if self._pacing is not None:
            summary.waits = self._pacing.waits()
            summary.schedule = self._pacing.schedule  # a quota stop names its reset time
        if self._stopped is not None:
            summary.stopped, summary.stop_detail = self._stopped
        summary.elapsed_s = time.monotonic() - started
        if summary.stopped == "write_error":
            log.error("stopped: %s", summary.stop_detail)


def _let_go(source: RecordSource) -> None:
    """The reader thread is still inside ``source`` (a stalled read): closing it under the thread
    would raise "generator already executing", so mark it closed and leave it to process exit."""
    if hasattr(source, "_closed"):
        source._closed = True


def _log_preflight(retry: RetryDetails) -> None:
    """Tell the user why nothing is happening yet: the first /auth keeps failing."""
    log.warning("cannot get a Getui token yet (%s); retrying in %.1f s", retry.error, retry.wait_s)


def resume_source_options(options: SourceOptions, out: Path | None, resume: bool) -> SourceOptions:
    """``options``, with the encoding the earlier run detected when resuming with ``encoding="auto"``."""
    if not resume or out is None or options.encoding != "auto":
        return options
    stored = stored_encoding(out)
    return replace(options, encoding=stored) if stored in ENCODINGS else options  # type: ignore[arg-type]


async def run_campaign(
    source: RecordSource
    | str
    | os.PathLike[str]
    | Iterable[Mapping[str, Any]]
    | AsyncIterable[Mapping[str, Any]],
    template: MessageTemplate,
    settings: Settings | None,
    options: CampaignSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    observers: Iterable[Observer] = (),
    transport: Transport | None = None,
    source_options: SourceOptions | None = None,
) -> Summary:
    """Push ``template`` to every recipient in ``source``; one line per record in ``out``.

    ``source`` is a :class:`~getui_async.sources.RecordSource`, a path (CSV/TSV/JSONL, optionally .gz,
    or .xlsx), or an iterable / async iterable of mappings (records numbered from 1, as their lines).
    ``source_options`` says how to read a path (encoding, delimiter, id columns, sheet); on a resume
    with ``encoding="auto"`` the encoding the first run detected is used. Returns the
    :class:`Summary`; ``summary.exit_code`` follows the CLI contract. ``retry_failed`` (with
    ``resume``) sends again, with the same request_id, every record whose last line is retryable.
    """
    out_path = Path(out) if out is not None else None
    if isinstance(source, RecordSource):
        opened = source
    else:
        reading = resume_source_options(source_options or DEFAULT_OPTIONS, out_path, resume)
        opened = open_source(source, options=reading)
    try:
        campaign = Campaign(
            opened,
            template,
            settings,
            options or CampaignSettings(),
            out=out_path,
            resume=resume,
            retry_failed=retry_failed,
            observers=observers,
            transport=transport,
        )
        return await campaign.run()
    finally:
        if opened is not source:
            opened.close()
