"""The ``getui-push`` command: ``send``, ``demo`` and ``mock-server``.

This module turns argv, the environment and an optional TOML file into settings, sets up logging,
shows progress, prints the summary and maps outcomes to the exit statuses of the contract:

    0  finished, no record failed or rejected
    1  finished, some records failed or were rejected
    2  nothing sent: usage, configuration, credential or input-file error (message on stderr)
    3  stopped before finishing (SIGINT/SIGTERM, daily quota): results consistent, --resume finishes

Precedence for every setting: command-line flag, then environment (``GETUI_*``), then ``--config``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import stat
import sys
import typing
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from . import _json
from ._version import __version__
from .config import (
    DEFAULT_LIST_CHUNK,
    ENV_APP_ID,
    ENV_APP_KEY,
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    MAX_LIST_CHUNK,
    CampaignSettings,
    Credentials,
    Mode,
    RetrySettings,
    Settings,
)
from .engine import Campaign, Summary
from .errors import ApiError, ConfigError, GetuiError, InputError, MessageError
from .messages import CLICK_FIELD, ClickType, MessageTemplate
from .mock import cli as mock_cli
from .progress import ProgressBar, format_summary
from .sources import DEFAULT_OPTIONS, DELIMITER_CHOICES, ENCODINGS, Format, SourceOptions, open_source

__all__ = ["main"]

PROG: Final = "getui-push"
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3
DEFAULT_CONCURRENCY: Final = 64
GC_THRESHOLDS: Final = (20_000, 20, 100)

FORMATS: Final = typing.get_args(Format)
CLICK_TYPES: Final = tuple(click.value for click in ClickType)
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
MODES: Final = tuple(m.value for m in Mode)

#: Keys a ``--config`` TOML file may hold (flat) and what each must be: a TOML type or a choice list.
#: Checked on load, so a quoted number or a typo'd choice is refused by name instead of misread.
CONFIG_SCHEMA: Final[Mapping[str, str | tuple[str, ...]]] = {
    "app_id": "string", "app_key": "string", "master_secret": "string", "base_url": "string",
    "format": FORMATS, "title": "string", "body": "string", "click_type": CLICK_TYPES, "url": "string",
    "intent": "string", "payload": "string", "message": "string", "mode": MODES, "concurrency": "integer",
    "rate": "number", "list_chunk": "integer", "max_attempts": "integer", "timeout_s": "number",
    "campaign": "string", "drain_timeout_s": "number", "log_level": LOG_LEVELS, "async": "boolean",
}  # fmt: skip
CONFIG_KEYS: Final = frozenset(CONFIG_SCHEMA)
_TOML_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_TOML_NAMES: Final[Mapping[type, str]] = {
    str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"
}  # fmt: skip

log = logging.getLogger(__name__)


class UsageError(GetuiError):
    """A bad combination of options (exit 2)."""


# -- argument parsing -------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


def _list_chunk(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_LIST_CHUNK:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_LIST_CHUNK}, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Push Getui (个推) campaigns fast, exactly once, resumably."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = commands.add_parser(
        "send",
        help="push one campaign to every recipient in a file",
        description="Push one message (with per-recipient {field} placeholders) to every record of INPUT.",
    )
    send.add_argument(
        "input", metavar="INPUT", help=".csv, .tsv, .jsonl or .ndjson (optionally .gz), .xlsx, or - for stdin"
    )
    send.add_argument(
        "--out", required=True, metavar="RESULTS", help="results file (JSONL, one line per record)"
    )
    send.add_argument("--format", choices=FORMATS, help="input format (required for stdin)")
    src = send.add_argument_group("reading the input")
    src.add_argument("--encoding", choices=ENCODINGS, default="auto", help="text encoding (default auto)")
    src.add_argument(
        "--delimiter",
        choices=DELIMITER_CHOICES,
        default="auto",
        help="CSV separator (default: auto)",
    )
    src.add_argument("--cid-column", metavar="NAME", help="header of the cid column (default cid/clientid)")
    src.add_argument("--alias-column", metavar="NAME", help="header of the alias column (default alias)")
    src.add_argument("--sheet", metavar="NAME", help="worksheet of an .xlsx input (default: the first)")
    msg = send.add_argument_group("message (--title/--body, or --message)")
    msg.add_argument("--title", help="notification title; may hold {field} placeholders (default: {title})")
    msg.add_argument("--body", help="notification body; may hold {field} placeholders (default: {body})")
    msg.add_argument(
        "--click-type",
        choices=CLICK_TYPES,
        help="what a tap does (default startapp)",
    )
    msg.add_argument("--url", help="URL to open (click type url)")
    msg.add_argument("--intent", help="Android intent (click type intent)")
    msg.add_argument("--payload", help="custom data (click type payload/payload_custom; also sent to iOS)")
    msg.add_argument(
        "--message", metavar="FILE.json", help="a full template: push_message, push_channel, settings"
    )
    run = send.add_argument_group("sending")
    run.add_argument("--mode", choices=MODES, help="endpoint choice (default auto)")
    run.add_argument(
        "--concurrency", type=_positive_int, help=f"requests in flight (default {DEFAULT_CONCURRENCY})"
    )
    run.add_argument(
        "--rate", type=_positive_float, help="requests per second (default: unlimited, adaptive)"
    )
    run.add_argument(
        "--list-chunk", type=_list_chunk, help=f"cids per list call (default {DEFAULT_LIST_CHUNK})"
    )
    run.add_argument("--max-attempts", type=_positive_int, help="attempts per request (default 6)")
    run.add_argument("--timeout-s", type=_positive_float, help="longest wait for Getui's reply (default 15)")
    run.add_argument("--campaign", metavar="ID", help="campaign id (default: derived from the message)")
    run.add_argument("--async", dest="is_async", action="store_true", default=None,
                     help="ask Getui for asynchronous delivery (results say 'accepted')")  # fmt: skip
    run.add_argument("--drain-timeout-s", type=float, help="on a stop, wait this long for requests in flight")
    run.add_argument("--resume", action="store_true", help="continue a stopped run into the same RESULTS")
    run.add_argument("--dry-run", action="store_true", help="validate and render every record; send nothing")
    ui = send.add_argument_group("connection and output")
    ui.add_argument("--base-url", help=f"API base (default ${ENV_BASE_URL} or https://restapi.getui.com/v2)")
    ui.add_argument("--config", metavar="FILE.toml", help="settings file (flags and environment override it)")
    ui.add_argument("--no-progress", action="store_true", help="no progress bar")
    ui.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON to FILE")
    ui.add_argument("--log-level", choices=LOG_LEVELS, help="default warning")

    demo = commands.add_parser(
        "demo", help="run a whole campaign against the bundled mock server (no network, no credentials)"
    )
    demo.add_argument(
        "--records", type=_positive_int, default=10_000, help="recipients to generate (default 10000)"
    )
    demo.add_argument(
        "--dir", default="getui-demo", help="where to write the demo files (default ./getui-demo)"
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")

    mock = commands.add_parser("mock-server", help="serve the bundled mock Getui API until stopped")
    mock_cli.add_arguments(mock)
    return parser


# -- settings resolution ---------------------------------------------------------------------------------


def load_config(path: str | None) -> dict[str, Any]:
    """The ``--config`` TOML file as a flat dict; unknown keys are an error naming them."""
    if path is None:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415
    else:  # pragma: no cover
        import tomli as tomllib  # noqa: PLC0415
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(CONFIG_KEYS))}"
        )
    for key, value in data.items():
        problem = _config_value_problem(CONFIG_SCHEMA[key], value)
        if problem:
            raise ConfigError(f"{path}: setting {key!r} {problem}")
    if {"app_key", "master_secret"} & set(data) and file.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s holds secrets but is readable by other users (chmod 600 it)", path)
    return data


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _toml_type(value: Any) -> str:
    return _a(_TOML_NAMES.get(type(value), "date/time"))


def _config_value_problem(expected: str | tuple[str, ...], value: Any) -> str | None:
    """Why ``value`` does not fit ``expected``, or None. Never shows the value itself: it may be a secret."""
    if isinstance(expected, tuple):
        if isinstance(value, str) and value in expected:
            return None
        shown = repr(value) if isinstance(value, str) else _toml_type(value)
        return f"must be one of {', '.join(expected)}; got {shown}"
    if type(value) in _TOML_TYPES[expected]:  # exact types: TOML true is not the integer 1
        return None
    return f"must be {_a(expected)}; got {_toml_type(value)}"


def _pick(args: argparse.Namespace, config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    value = getattr(args, name, None)
    if value is not None and value is not False:
        return value
    return config.get(name, default)


def resolve_settings(
    args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str]
) -> Settings:
    """Credentials and client settings: flag > environment > config file."""

    def first(env: str, key: str) -> str:
        return environ.get(env, "").strip() or str(config.get(key, "") or "")

    credentials = Credentials(
        app_id=first(ENV_APP_ID, "app_id"),
        app_key=first(ENV_APP_KEY, "app_key"),
        master_secret=first(ENV_MASTER_SECRET, "master_secret"),
    )
    base_url = args.base_url or first(ENV_BASE_URL, "base_url") or None
    kwargs: dict[str, Any] = {"credentials": credentials}
    if base_url:
        kwargs["base_url"] = base_url
    timeout = _pick(args, config, "timeout_s")
    if timeout is not None:
        kwargs["request_timeout_s"] = float(timeout)
    attempts = _pick(args, config, "max_attempts")
    if attempts is not None:
        kwargs["retry"] = RetrySettings(max_attempts=int(attempts))
    return Settings(**kwargs)


def resolve_template(args: argparse.Namespace, config: Mapping[str, Any]) -> MessageTemplate:
    """``--message FILE.json``, or a notification from ``--title/--body/--click-type/...``.

    Without ``--title``/``--body`` the record's own ``title``/``body`` fields are used ({title}/{body}).
    """
    message = _pick(args, config, "message")
    simple = {k: _pick(args, config, k) for k in ("title", "body", "click_type", "url", "intent", "payload")}
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


def resolve_options(args: argparse.Namespace, config: Mapping[str, Any]) -> CampaignSettings:
    kwargs: dict[str, Any] = {
        "mode": _pick(args, config, "mode", Mode.AUTO.value),
        "concurrency": int(_pick(args, config, "concurrency", DEFAULT_CONCURRENCY)),
        "list_chunk": int(_pick(args, config, "list_chunk", DEFAULT_LIST_CHUNK)),
        "campaign_id": _pick(args, config, "campaign"),
        "is_async": bool(args.is_async if args.is_async is not None else config.get("async", False)),
        "dry_run": bool(args.dry_run),
    }
    rate = _pick(args, config, "rate")
    if rate is not None:
        kwargs["rate_per_s"] = float(rate)
    drain = _pick(args, config, "drain_timeout_s")
    if drain is not None:
        kwargs["drain_timeout_s"] = float(drain)
    return CampaignSettings(**kwargs)


# -- running -----------------------------------------------------------------------------------------------


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
    source_options: SourceOptions = DEFAULT_OPTIONS


def _count_records(path: str, fmt: str | None) -> int | None:
    """Records in a plain file, for the progress bar's ETA (None for stdin and gzip: unknown)."""
    if path == "-" or path.endswith((".gz", ".xlsx")):
        return None
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    is_csv = (fmt or ("csv" if path.endswith(".csv") else "jsonl")) == "csv"
    return max(0, lines - 1) if is_csv else lines


