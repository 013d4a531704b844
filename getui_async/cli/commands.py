"""What each ``getui-push`` command does once parsed: settings resolved, the library called, an exit status.

Usage errors are raised (:class:`~getui_async.config.UsageError`) for :func:`getui_async.cli.main` to print
as exit 2. The mock server and the demo import aiohttp.web, so they are imported only when run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from getui_async import _json
from getui_async.config import CampaignSettings, UsageError
from getui_async.config.layers import (
    ENV_LEDGER,
    config_for,
    has_credentials,
    pick,
    resolve_options,
    resolve_settings,
    resolve_shard,
    resolve_vendor,
)
from getui_async.messages import CLICK_FIELD, ClickType, MessageTemplate
from getui_async.messages.rules import LIMITS
from getui_async.messages.vendors import VendorWarning, prepare_campaign, vendor_warnings
from getui_async.outputs import refuse_reads, results_reads
from getui_async.runner import EXIT_OK, EXIT_STOPPED, PROG, STDOUT, SendJob, run_send
from getui_async.safetext import printable
from getui_async.shard import ENV_SHARD, SHARD_FIELD, Shard
from getui_async.sources import SourceOptions

from .parser import completion_script
from .probe_flags import resolve_probe
from .variant_flags import prepare_experiment, resolve_experiment

if TYPE_CHECKING:
    from getui_async.metrics import MetricsOptions

__all__ = [
    "check",
    "check_main",
    "completion",
    "demo",
    "mock_server",
    "resolve_template",
    "run",
    "send_job",
    "send_main",
]

GC_THRESHOLDS: Final = (20_000, 20, 100)
PROGRESS_EVERY_S: Final = 0.25
#: The campaign id becomes iOS's ``apns-collapse-id``, so Getui's limit for that field bounds it.
COLLAPSE_ID_MAX: Final = LIMITS["push_channel.ios.apns-collapse-id"]


def resolve_template(args: argparse.Namespace, config: Mapping[str, Any]) -> MessageTemplate:
    """``--message FILE.json``, or a notification from ``--title/--body/--click-type/...``.

    Without ``--title``/``--body`` the record's own ``title``/``body`` fields are used ({title}/{body}).
    """
    message = pick(args, config, "message")
    simple = {k: pick(args, config, k) for k in ("title", "body", "click_type", "url", "intent", "payload")}
    if message is not None:
        given = sorted(f"--{k.replace('_', '-')}" for k, v in simple.items() if v is not None)
        if given:
            raise UsageError(f"--message holds the whole template; do not combine it with {', '.join(given)}")
        try:
            data = _json.loads(Path(message).read_bytes())
        except OSError as exc:
            raise UsageError(f"{message}: cannot read the message file: {exc.strerror}") from None
        except _json.JSONDecodeError as exc:
            raise UsageError(f"{message}: not valid JSON: {exc}") from None
        return MessageTemplate.from_dict(data, source=message)
    for one, other in (("title", "body"), ("body", "title")):
        if simple[one] is not None and simple[other] is None:
            raise UsageError(
                f"--{one} needs --{other} too (a notification has both); or give neither, to take "
                "both from the input's title and body columns"
            )
    click = simple["click_type"] or "startapp"
    needs = CLICK_FIELD[ClickType(click)]
    if needs in ("url", "intent") and simple[needs] is None:
        raise UsageError(f"--click-type {click} needs --{needs}")
    if needs == "payload" and simple["payload"] is None:
        simple["payload"] = "{payload}"
    return MessageTemplate.simple(
        title=simple["title"] or "{title}",
        body=simple["body"] or "{body}",
        click_type=click,
        url=simple["url"],
        intent=simple["intent"],
        payload=simple["payload"],
    )


def _prepare_send(
    args: argparse.Namespace,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    template: MessageTemplate,
    options: CampaignSettings,
) -> tuple[MessageTemplate, CampaignSettings, list[VendorWarning]]:
    """The vendor class, ``--test`` and group_name applied; the campaign id fixed; the warnings returned.

    The runner prints them once sending begins (never before an error), and the summary lists them
    (``--summary-json``: ``warnings``).
    """
    vendor_class, category, xm_channel_id = resolve_vendor(args, config, environ)
    template, campaign = prepare_campaign(
        template,
        vendor_class=vendor_class,
        category=category,
        xm_channel_id=xm_channel_id,
        campaign_id=options.campaign_id,
        test=bool(getattr(args, "test", False)),
    )
    given = pick(args, config, "campaign")
    if given is not None and len(campaign) > COLLAPSE_ID_MAX:
        marker = f" ({len(campaign)} with --test's marker)" if campaign != given else ""
        raise UsageError(
            f"--campaign {given!r}: {len(given)} characters{marker}; at most {COLLAPSE_ID_MAX}, "
            "because the campaign id is also the iOS apns-collapse-id"
        )
    warnings = vendor_warnings(template, vendor_class, xm_channel_id=xm_channel_id)
    return template, replace(options, campaign_id=campaign), warnings


def send_job(args: argparse.Namespace, environ: Mapping[str, str]) -> SendJob:
    """The send described by the flags, checked: every usage error is raised before anything runs."""
    config = config_for(args, environ)
    level = "error" if args.quiet else pick(args, config, "log_level")
    if level:
        logging.getLogger().setLevel(level.upper())
    options = replace(
        resolve_options(args, config), shard=resolve_shard(args, environ), probe=resolve_probe(args)
    )
    if args.show is not None and not options.dry_run:
        raise UsageError(f"--show {args.show} prints what a dry run renders: add --dry-run")
    if args.show is not None and args.input == "-":
        raise UsageError("--show needs a file INPUT: stdin is read once, by the dry run itself")
    experiment = resolve_experiment(
        args, lambda key: pick(args, config, key), lambda t: _allow_empty(t, args.allow_empty)
    )
    if experiment is None:
        template = _allow_empty(resolve_template(args, config), args.allow_empty)
        template, options, warnings = _prepare_send(args, config, environ, template, options)
    else:
        vendor = resolve_vendor(args, config, environ)
        experiment, options, warnings = prepare_experiment(
            experiment, options, vendor=vendor, test=bool(getattr(args, "test", False))
        )
        template = experiment.variants[0].template
    settings = None if options.dry_run else resolve_settings(args, config, environ)
    input_format = _input_format(args, config)
    if getattr(args, "retry_failed", False) and not args.resume:
        raise UsageError(
            "--retry-failed needs --resume: it sends again what an earlier run into the same --out "
            "left retryable"
        )
    if getattr(args, "retry_failed", False) and options.dry_run:
        raise UsageError(
            "--retry-failed cannot be combined with --dry-run: a dry run's 'validated' lines would "
            "replace the real outcomes in the results file"
        )
    if getattr(args, "retry_unconfirmed", False):
        if not getattr(args, "retry_failed", False):
            raise UsageError("--retry-unconfirmed needs --retry-failed (and --resume)")
        options = replace(options, retry_unconfirmed=True)
    out = _results_path(_shard_out(args.out, options.shard))
    try:  # the same file, through links too; said as what would happen (--resume cannot help)
        refuse_reads({"--out": out}, _input_reads(args.input))
    except UsageError:
        raise UsageError(
            f"--out {out}: is INPUT; the results would overwrite the input: give another path "
            "(nothing was written)"
        ) from None
    reads = _input_reads(args.input) | results_reads(out)
    if options.pace.ledger is not None:
        reads["--ledger"] = Path(options.pace.ledger)
    reads |= {f"--exclude {path}": Path(path) for path in options.pace.exclude}
    refuse_reads({"--summary-json": args.summary_json}, reads)
    return SendJob(
        input=args.input,
        format=input_format,
        out=out,
        template=template,
        settings=settings,
        options=options,
        resume=bool(args.resume),
        retry_failed=bool(getattr(args, "retry_failed", False)),
        progress=not args.no_progress and not args.quiet and sys.stderr.isatty(),
        summary_json=Path(args.summary_json) if args.summary_json else None,
        quiet=bool(args.quiet),
        warnings=tuple(warnings),
        show=int(args.show or 0),
        source_options=_source_options(args),
        metrics=_metrics_options(args, config),
        variants=experiment,
    )


def _metrics_options(args: argparse.Namespace, config: Mapping[str, Any]) -> MetricsOptions | None:
    """``--metrics-port``/``--pushgateway`` as MetricsOptions; None without them (no prometheus_client)."""
    port, gateway = pick(args, config, "metrics_port"), pick(args, config, "pushgateway")
    if port is None and not gateway:
        for flag in ("metrics_host", "push_interval_s"):
            if pick(args, config, flag) is not None:
                raise UsageError(f"--{flag.replace('_', '-')} needs --metrics-port or --pushgateway")
        return None
    if gateway and not str(gateway).startswith(("http://", "https://")):
        raise UsageError(f"--pushgateway {gateway!r}: expected an http:// or https:// URL")
    from getui_async.metrics import DEFAULT_METRICS_HOST, DEFAULT_PUSH_INTERVAL_S, MetricsOptions  # noqa: PLC0415 - imports prometheus_client

    return MetricsOptions(
        port=port,
        host=pick(args, config, "metrics_host", DEFAULT_METRICS_HOST),
        pushgateway=gateway or None,
        push_interval_s=pick(args, config, "push_interval_s", DEFAULT_PUSH_INTERVAL_S),
    )


def _input_format(args: argparse.Namespace, config: Mapping[str, Any]) -> Any:
    """``--format`` (flag > config file); stdin has no name to tell the format by, so it needs one."""
    value = pick(args, config, "format")
    if args.input == "-" and not value:
        raise UsageError("reading stdin ('-') needs --format csv or --format jsonl")
    return value


def _input_reads(text: str) -> dict[str, Path]:
    """INPUT as a file the command reads (none for stdin), for :func:`refuse_reads`."""
    return {} if text == STDOUT else {"INPUT": Path(text)}


def _source_options(args: argparse.Namespace) -> SourceOptions:
    """The input-reading flags as SourceOptions; an empty column or sheet name is a usage error."""
    for flag in ("cid_column", "alias_column", "sheet"):
        value = getattr(args, flag)
        if value is not None and not value.strip():
            raise UsageError(f"--{flag.replace('_', '-')} needs a name")
    return SourceOptions(
        encoding=args.encoding,
        delimiter=args.delimiter,
        cid_column=args.cid_column,
        alias_column=args.alias_column,
        sheet=args.sheet,
    )


def _allow_empty(template: MessageTemplate, value: str | bool | None) -> MessageTemplate:
    """``--allow-empty`` (True: every placeholder) or ``--allow-empty FIELD[,FIELD]`` applied."""
    if value is None:
        return template
    if value is True:
        return template.with_allow_empty(True)
    names = frozenset(name.strip() for name in str(value).split(",") if name.strip())
    unknown = sorted(names - template.variables)
    if not names or unknown:
        known = ", ".join(f"{{{v}}}" for v in sorted(template.variables)) or "none"
        raise UsageError(
            f"--allow-empty {value}: {', '.join(unknown) or 'no field'} is not a placeholder of the "
            f"message (its placeholders: {known})"
        )
    return template.with_allow_empty(names)


def _shard_out(text: str, shard: Shard | None) -> str:
    """``--out`` with ``{shard}`` replaced by the shard's index; refused without a shard to name."""
    if shard is not None:
        return shard.out_path(text)
    if SHARD_FIELD in text:
        raise UsageError(f"--out {text}: {SHARD_FIELD} names a shard; add --shard I/N (or set {ENV_SHARD})")
    return text


