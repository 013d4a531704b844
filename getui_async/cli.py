"""The ``getui-push`` command: ``send``, ``report``, ``demo`` and ``mock-server``.

This module turns argv, the environment and an optional TOML file into settings, sets up logging,
shows progress, prints the summary and maps outcomes to the exit statuses of the contract:

    0  finished, no record failed or rejected
    1  finished, some records failed or were rejected
    2  nothing sent: usage, configuration, credential or input-file error (message on stderr)
    3  stopped before finishing (SIGINT/SIGTERM, daily quota): results consistent, --resume finishes

Precedence for every setting: command-line flag, then environment (``GETUI_*``), then the config file:
``--config FILE``, else the first of ``./getui-push.toml`` and ``$XDG_CONFIG_HOME/getui-push/config.toml``
(``~/.config`` when the variable is unset). Running a send lives in :mod:`getui_async.runner`; the mock
server (aiohttp.web) is imported only by the commands that start it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import stat
import sys
import typing
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
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
    PaceSettings,
    RetrySettings,
    Settings,
)
from .errors import ApiError, ConfigError, GetuiError, InputError, MessageError, TransportError
from .messages import CLICK_FIELD, ClickType, MessageTemplate
from .messages.vendors import VendorClass, VendorWarning, prepare_campaign, vendor_warnings
from .pace_flags import schedule_of
from .report import command as report_command
from .runner import EXIT_OK, EXIT_SOME_FAILED, EXIT_STOPPED, EXIT_USAGE, PROG, STDOUT, SendJob, run_send
from .sources import DELIMITER_CHOICES, ENCODINGS, Format, SourceOptions

__all__ = ["build_parser", "find_config", "main"]

#: Where a config file is looked for without ``--config``, in order (the first that exists is used).
CONFIG_NAME: Final = "getui-push.toml"
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
    "vendor_class": tuple(c.value for c in VendorClass), "vendor_category": "string",
    "xm_channel_id": "string",
    # pacing (#14)
    "window": "string", "tz": "string", "no_wait": "boolean", "wait_quota": "boolean",
    "quota_reset": "string", "deadline": "string", "exclude": "array", "ledger": "string",
    "max_per_day": "integer",
}  # fmt: skip
CONFIG_KEYS: Final = frozenset(CONFIG_SCHEMA)
_TOML_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
}
_TOML_NAMES: Final[Mapping[type, str]] = {
    str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"
}  # fmt: skip

log = logging.getLogger(__name__)


class UsageError(GetuiError):
    """A bad combination of options (exit 2)."""


# -- argument parsing -------------------------------------------------------------------------------


def _number(text: str, kind: type[int] | type[float], what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return int(_number(text, int, "a whole number >= 1"))


def _positive_float(text: str) -> float:
    return float(_number(text, float, "a positive number"))


def _list_chunk(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_LIST_CHUNK:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_LIST_CHUNK}, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with its "argument --rate: ..." errors said as "--rate: ..." (the flag first)."""

    def error(self, message: str) -> typing.NoReturn:
        if message.startswith("argument "):
            message = message[len("argument ") :]
        super().error(message)


SEND_EPILOG: Final = f"""\
environment:
  {ENV_APP_ID}, {ENV_APP_KEY}, {ENV_MASTER_SECRET}
                        the app's credentials (Getui console; mock-server prints the mock's)
  {ENV_BASE_URL}        API base (default https://restapi.getui.com/v2)
  XDG_CONFIG_HOME       where the config file is looked for (default ~/.config)

settings come from flags, then the environment, then the config file: --config FILE,
else ./{CONFIG_NAME}, else $XDG_CONFIG_HOME/getui-push/config.toml.

exit statuses:
  {EXIT_OK}  finished, no record failed or was rejected
  {EXIT_SOME_FAILED}  finished, some records failed or were rejected (see RESULTS)
  {EXIT_USAGE}  nothing sent: bad flag, configuration, credentials or input file
  {EXIT_STOPPED}  stopped before the end (Ctrl-C, SIGTERM, daily quota): run again with --resume

examples (after a stop, run the same command again with --resume):
  {PROG} send recipients.csv --out results.jsonl --title 'Hi {{name}}' --body 'Your {{city}} coupon'
  zcat users.jsonl.gz | {PROG} send - --format jsonl --out results.jsonl --message template.json
"""