async def run_send(job: SendJob, *, stderr: Any = None) -> tuple[Summary, int]:
    """Run a resolved send with signals, progress and the summary; returns (summary, exit status)."""
    stderr = stderr or sys.stderr
    loop = asyncio.get_running_loop()
    source = await asyncio.to_thread(
        open_source,
        job.input,
        format=job.format,  # type: ignore[arg-type]
        options=job.source_options,
    )
    try:
        total = None
        if job.progress:
            total = await asyncio.to_thread(_count_records, job.input, job.format)
        bar = ProgressBar(
            total=total, enabled=job.progress, description="dry run" if job.options.dry_run else "sending"
        )
        campaign = Campaign(
            source,
            job.template,
            job.settings,
            job.options,
            out=job.out,
            resume=job.resume,
            observers=[bar] if bar.enabled else [],  # no per-record events unless someone shows them
        )
        print(f"{PROG}: campaign {campaign.campaign_id} -> {job.out}", file=stderr)
        signals = 0

        def on_signal(signum: int) -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                print(
                    f"\n{PROG}: {signal.Signals(signum).name}: finishing requests in flight "
                    "(again to exit at once)",
                    file=stderr,
                    flush=True,
                )
                campaign.request_stop("signal", f"{signal.Signals(signum).name} received")
            else:
                campaign.flush_now()
                os._exit(EXIT_STOPPED)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            async with bar.running():
                summary = await campaign.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        source.close()
    format_summary(summary, out=stderr)
    if job.summary_json is not None:
        job.summary_json.write_bytes(_json.dumps(summary.to_dict()) + b"\n")
    return summary, summary.exit_code


