"""Running one resolved send for a person at a terminal: signals, the progress line, the summary.

``getui-push send`` and ``getui-push demo`` both call :func:`run_send`; argument parsing stays in
:mod:`getui_async.cli`, the engine in :mod:`getui_async.engine`. Signals: the first SIGINT/SIGTERM asks
the campaign to stop (requests in flight finish, their lines are written); a second one exits at once
through :func:`exit_now`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

from . import _json
from .campaign import resume_source_options
from .config import CampaignSettings, Settings
from .engine import Campaign, Summary
from .errors import MessageError, ResultsFileError
from .messages import MessageTemplate, VendorWarning, describe_rendered
from .outcome import Status, StopReason
from .outputs import write_aside
from .progress import ProgressBar, WaitNotice
from .results import CLI_WORDS, ResultsReader, load_resume_state
from .sources import DEFAULT_OPTIONS, Record, RecordSource, SourceOptions, XlsxSource, open_source
from .summary_text import format_summary, summary_line
from .variants import HOLDOUT, Experiment, variant_of

if TYPE_CHECKING:
    from .metrics import MetricsExporter, MetricsOptions

__all__ = [
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "PROG",
    "SendJob",
    "count_kept_records",
    "count_records",
    "count_result_lines",
    "exit_now",
    "run_send",
]

PROG: Final = "getui-push"
#: The exit statuses of the command-line contract (``getui-push send --help`` lists them).
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3
#: ``--summary-json`` to this name writes to stdout.
STDOUT: Final = "-"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendJob:
    """A fully resolved ``send``: what the ``demo`` command builds too."""

    input: str
    format: str | None
    out: Path
    template: MessageTemplate
    settings: Settings | None
    options: CampaignSettings
    resume: bool
    progress: bool
    summary_json: Path | None = None
    #: Only errors and the final one-line result (``--quiet``).
    quiet: bool = False
    #: The message's silent-drop warnings, logged once sending begins and carried into the summary.
    warnings: tuple[VendorWarning, ...] = ()
    #: ``--dry-run --show N``: print the first N rendered messages to stdout before validating.
    show: int = 0
    #: ``--variant``: an experiment whose variants are the message (``template`` is the first).
    variants: Experiment | None = None
    #: How to read the input: encoding, delimiter, id columns, sheet (``--encoding`` ...).
    source_options: SourceOptions = DEFAULT_OPTIONS
    #: Called once sending begins (the CLI lets the notices it held back out then).
    on_started: Callable[[], None] | None = None
    #: ``--retry-failed`` (with ``resume``): send again the records whose last line is retryable.
    retry_failed: bool = False
    #: ``--metrics-port`` / ``--pushgateway``: where the run's Prometheus metrics go (None: nowhere).
    metrics: MetricsOptions | None = None


def count_records(path: str, fmt: str | None) -> int | None:
    """Records in a plain text file, for the progress line's ETA (None for stdin, gzip, xlsx: unknown)."""
    if path == "-" or path.endswith((".gz", ".xlsx")) or fmt == "xlsx":
        return None
    lines = _count_lines(Path(path))
    is_csv = (fmt or ("csv" if path.endswith((".csv", ".tsv")) else "jsonl")) in ("csv", "tsv")
    return max(0, lines - 1) if is_csv else lines


def count_result_lines(out: Path) -> int:
    """Lines an earlier run left in a results file (one per finished record); 0 when there is none."""
    return ResultsReader(out).count_lines()


def count_kept_records(out: Path) -> int:
    """Records a ``--retry-failed`` run leaves as they are (the progress line starts from them): those
    with a final line that is not retryable. 0 when the file cannot be read (the run then says why)."""
    try:
        state = load_resume_state(out, retry_failed=True)
    except ResultsFileError:
        return 0
    return sum(state.counts.values()) - state.retryable


def note_retryable(summary: Summary, job: SendJob) -> None:
    """Count the campaign's retryable failures (when any record failed), so the summary names the
    command that sends them again."""
    summary.input_name = job.input
    if summary.dry_run or not summary.campaign_counts[Status.FAILED]:
        return
    try:
        summary.retryable = load_resume_state(job.out, retry_failed=True).retryable
    except ResultsFileError:
        summary.retryable = None


def _count_lines(path: Path) -> int:
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


class RepeatFilter(logging.Filter):
    """Show a warning once per run; its repeats (same logger, same template) go to the progress line.

    A retried pre-flight or a flapping connection would otherwise print the same line every few
    seconds, burying the one error that says what to change.
    """

    def __init__(self, bar: ProgressBar) -> None:
        super().__init__()
        self._bar = bar
        self._seen: set[tuple[str, object]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, record.msg)
        if key not in self._seen:
            self._seen.add(key)
            return True
        if self._bar.enabled:
            self._bar.set_wait(record.getMessage(), for_s=REPEAT_SHOWN_S, countdown=False)
        return False


#: How long a repeated warning stays on the progress line (unless a newer one replaces it).
REPEAT_SHOWN_S: Final = 10.0


@contextlib.contextmanager
def _repeats_filtered(bar: ProgressBar) -> Iterator[None]:
    handlers = list(logging.getLogger().handlers)
    repeat = RepeatFilter(bar)
    for handler in handlers:
        handler.addFilter(repeat)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(repeat)


def _say_started(job: SendJob, campaign_id: str, bar: ProgressBar, source: RecordSource) -> None:
    """Once the input and flags proved good: the message's warnings, and where the results go (and
    the progress line's total, when the opened input declares it)."""
    if isinstance(source, XlsxSource):
        bar.set_total(source.declared_records)
    if job.on_started is not None:
        job.on_started()
    for warning in job.warnings:
        log.warning("[%s] %s", warning["code"], warning["message"])
    if not job.quiet:
        shard = f" shard {job.options.shard}" if job.options.shard is not None else ""
        bar.print(f"{PROG}: campaign {campaign_id}{shard} -> {job.out}")