def build_parser(*, mock_flags: bool = False) -> argparse.ArgumentParser:
    """The whole command line. ``mock_flags`` adds mock-server's flags (it imports the mock server)."""
    parser = _Parser(
        prog=PROG,
        description="Push Getui (个推) campaigns fast, exactly once, resumably.",
        epilog=f"Settings come from flags, then GETUI_* variables, then a config file (--config, else "
        f"./{CONFIG_NAME}, else $XDG_CONFIG_HOME/getui-push/config.toml). Run '{PROG} COMMAND --help' "
        "for a command's flags, environment and exit statuses.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    send = commands.add_parser(
        "send",
        help="push one campaign to every recipient in a file",
        description="Push one message (with per-recipient {field} placeholders) to every record of INPUT.",
        epilog=SEND_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument(
        "input", metavar="INPUT", help=".csv, .tsv, .jsonl or .ndjson (optionally .gz), .xlsx, or - for stdin"
    )
    send.add_argument(
        "--out", required=True, metavar="RESULTS", help="results file (JSONL, one line per record)"
    )
    send.add_argument("--format", choices=FORMATS, help="input format (required for stdin)")
    _add_source_arguments(send)
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
    msg.add_argument(
        "--allow-empty",
        nargs="?",
        const=True,
        metavar="FIELD[,FIELD]",
        help="let these placeholders (bare: all) render empty; else an empty value rejects its record",
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
    run.add_argument("--retry-failed", action="store_true",
                     help="with --resume: send again (same request_id) every record whose last line is "
                     "retryable; never a dead cid or other final failure")  # fmt: skip
    run.add_argument("--dry-run", action="store_true", help="validate and render every record; send nothing")
    run.add_argument("--show", type=_positive_int, metavar="N",
                     help="with --dry-run: print the first N rendered messages to stdout")  # fmt: skip
    _add_pace_arguments(send)
    _add_vendor_arguments(send)
    send.add_argument("--test", action="store_true",
                      help="a send to test devices: vendors' test flags and its own campaign id")  # fmt: skip
    ui = send.add_argument_group("connection and output")
    ui.add_argument("--base-url", help=f"API base (default ${ENV_BASE_URL} or https://restapi.getui.com/v2)")
    ui.add_argument(
        "--config",
        metavar="FILE.toml",
        help=f"settings file (flags and environment override it; default ./{CONFIG_NAME}, "
        "else $XDG_CONFIG_HOME/getui-push/config.toml)",
    )
    ui.add_argument("--no-progress", action="store_true", help="no progress line")
    ui.add_argument("-q", "--quiet", action="store_true", help="only errors and the final one-line result")
    ui.add_argument(
        "--summary-json", metavar="FILE", help="also write the summary as JSON to FILE (- for stdout)"
    )
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
    demo.add_argument("--no-progress", action="store_true", help="no progress line")

    report_command.add_arguments(
        commands.add_parser("report", help="final outcome per record of a results file; dead cids, funnel")
    )
    check = commands.add_parser(
        "check",
        help="pre-flight: audience, dead cids, quota and warnings; sends nothing",
        description="Read INPUT as send would; ask Getui which cids are dead and how much quota is left.",
    )
    check.add_argument("input", metavar="INPUT", help="the file send would read (or - for stdin)")
    check.add_argument("--format", choices=FORMATS, help="input format (required for stdin)")
    _add_source_arguments(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--dead-cids", metavar="FILE", help="write the cids Getui calls invalid, one a line")
    check.add_argument("--rate", type=_positive_float, help="user/detail calls per second (default 5)")
    check.add_argument("--title", help="the message title, for its warnings")
    check.add_argument("--body", help="the message body, for its warnings")
    check.add_argument("--message", metavar="FILE.json", help="the message template, for its warnings")
    _add_vendor_arguments(check)
    check.add_argument(
        "--base-url", help=f"API base (default ${ENV_BASE_URL} or https://restapi.getui.com/v2)"
    )
    check.add_argument(
        "--config", metavar="FILE.toml", help="settings file (flags and environment override it)"
    )

    mock = commands.add_parser(
        "mock-server",
        help="serve the bundled mock Getui API until stopped; prints the credentials it accepts",
        description="Serve the bundled mock Getui REST v2 API on 127.0.0.1 until SIGINT/SIGTERM.",
    )
    if mock_flags:
        from .mock import cli as mock_cli  # noqa: PLC0415 - aiohttp.web only for the commands that need it

        mock_cli.add_arguments(mock)

    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish, ...)",
        description="Print the completion script for SHELL; e.g. in ~/.bashrc: "
        f'eval "$({PROG} completion bash)"',
    )
    completion.add_argument(
        "shell", metavar="SHELL", choices=COMPLETION_SHELLS, help=", ".join(COMPLETION_SHELLS)
    )
    return parser


#: Shells ``completion`` writes scripts for (all that shtab supports).
COMPLETION_SHELLS: Final = ("bash", "zsh", "fish", "tcsh")
#: Commands whose flags include the mock server's (building them imports aiohttp.web).
_MOCK_COMMANDS: Final = frozenset({"mock-server", "completion"})


def _completion_script(shell: str) -> str:
    """The completion script for ``shell``, generated by shtab from the one parser (mock flags too)."""
    import shtab  # noqa: PLC0415 - only this command needs it

    return str(shtab.complete(build_parser(mock_flags=True), shell=shell))


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """How to read INPUT: the same flags for ``send`` and ``check`` (see :func:`_source_options`)."""
    src = parser.add_argument_group("reading the input")
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


def _add_pace_arguments(parser: argparse.ArgumentParser) -> None:
    """Issue #14's flags: when to send (window, quota waits, deadline) and to whom not (exclusions, caps)."""
    pace = parser.add_argument_group("pacing: windows, quota days, exclusions, caps")
    pace.add_argument(
        "--window",
        metavar="HH:MM[:SS]-HH:MM[:SS]",
        help="start requests only inside this daily window (may cross midnight: 21:00-09:00)",
    )
    pace.add_argument(
        "--tz",
        metavar="ZONE",
        help="IANA zone of --window, --quota-reset and the ledger's day (default Asia/Shanghai)",
    )
    pace.add_argument(
        "--no-wait",
        action="store_true",
        help="outside the window, stop (exit 3, resumable) instead of waiting",
    )
    pace.add_argument(
        "--wait-quota",
        action="store_true",
        help="on a daily-quota reply, wait for the quota reset and go on (instead of exit 3)",
    )
    pace.add_argument(
        "--quota-reset", metavar="HH:MM[:SS]", help="when the daily quota resets (default 00:00)"
    )
    pace.add_argument(
        "--deadline", metavar="TIME", help="ISO 8601 time no wait may pass (past it: exit 3, resumable)"
    )
    pace.add_argument(
        "--exclude",
        metavar="FILE",
        action="append",
        help="never send to these recipients: text (one id a line), CSV/JSONL with a cid or "
        "alias column, or an earlier results file (its dead cids); repeatable",
    )
    pace.add_argument("--ledger", metavar="PATH", help="SQLite file of who this tool delivered to, per day")
    pace.add_argument(
        "--max-per-day",
        type=_positive_int,
        metavar="N",
        help="skip recipients other campaigns already reached N times today (needs --ledger)",
    )


def resolve_pace(args: argparse.Namespace, config: Mapping[str, Any]) -> PaceSettings:
    """The pacing flags (flag > config file), checked now: a bad value is exit 2 before anything is sent."""
    exclude = getattr(args, "exclude", None) or config.get("exclude") or []
    if not all(isinstance(path, str) and path for path in exclude):
        raise UsageError("exclude: each entry must be a file name (a non-empty string)")
    for path in exclude:
        if not Path(path).is_file():
            raise UsageError(f"--exclude {path}: no such file (or not a regular file)")
    max_per_day = _pick(args, config, "max_per_day")
    if max_per_day is not None and max_per_day < 1:
        raise UsageError(f"--max-per-day {max_per_day}: must be at least 1")
    ledger = _pick(args, config, "ledger")
    if max_per_day is not None and ledger is None:
        raise UsageError(f"--max-per-day {max_per_day}: needs --ledger PATH")
    if ledger is not None and Path(ledger).is_dir():
        raise UsageError(f"--ledger {ledger}: is a directory; give the path of a ledger file")
    pace = PaceSettings(
        window=_pick(args, config, "window"),
        tz=_pick(args, config, "tz", "Asia/Shanghai"),
        no_wait=bool(_pick(args, config, "no_wait", False)),
        wait_quota=bool(_pick(args, config, "wait_quota", False)),
        quota_reset=_pick(args, config, "quota_reset", "00:00"),
        deadline=_pick(args, config, "deadline"),
        exclude=tuple(exclude),
        ledger=ledger,
        max_per_day=max_per_day,
    )
    schedule_of(pace)  # ScheduleError (exit 2) names the flag and the value
    return pace


def _add_vendor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--vendor-class`` / ``--vendor-category`` (#11), shared by send and check."""
    parser.add_argument(
        "--vendor-class",
        choices=[c.value for c in VendorClass],
        help="how Android vendors class the notification (default marketing)",
    )
    parser.add_argument("--vendor-category", metavar="NAME", help="vendor category, required with service")


# -- settings resolution ---------------------------------------------------------------------------------


def find_config(environ: Mapping[str, str], cwd: Path | None = None) -> str | None:
    """The config file used without ``--config``: ./getui-push.toml, else the XDG one; None if neither."""
    xdg = environ.get("XDG_CONFIG_HOME", "").strip()
    home = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".config"
    for candidate in ((cwd or Path.cwd()) / CONFIG_NAME, home / "getui-push" / "config.toml"):
        if candidate.is_file():
            return str(candidate)
    return None


def load_config(path: str | None) -> dict[str, Any]:
    """The TOML config file as a flat dict; unknown keys are an error naming them."""
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


ENV_XM_CHANNEL_ID: Final = "GETUI_XM_CHANNEL_ID"


def resolve_vendor(
    args: argparse.Namespace, config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str | None, str | None]:
    """``(vendor_class, vendor_category, xm_channel_id)``: flag > environment > config file."""
    vendor_class = _pick(args, config, "vendor_class", VendorClass.MARKETING.value)
    category = _pick(args, config, "vendor_category")
    xm_channel_id = environ.get(ENV_XM_CHANNEL_ID, "").strip() or config.get("xm_channel_id") or None
    return vendor_class, category, xm_channel_id


def _prepare_send(
    args: argparse.Namespace,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    template: MessageTemplate,
    options: CampaignSettings,
) -> tuple[MessageTemplate, CampaignSettings, list[VendorWarning]]:
    """The vendor class, ``--test`` and group_name applied; the campaign id fixed; warnings printed.

    The warnings are returned too, for the summary (``--summary-json`` lists them under ``warnings``).
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
    warnings = vendor_warnings(template, vendor_class, xm_channel_id=xm_channel_id)
    for warning in warnings:
        log.warning("[%s] %s", warning["code"], warning["message"])
    return template, replace(options, campaign_id=campaign), warnings


def resolve_options(args: argparse.Namespace, config: Mapping[str, Any]) -> CampaignSettings:
    kwargs: dict[str, Any] = {
        "mode": _pick(args, config, "mode", Mode.AUTO.value),
        "concurrency": int(_pick(args, config, "concurrency", DEFAULT_CONCURRENCY)),
        "list_chunk": int(_pick(args, config, "list_chunk", DEFAULT_LIST_CHUNK)),
        "campaign_id": _pick(args, config, "campaign"),
        "is_async": bool(args.is_async if args.is_async is not None else config.get("async", False)),
        "dry_run": bool(args.dry_run),
        "test": bool(getattr(args, "test", False)),
    }
    rate = _pick(args, config, "rate")
    if rate is not None:
        kwargs["rate_per_s"] = float(rate)
    drain = _pick(args, config, "drain_timeout_s")
    if drain is not None:
        kwargs["drain_timeout_s"] = float(drain)
    if hasattr(args, "window"):  # send (demo has no pacing flags)
        kwargs["pace"] = resolve_pace(args, config)
    return CampaignSettings(**kwargs)


# -- running -----------------------------------------------------------------------------------------------


def _send_job(args: argparse.Namespace, environ: Mapping[str, str]) -> SendJob:
    config = load_config(args.config or find_config(environ))
    level = "error" if args.quiet else _pick(args, config, "log_level")
    if level:
        logging.getLogger().setLevel(level.upper())
    options = resolve_options(args, config)
    if args.show is not None and not options.dry_run:
        raise UsageError(f"--show {args.show} prints what a dry run renders: add --dry-run")
    if args.show is not None and args.input == "-":
        raise UsageError("--show needs a file INPUT: stdin is read once, by the dry run itself")
    template = _allow_empty(resolve_template(args, config), args.allow_empty)
    template, options, warnings = _prepare_send(args, config, environ, template, options)
    settings = None if options.dry_run else resolve_settings(args, config, environ)
    if args.input == "-" and not _pick(args, config, "format"):
        raise UsageError("reading stdin ('-') needs --format csv or --format jsonl")
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
    return SendJob(
        input=args.input,
        format=_pick(args, config, "format"),
        out=_results_path(args.out),
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


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # noqa: PLC0415 - the demo pulls in the mock server

    return _run(run_demo(records=args.records, directory=Path(args.dir), progress=not args.no_progress))


def _mock_server(args: argparse.Namespace) -> int:
    from .mock import cli as mock_cli  # noqa: PLC0415 - aiohttp.web only for the commands that need it

    return mock_cli.run(args)


def _completion(args: argparse.Namespace) -> int:
    sys.stdout.write(_completion_script(args.shell))
    return EXIT_OK


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
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(mock_flags=bool(_MOCK_COMMANDS & set(argv))).parse_args(argv)
    if args.command == "mock-server":
        return _mock_server(args)
    if args.command == "completion":
        return _completion(args)
    _setup_logging()
    env = os.environ if environ is None else environ
    commands: dict[str, Callable[[], int]] = {
        "send": lambda: _run(_send_main(args, env)),
        "demo": lambda: _demo(args),
        "report": lambda: report_command.run(
            args,
            lambda: resolve_settings(args, load_config(args.config or find_config(env)), env),
        ),
        "check": lambda: _run(_check_main(args, env)),
    }
    try:
        return commands[args.command]()
    except (ConfigError, UsageError, InputError, MessageError) as exc:
        return _fail(str(exc))
    except GetuiError as exc:  # results file refused, or the pre-flight /auth failed
        return _fail(_describe(exc, args, env))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))


async def _send_main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    job = _send_job(args, environ)
    _, code = await run_send(job)
    return code


async def _check_main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``getui-push check``: exit 0 once checked; usage and input errors are exit 2 (via main)."""
    from .check import DEFAULT_CHECK_RATE_PER_S, check_input  # noqa: PLC0415 - only this command needs it

    config = load_config(args.config or find_config(environ))
    vendor_class, _, xm_channel_id = resolve_vendor(args, config, environ)
    template = resolve_template(args, config)
    if args.input == "-" and not _pick(args, config, "format"):
        raise UsageError("reading stdin ('-') needs --format csv or --format jsonl")
    has_credentials = bool(environ.get(ENV_APP_ID, "").strip() or config.get("app_id"))
    settings = resolve_settings(args, config, environ) if has_credentials else None
    if settings is None:
        print(f"{PROG}: no credentials: counting the input only (no dead cids, no quota)", file=sys.stderr)
    report = await check_input(
        args.input,
        settings=settings,
        template=template,
        vendor_class=vendor_class,
        xm_channel_id=xm_channel_id,
        format=_pick(args, config, "format"),
        rate_per_s=float(args.rate or DEFAULT_CHECK_RATE_PER_S),
        dead_cids=args.dead_cids,
        source_options=_source_options(args),
        check_fields=any(_pick(args, config, key) is not None for key in ("title", "body", "message")),
    )
    print(_json.dumps(report.to_dict()).decode() if args.json else report.to_text())
    return EXIT_OK


def _describe(exc: GetuiError, args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The error as a person can act on it: which flag, variable or value to change."""
    if not isinstance(exc, ApiError) or getattr(args, "command", None) != "send":
        return str(exc)
    config_path = args.config or find_config(environ)
    config = load_config(config_path)
    settings = resolve_settings(args, config, environ)
    if isinstance(exc, TransportError):
        where = _where(args, environ, config_path, config, ENV_BASE_URL, "base_url", "--base-url")
        return f"nothing was sent: cannot reach Getui at {settings.base_url} ({exc}); {where}"
    if exc.code == 404 or "appid" in exc.msg.lower().replace(" ", ""):
        where = _where(args, environ, config_path, config, ENV_APP_ID, "app_id")
        return f"nothing was sent: {exc}; the app id is {settings.credentials.app_id!r}: {where}"
    return f"nothing was sent: {exc}"


def _where(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    config_path: str | None,
    config: Mapping[str, Any],
    env: str,
    key: str,
    flag: str | None = None,
) -> str:
    """Where a setting came from, said as what to change."""
    if flag and getattr(args, flag.lstrip("-").replace("-", "_"), None):
        return f"check {flag} (or set {env})"
    if environ.get(env, "").strip():
        return f"check {env}" + (f" or {flag}" if flag else "")
    if key in config:
        return f"check {key} in {config_path}" + (f" (or set {env})" if env else "")
    return f"not set: the default was used; set {env}" + (f" or {flag}" if flag else "")