def _send_job(args: argparse.Namespace, environ: Mapping[str, str]) -> SendJob:
    config = load_config(args.config)
    level = _pick(args, config, "log_level")
    if level:
        logging.getLogger().setLevel(level.upper())
    options = resolve_options(args, config)
    template = resolve_template(args, config)
    settings = None if options.dry_run else resolve_settings(args, config, environ)
    if args.input == "-" and not _pick(args, config, "format"):
        raise UsageError("reading stdin ('-') needs --format csv or --format jsonl")
    return SendJob(
        input=args.input,
        format=_pick(args, config, "format"),
        out=_results_path(args.out),
        template=template,
        settings=settings,
        options=options,
        resume=bool(args.resume),
        progress=not args.no_progress and sys.stderr.isatty(),
        summary_json=Path(args.summary_json) if args.summary_json else None,
        source_options=_source_options(args),
    )


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


def _results_path(text: str) -> Path:
    """``--out`` as a path, refused early when it cannot be a results file."""
    out = Path(text)
    if out.is_dir():
        raise UsageError(f"--out {text}: is a directory; give the path of a results file")
    if not out.parent.is_dir():
        raise UsageError(f"--out {text}: the directory {out.parent} does not exist")
    return out


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # noqa: PLC0415 - the demo pulls in the mock server

    return _run(run_demo(records=args.records, directory=Path(args.dir), progress=not args.no_progress))