def _results_path(text: str) -> Path:
    """``--out`` as a path, refused early when it cannot be a results file."""
    if text == STDOUT:
        raise UsageError(
            "--out -: the results file must be a real file (it is appended to, checked and resumed); "
            "give a path such as --out results.jsonl"
        )
    out = Path(text)
    if out.is_dir():
        raise UsageError(f"--out {text}: is a directory; give the path of a results file")
    if not out.parent.is_dir():
        raise UsageError(f"--out {text}: the directory {out.parent} does not exist")
    return out


def demo(args: argparse.Namespace) -> int:
    """``getui-push demo``: a whole campaign against the bundled mock server."""
    from getui_async.demo import run_demo  # noqa: PLC0415 - the demo pulls in the mock server

    return run(run_demo(records=args.records, directory=Path(args.dir), progress=not args.no_progress))


def mock_server(args: argparse.Namespace) -> int:
    """``getui-push mock-server``: serve the mock until stopped."""
    from getui_async.mock import cli as mock_cli  # noqa: PLC0415 - aiohttp.web only for the commands that need it

    return mock_cli.run(args)


def completion(args: argparse.Namespace) -> int:
    """``getui-push completion SHELL``: print the script."""
    sys.stdout.write(completion_script(args.shell))
    return EXIT_OK


