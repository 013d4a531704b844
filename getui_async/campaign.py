"""The campaign: runs intake and the dispatcher's workers, stops them, drains them, sums them up.

::

    source ─► Feed (daemon thread) ─► Intake ─► bounded queue ─► Dispatcher workers ─► ResultsLog ─► RESULTS
              (raw bytes hashed)      (resume state, render,      (client, throttle,     (schema, Status,
                                       dedupe, planner)            list task, retries)    counts, writer)

Every stop (a signal, a quota, a fatal error, a write failure, unreadable input) goes through
:meth:`Campaign.request_stop` and its :class:`~getui_async.stopping.StopSwitch`: the reader is let go at
once (it is never waited for), workers drain the queue without sending, requests in flight get
``drain_timeout_s`` to finish, then whatever is left is cancelled. The results file's life (lock, resume,
sidecar, compaction, run record) is :class:`~getui_async.results.files.ResultsFile`'s. :class:`Summary` is
filled in one place, at the end of :meth:`Campaign.run`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .client import GetuiClient
from .config import CampaignSettings, Settings
from .dedupe import DuplicateFilter
from .dispatcher import Dispatcher, LineBudget
from .events import Observer, Observers
from .feed import Feed, InputDigest, describe_input, off_loop
from .intake import FIRST_ITEMS, Intake, IntakeParts, IntakeSettings, Job, StreamCheck
from .messages import (
    MessageTemplate,
    VendorWarning,
    check_placeholders,
    derive_campaign_id,
    replace_ids_of,
    with_replace_ids,
)
from .outcome import StopReason
from .pacing import Pacing
from .planner import Planner
from .probe import Gate, open_gate
from .results import (
    LIBRARY_WORDS,
    ResultsLog,
    ResultsWriteError,
    ResumeState,
    RunMeta,
    Words,
    stored_encoding,
)
from .results.files import ResultsFile, line_clock
from .results.sidecar import K_READ_OPTIONS, chosen_options
from .sending import Sending, largest_request
from .sources import DEFAULT_OPTIONS, ENCODINGS, RecordSource, SourceOptions, open_source
from .stopping import StopSwitch, supervise
from .summary import Summary, message_words
from .throttle import Throttle
from .transport import Transport
from .variants import Experiment

__all__ = ["Campaign", "Summary", "run_campaign"]

log = logging.getLogger(__name__)


def _expected_records(fingerprint: dict[str, Any], name: str) -> int:
    """A generous guess at the record count, to size the duplicate filter (it grows if wrong)."""
    size = fingerprint.get("size")
    if not isinstance(size, int):
        return 1_000_000
    return max(100_000, size * (4 if name.endswith(".gz") else 1) // 32)


async def _check_header(
    source: RecordSource, templates: Sequence[MessageTemplate], stop: StopSwitch
) -> str | None:
    """The input's encoding, once its header was checked against each template's placeholders.

    A placeholder that is no column of the header would reject every record: one error instead, before
    the input is hashed or anything is locked, written or sent (a bad header raises here too).
    """
    head = await stop.unless_stopped(off_loop(lambda: (source.columns, source.encoding)))
    columns, encoding = head if head is not None else (None, None)
    if columns is not None:
        for template in templates:
            check_placeholders(template, columns)
    return encoding


def _check_arguments(
    settings: Settings | None, options: CampaignSettings, *, resume: bool, retry_failed: bool
) -> None:
    """Refuse a combination no run can honour, before anything is opened."""
    if settings is None and not options.dry_run:
        raise ValueError("settings are required unless dry_run is set")
    if retry_failed and not resume:
        raise ValueError("retry_failed needs resume: it sends again what an earlier run left failed")
    if retry_failed and options.dry_run:
        raise ValueError("retry_failed cannot be a dry run: 'validated' lines would replace real outcomes")


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
        on_started: Callable[[], None] | None = None,
        variants: Experiment | None = None,
    ) -> None:
        """``warnings``: the message's silent-drop warnings, for the summary; ``words``: how messages name
        the caller's options (library arguments by default; the CLI passes its flags); ``on_started``:
        called once the input's first records were read and the results file is open (sending begins);
        ``variants``: an experiment whose variants are the message (``template`` then only names it)."""
        _check_arguments(settings, options, resume=resume, retry_failed=retry_failed)
        self._retry_failed = retry_failed
        self._source = source
        self._options = options
        self._settings = settings
        self._resume = resume
        self._transport = transport
        self._words = words
        self._on_started = on_started
        #: The input's text encoding as read (kept in the sidecar so a resume reads it the same way).
        self._encoding: str | None = None
        self._observers = Observers(observers)
        self.campaign_id = options.campaign_id or (
            variants.campaign_id() if variants is not None else derive_campaign_id(template)
        )
        self._fingerprint = variants.fingerprint if variants is not None else template.fingerprint
        self._template = with_replace_ids(template, self.campaign_id)
        self._variants = variants.for_campaign(self.campaign_id) if variants is not None else None
        self.summary = Summary(
            self.campaign_id,
            str(out) if out else None,
            dry_run=options.dry_run,
            retry_failed=retry_failed,
            test=options.test,
            warnings=list(warnings),
            canary=None if options.dry_run else options.probe.canary,
            message=message_words(template.to_dict()),
        )
        # With variants each has its own group (<campaign>-<variant>), which the report derives.
        self._group_name = self._template.to_dict().get("group_name") if variants is None else None
        self._started_at = ""
        self._started = 0.0
        self._stop = StopSwitch(self._observers)
        self._file = ResultsFile(
            out,
            words,
            resume=resume,
            retry_failed=retry_failed,
            retry_unconfirmed=options.retry_unconfirmed,
            on_error=self._write_failed,
        )
        self._results: ResultsLog | None = None
        self._budget: LineBudget | None = None
        self._intake: Intake | None = None
        self._owners: tuple[Dispatcher, Throttle, GetuiClient] | None = None
        self._pacing: Pacing | None = None
        self._gate: Gate | None = None  # the probe's and the canary's pauses

    # -- public control ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.stopped

    @property
    def template(self) -> MessageTemplate:
        """The message as sent: the given template with this campaign's notify_id and collapse id."""
        return self._template

    @property
    def variants(self) -> Experiment | None:
        """The experiment as sent: each variant's message with its own ids (None without variants)."""
        return self._variants

    def request_stop(self, reason: StopReason | str = StopReason.SIGNAL, detail: str = "") -> None:
        """Stop taking new work; requests in flight may finish within ``drain_timeout_s``.

        The first reason stands unless a later one outranks it (:meth:`StopReason.wins_over`).
        """
        self._stop.request(reason, detail)

    def abort(self) -> None:
        """Write every result line the OS will take, never raising (before an immediate exit)."""
        if self._results is not None:
            self._results.flush_quietly()

    def _write_failed(self, exc: ResultsWriteError) -> None:
        self._file.free_reserve()
        self.request_stop(
            StopReason.WRITE_ERROR,
            f"could not write {exc.path}: {exc.strerror}; free space, then {self._words.again}",
        )

    # -- the run ---------------------------------------------------------------------------------------

    async def run(self) -> Summary:
        """Send the campaign; returns the summary. Raises only before anything was written or sent."""
        self._started = time.monotonic()
        if not self._resume:
            # A resume skips this: the run that started the file checked the same template and input,
            # and a streamed input's resume must mark its digest before any read.
            variants = self._variants
            templates = [self._template] if variants is None else list(variants.templates.values())
            self._encoding = await _check_header(self._source, templates, self._stop)
        self._started_at = line_clock()()
        opts = self._options
        lines = self._file.lock(in_flight=opts.concurrency * largest_request(opts))
        if lines is not None:  # a nearly full disk: send no more at once than the reserve can record
            budget = self._budget = LineBudget(lines)
            self._stop.on_stop(budget.open)
        try:
            return await self._run_locked()
        finally:
            self._file.release()

    async def _run_locked(self) -> Summary:
        source, opts = self._source, self._options
        cancel = threading.Event()
        described = await self._stop.unless_stopped(off_loop(lambda: describe_input(source, cancel)))
        if described is None:  # stopped while hashing a large input: nothing was sent or written
            cancel.set()
            self._finish()
            return self.summary
        fingerprint, streamed = described
        resume_state = self._file.load_resume(fingerprint, source.name)
        digest: InputDigest | None = None
        if streamed:
            expect, exact = self._file.stream_expectation()
            digest = InputDigest(source, expect, exact=exact)  # marks the position before any read
        if not opts.dry_run:
            # Exclusion lists and the ledger (repaired on a resume): read before anything is written.
            pacing = self._pacing = await Pacing.open(
                opts.pace,
                out=self._file.path,
                resume=self._resume,
                request_stop=self.request_stop,
                again=self._words.again,
                concurrency=opts.concurrency,
            )
            self._stop.on_stop(pacing.stop)  # a wait for the window or the quota ends at once
        feed = Feed(source, asyncio.get_running_loop()).start()
        self._stop.on_stop(feed.close)
        if self._encoding is not None:
            fingerprint["encoding"] = self._encoding
        if chosen := chosen_options(source.options):  # so report reads the input again the same way
            fingerprint[K_READ_OPTIONS] = chosen
        ids = replace_ids_of(self._template).to_dict()
        shard = str(opts.shard) if opts.shard is not None else None
        lineage = self._pacing.lineage if self._pacing is not None else None
        meta = RunMeta(
            self.campaign_id,
            self._fingerprint,
            fingerprint,
            test=opts.test,
            replace_ids=ids,
            shard=shard,
            lineage=lineage,
        )
        dedupe: DuplicateFilter[Job] = DuplicateFilter(expected=_expected_records(fingerprint, source.name))
        try:
            self._results = results = ResultsLog(
                None, self._observers, line_clock(), on_error=self._write_failed
            )  # its file is attached once the first records were read
            stream = StreamCheck(digest, self._file.refusal(meta)) if digest is not None else None
            planner: Planner[Job] = Planner(opts.mode, batch_size=opts.batch_size, list_chunk=opts.list_chunk)
            screen = self._pacing.screening if self._pacing is not None else None
            gate = self._gate = None if opts.dry_run else open_gate(opts.probe, self._stop, self._words)
            intake = self._intake = Intake(
                feed,
                IntakeParts(self._template, dedupe, planner, screen, self._variants),
                results,
                resume_state,
                settings=IntakeSettings(
                    self.campaign_id, dry_run=opts.dry_run, stream=stream, shard=opts.shard, gate=gate
                ),
                control=self,
            )
            # Read the first items before anything is written: an empty file or a bad header is an input
            # error (exit 2, no results file left behind), not a stopped run to resume.
            await intake.first(1 if streamed else FIRST_ITEMS)
            if self._encoding is None and source.encoding is not None:  # a resume: known once read
                self._encoding = source.encoding
                meta = replace(meta, input={**meta.input, "encoding": self._encoding})
            self._file.open(meta, results)
            if self._on_started is not None:
                self._on_started()
            try:
                await self._run_open(intake, results, meta, stream)
            except BaseException:
                if self._owners is None or not self._owners[0].requests:
                    self._file.discard_unwritten()  # nothing sent or written (a refused pre-flight)
                raise
        finally:
            feed.close()
            if not feed.let_go():
                _let_go(source)
            dedupe.close()
            if self._pacing is not None:
                await self._pacing.close()
            self._file.close_writer()  # closed already unless an error cut the run short
            self._finish()
            if self._file.opened:
                self._record_run()
        return self.summary

    async def _run_open(
        self, intake: Intake, results: ResultsLog, meta: RunMeta, stream: StreamCheck | None
    ) -> None:
        """The run once its results file is open: send (or validate), close the log, settle the file."""
        error: BaseException | None = None
        try:
            if self._options.dry_run:
                await self._supervise([asyncio.ensure_future(intake.run(None, 0))])
            else:
                await self._send(intake, results)
        except BaseException as exc:
            error = exc
        if stream is not None:
            self._check_stream(stream, meta, intake.complete)
        write_error = results.close()
        if self._pacing is not None:
            await self._pacing.flush_ledger()  # after the last lines reached the file
        if write_error is not None:
            self._write_failed(write_error)  # wins over an ordinary stop (its exit status is 3 either way)
        if error is not None:
            raise error
        if not self._stop.stopped:
            self.summary.compacted_lines = await self._file.compact(bool(results.superseded))

    def _record_run(self) -> None:
        """Add this run to the sidecar's ``runs`` (for ``report`` and the next summary)."""
        summary = self.summary
        run = summary.run_record(started=self._started_at, ended=line_clock()(), resume=self._resume)
        if self._variants is not None:  # the report's order of variants (the first is the baseline)
            run["variants"] = self._variants.shares()
        try:
            summary.runs = self._file.record_run(run, group_name=self._group_name)
        except ResultsWriteError as exc:
            if not self._stop.stopped:
                self._write_failed(exc)
                self._finish()  # the stop reason and exit status changed
            else:
                log.error("%s", exc)
            summary.runs = [run]

    def _check_stream(self, stream: StreamCheck, meta: RunMeta, complete: bool) -> None:
        """A streamed input: compare with what the earlier run read; record what this run read."""
        digest = stream.digest
        if digest.matches is False:
            self.request_stop(StopReason.INPUT_CHANGED, stream.refusal)
        else:
            self._file.record_stream(meta, digest.total, digest.hexdigest(), complete)

    async def _send(self, intake: Intake, results: ResultsLog) -> None:
        assert self._settings is not None
        wiring = Sending(self._settings, self._options, self._template, results, self._observers)
        try:
            await wiring.run(
                intake,
                self._stop,
                transport=self._transport,
                request_stop=self.request_stop,
                budget=self._budget,
                pacing=self._pacing,
                supervise=self._supervise,
                probe=self._gate,
            )
        finally:
            self._owners = wiring.owners

    async def _supervise(self, tasks: Sequence[asyncio.Future[None]]) -> None:
        opts, words = self._options, self._words
        await supervise(tasks, self._stop, drain_timeout_s=opts.drain_timeout_s, resume_word=words.resume)

    def _finish(self) -> None:
        """Fill the summary from the parts that own each figure (the one place it is written)."""
        parts = (self._intake, self._owners, self._results, self._pacing)
        _fill(self.summary, *parts, resumed=self._file.resumed, stop=self._stop, started=self._started)