def exit_now(campaign: Campaign, bar: ProgressBar, stderr: IO[str]) -> NoReturn:
    """The second signal: erase the line, write what the writer holds, say so, and exit 3 at once.

    The one place an immediate exit happens. :meth:`Campaign.abort` never raises; lines already
    written stay whole, and the records without a line are exactly what ``--resume`` sends.
    """
    bar.close()
    try:
        campaign.abort()
        print(
            f"{PROG}: second signal: exiting now; `--resume` will send the records without a result line",
            file=stderr,
            flush=True,
        )
    finally:
        os._exit(EXIT_STOPPED)


def show_rendered(
    job: SendJob,
    template: MessageTemplate,
    options: SourceOptions,
    out: IO[str],
    variants: Experiment | None = None,
    campaign_id: str = "",
) -> None:
    """Print the first ``job.show`` records as a person will see them (``--dry-run --show N``).

    Reads the head of the input on its own (a file: the dry run reads it again from the start, with
    ``options`` fixing the encoding the run detected); a record that cannot be rendered is shown with
    the reason its line will give. With ``variants``: their shares first, then each record's variant.
    """
    fmt: Any = job.format
    pick = variant_of(variants, campaign_id, template, out)
    with open_source(job.input, format=fmt, options=options) as source:
        for shown, item in enumerate(source, 1):
            who = f"{job.input}:{item.line}"
            if isinstance(item, Record):
                name, use = pick(item.kind, item.target)
                try:
                    text = describe_rendered(use.render(item.variables, item.overrides or None))
                except MessageError as exc:
                    text = f"rejected: field '{exc.field}': {exc.reason}"
                who += f" ({item.kind} {item.target})" + (f" variant {name}" if name else "")
                if name == HOLDOUT:
                    text = "held_out: in the holdout group, not sent"
            else:
                text = f"rejected: {item.reason}"
            print(f"--- {who}\n{text}", file=out)
            if shown >= job.show:
                break
    out.flush()


async def run_send(job: SendJob, *, stderr: IO[str] | None = None) -> tuple[Summary, int]:
    """Run a resolved send with signals, progress and the summary; returns (summary, exit status)."""
    err = stderr or sys.stderr
    loop = asyncio.get_running_loop()
    source = await asyncio.to_thread(
        open_source,
        job.input,
        format=job.format,  # type: ignore[arg-type]
        options=resume_source_options(job.source_options, job.out, job.resume),
    )
    try:
        total = initial = None
        if job.progress and not job.quiet:
            if job.options.shard is None:  # a shard's share of the input is known only once read
                total = await asyncio.to_thread(count_records, job.input, job.format)
            if job.retry_failed:
                initial = await asyncio.to_thread(count_kept_records, job.out)
            elif job.resume:
                initial = await asyncio.to_thread(count_result_lines, job.out)
        bar = ProgressBar(
            total=total,
            initial=initial or 0,
            enabled=job.progress and not job.quiet,
            description="dry run" if job.options.dry_run else "sending",
            file=err,
        )
        exporter = _exporter(job.metrics)
        campaign = Campaign(
            source,
            job.template,
            job.settings,
            job.options,
            out=job.out,
            resume=job.resume,
            retry_failed=job.retry_failed,
            # no per-record events unless someone shows or counts them
            observers=[
                *([bar] if bar.enabled else []),
                *([exporter.metrics] if exporter else []),
                *([WaitNotice(err, PROG)] if job.quiet else []),  # a wait still says one line
            ],
            warnings=job.warnings,
            words=CLI_WORDS,
            on_started=lambda: _say_started(job, campaign.campaign_id, bar, source),
            variants=job.variants,
        )
        if job.show:
            encoding: Any = source.encoding or job.source_options.encoding
            shown = replace(job.source_options, encoding=encoding)
            await asyncio.to_thread(
                show_rendered,
                job,
                campaign.template,
                shown,
                sys.stdout,
                campaign.variants,
                campaign.campaign_id,
            )
        signals = 0

        def on_signal(signum: int) -> None:
            nonlocal signals
            signals += 1
            name = signal.Signals(signum).name
            if signals > 1:
                exit_now(campaign, bar, err)
            if not job.quiet:
                bar.print(f"{PROG}: {name}: finishing requests in flight (again to exit at once)")
            campaign.request_stop(StopReason.SIGNAL, f"{name} received")

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            with _repeats_filtered(bar):
                async with bar.running(), _exporting(exporter, campaign.campaign_id):
                    summary = await campaign.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        source.close()
    note_retryable(summary, job)
    if job.quiet:
        print(summary_line(summary), file=err)
    else:
        format_summary(summary, out=err)
    if job.summary_json is not None:
        data = _json.dumps(summary.to_dict()) + b"\n"
        if str(job.summary_json) == STDOUT:
            sys.stdout.write(data.decode())
            sys.stdout.flush()
        else:
            with write_aside(job.summary_json) as handle:
                handle.write(data)
    return summary, summary.exit_code


def _exporter(options: MetricsOptions | None) -> MetricsExporter | None:
    """The run's metrics exporter; prometheus_client is imported only when metrics are asked for."""
    if options is None:
        return None
    from .metrics import MetricsExporter  # noqa: PLC0415 - a run without metrics never imports it

    return MetricsExporter(options)


def _exporting(
    exporter: MetricsExporter | None, campaign_id: str
) -> contextlib.AbstractAsyncContextManager[Any]:
    return exporter.running(campaign_id) if exporter is not None else contextlib.nullcontext()