def run(coro: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (about 30% less CPU per request), else asyncio.

    A campaign allocates a few short-lived objects per recipient; with the default thresholds the
    cyclic GC runs every 700 allocations and rescans everything alive (bench/README.md: ~10% of CPU).
    Freezing what the imports made and collecting less often is a process-wide choice, so it is made
    here in the command, never in the library. No full collection before the freeze: it took 39 ms of
    CPU (the bench machine) to free the ~260 objects the imports left as garbage, which now stay frozen.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop  # noqa: PLC0415 - optional dependency
    except ImportError:
        return asyncio.run(coro)
    result: int = uvloop.run(coro)
    return result


class HeldNotices(logging.Filter):
    """Notices about the input (the GB18030 guess) held back until sending begins, so that a mistake's
    error is printed alone; dropped if it never begins."""

    def __init__(self, logger: str) -> None:
        super().__init__()
        self._logger = logger
        self._held: dict[int, logging.LogRecord] = {}  # one record passes every handler's filter
        self._holding = True

    def filter(self, record: logging.LogRecord) -> bool:
        if self._holding and record.levelno < logging.ERROR and record.name.startswith(self._logger):
            self._held[id(record)] = record
            return False
        return True

    def release(self) -> None:
        """Print what was held (through the handlers, as if logged now) and hold nothing more."""
        self._holding = False
        for record in self._held.values():
            logging.getLogger(record.name).handle(record)
        self._held.clear()

    @contextlib.contextmanager
    def installed(self) -> Iterator[HeldNotices]:
        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            handler.addFilter(self)
        try:
            yield self
        finally:
            for handler in handlers:
                handler.removeFilter(self)


async def send_main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``getui-push send``: the exit status of the run (0, 1 or 3); usage errors are raised."""
    with HeldNotices("getui_async.sources").installed() as held:
        job = replace(send_job(args, environ), on_started=held.release)
        _, code = await run_send(job)
    return code


def _check_progress() -> Callable[[int, int], None]:
    """A one-line, in-place progress report on a terminal, redrawn at most every quarter second."""
    last = [0.0]

    def show(records: int, asked: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            sys.stderr.write(f"\r\x1b[K{PROG}: check: {records} records read, {asked} cids asked")
            sys.stderr.flush()

    return show


def check(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``getui-push check``; Ctrl-C or SIGTERM stops it with exit 3 and one line, as a send's stop does."""
    try:
        return run(_sigterm_cancels(check_main(args, environ)))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")  # over the progress line
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        print(f"{PROG}: check stopped ({why}); nothing was sent or written", file=sys.stderr)
        return EXIT_STOPPED


async def _sigterm_cancels(coro: Coroutine[Any, Any, int]) -> int:
    """``coro`` with SIGTERM cancelling it, as the event loop's runner does for SIGINT."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await coro
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def check_main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``getui-push check``: exit 0 once checked; usage and input errors are exit 2 (via main)."""
    from getui_async.check import DEFAULT_CHECK_RATE_PER_S, check_input  # noqa: PLC0415 - only this command needs it

    config = config_for(args, environ)
    vendor_class, _, xm_channel_id = resolve_vendor(args, config, environ)
    experiment = resolve_experiment(args, lambda key: pick(args, config, key))
    if experiment is not None:
        experiment = prepare_experiment(
            experiment, CampaignSettings(), vendor=resolve_vendor(args, config, environ), test=False
        )[0]
    template = resolve_template(args, config) if experiment is None else experiment.variants[0].template
    input_format = _input_format(args, config)
    settings = resolve_settings(args, config, environ) if has_credentials(config, environ) else None
    refuse_reads({"--dead-cids": args.dead_cids}, _input_reads(args.input))
    report = await check_input(
        args.input,
        settings=settings,
        template=template,
        vendor_class=vendor_class,
        xm_channel_id=xm_channel_id,
        format=input_format,
        rate_per_s=float(args.rate or DEFAULT_CHECK_RATE_PER_S),
        dead_cids=args.dead_cids,
        source_options=_source_options(args),
        check_fields=experiment is not None
        or any(pick(args, config, key) is not None for key in ("title", "body", "message")),
        on_progress=_check_progress() if sys.stderr.isatty() else None,
        variants=experiment,
        ledger=args.ledger or environ.get(ENV_LEDGER, "").strip() or config.get("ledger"),
    )
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
    if settings is None:  # said after the input proved readable: an input error is printed alone
        print(f"{PROG}: no credentials: counted the input only (no dead cids, no quota)", file=sys.stderr)
    print(
        _json.dumps(report.to_dict()).decode() if args.json else printable(report.to_text(), multiline=True)
    )
    return EXIT_OK