def _fill(
    summary: Summary,
    intake: Intake | None,
    owners: tuple[Dispatcher, Throttle, GetuiClient] | None,
    results: ResultsLog | None,
    pacing: Pacing | None,
    *,
    resumed: ResumeState,
    stop: StopSwitch,
    started: float,
) -> None:
    """:meth:`Campaign._finish`: each figure from the part that owns it."""
    if intake is not None:
        summary.records, summary.skipped = intake.records, intake.skipped
    if owners is not None:
        dispatcher, throttle, client = owners
        summary.requests, summary.retries = dispatcher.requests, dispatcher.retries
        summary.already_taken = dispatcher.already_taken
        summary.token_refreshes, summary.throttle_pauses = client.tokens.auth_calls, throttle.pauses
    summary.previous = Counter(resumed.counts)
    summary.resume_prior = resumed.lines
    summary.repaired_bytes = resumed.repaired
    if results is not None:
        summary.counts = Counter(results.counts)
        summary.superseded = Counter(results.superseded)
    if pacing is not None:
        summary.waits = pacing.waits()
        summary.schedule = pacing.schedule  # a quota stop names its reset time
    if stop.reason is not None:
        summary.stopped, summary.stop_detail = stop.reason, stop.detail
    summary.elapsed_s = time.monotonic() - started
    if summary.stopped in (StopReason.WRITE_ERROR, StopReason.LEDGER_ERROR):
        log.error("stopped: %s", summary.stop_detail)


def _let_go(source: RecordSource) -> None:
    """The reader thread is still inside ``source`` (a stalled read): closing it under the thread
    would raise "generator already executing", so mark it closed and leave it to process exit."""
    if hasattr(source, "_closed"):
        source._closed = True


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