def _run(coro: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (about 30% less CPU per request), else asyncio.

    A campaign allocates a few short-lived objects per recipient; with the default thresholds the
    cyclic GC runs every 700 allocations and rescans everything alive (bench/README.md: ~10% of CPU).
    Freezing what the imports made and collecting less often is a process-wide choice, so it is made
    here in the command, never in the library.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop  # noqa: PLC0415 - optional dependency
    except ImportError:
        return asyncio.run(coro)
    result: int = uvloop.run(coro)
    return result


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``getui-push`` and ``python -m getui_async``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "mock-server":
        return mock_cli.run(args)
    _setup_logging()
    commands: dict[str, Callable[[], int]] = {
        "send": lambda: _run(_send_main(args, os.environ if environ is None else environ)),
        "demo": lambda: _demo(args),
    }
    try:
        return commands[args.command]()
    except (ConfigError, UsageError, InputError, MessageError) as exc:
        return _fail(str(exc))
    except GetuiError as exc:  # results file refused, or the pre-flight /auth failed
        return _fail(_describe(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))


async def _send_main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    job = _send_job(args, environ)
    _, code = await run_send(job)
    return code


def _describe(exc: GetuiError) -> str:
    if isinstance(exc, ApiError):
        return f"nothing was sent: {exc}"
    return str(exc)
