"""The ``getui-push`` command line as one argparse parser (also the source of the completion scripts).

Only parsing lives here: flag types, groups, help and epilogs. What a flag means once parsed is
:mod:`getui_async.config.layers` (settings) and :mod:`getui_async.cli.commands` (running).
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Sequence
from typing import Any, Final

import shtab

from getui_async._suggest import closest
from getui_async._version import __version__
from getui_async.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LIST_CHUNK,
    ENV_APP_ID,
    ENV_APP_KEY,
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    MAX_LIST_CHUNK,
)
from getui_async.config.layers import CLICK_TYPES, CONFIG_NAME, LOG_LEVELS, MODES, VENDOR_CLASSES
from getui_async.ledger import command as ledger_command
from getui_async.recall import command as recall_command
from getui_async.receipts import command as receipts_command
from getui_async.report import command as report_command
from getui_async.runner import EXIT_OK, EXIT_SOME_FAILED, EXIT_STOPPED, EXIT_USAGE, PROG
from getui_async.sources import DELIMITER_CHOICES, ENCODINGS, FORMATS
from getui_async.sources.options import DELIMITERS

from . import variant_flags
from .help_text import mark_paths, shorten_send_help
from .probe_flags import add_probe_arguments

__all__ = ["COMPLETION_SHELLS", "MOCK_COMMANDS", "build_parser", "completion_script"]


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


def _delimiter(text: str) -> str:
    """A ``--delimiter`` name (``comma``) or the character itself (``,``)."""
    if text == "auto" or text in DELIMITERS:
        return text
    close = closest(text, DELIMITER_CHOICES)
    hint = f"did you mean {close}?" if close else f"choose from {', '.join(DELIMITER_CHOICES)}"
    raise argparse.ArgumentTypeError(f"unknown delimiter {text!r}; {hint}")


class _Parser(argparse.ArgumentParser):
    """argparse for people: no abbreviations (``--dry`` is not ``--dry-run``), one error line without
    the usage block before it, errors said flag first ("--rate: ...") and a "did you mean" for an
    unknown flag, command or choice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        #: The parser of each command (set on the top-level parser by :func:`build_parser`).
        self.command_parsers: dict[str, _Parser] = {}

    def error(self, message: str) -> typing.NoReturn:
        for prefix in ("argument ", "COMMAND: "):
            message = message.removeprefix(prefix)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parsed ``args``; a word no parser takes is an error of the command it was given to."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            owner = self.command_parsers.get(getattr(parsed, "command", None) or "", self)
            owner.error(owner.unknown(extras[0]))
        return parsed

    def unknown(self, word: str) -> str:
        """What is wrong with ``word``, a flag or argument this parser has no place for."""
        if not word.startswith("-") or word == "-":
            return f"unexpected argument {word!r} (see {self.prog} --help)"
        flag = word.split("=", 1)[0]
        close = closest(flag, [option for action in self._actions for option in action.option_strings])
        hint = f"did you mean {close}?" if close else f"see {self.prog} --help"
        return f"unknown flag {flag}; {hint}"

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value outside ``choices``: the closest choice, else the list (a command is a choice too)."""
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        close = closest(str(value), choices)
        hint = f"did you mean {close}?" if close else f"choose from {', '.join(choices)}"
        what = "command" if action.dest == "command" else "choice"
        raise argparse.ArgumentError(action, f"unknown {what} {value!r}; {hint}")


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


def build_parser(*, mock_flags: bool = False, full_help: bool = False) -> _Parser:
    """The whole command line. ``mock_flags`` adds mock-server's flags (it imports the mock server);
    ``full_help`` shows every flag of ``send`` in its ``--help`` (else :data:`SEND_SHORT_HELP`'s)."""
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
        "--help-all", action=_HelpAll, help="show every flag, the environment and exit statuses"
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
    run.add_argument("--retry-unconfirmed", action="store_true",
                     help="also re-send list recipients whose chunk may have reached Getui: "
                     "may deliver twice")  # fmt: skip
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="send only the recipients shard I of N owns (a stable hash of the id); auto/N: I from "
        "JOB_COMPLETION_INDEX; --out may hold {shard} (env GETUI_SHARD)",
    )
    run.add_argument("--dry-run", action="store_true", help="validate and render every record; send nothing")
    run.add_argument("--show", type=_positive_int, metavar="N",
                     help="with --dry-run: print the first N rendered messages to stdout")  # fmt: skip
    variant_flags.add_arguments(send)
    add_probe_arguments(send)
    _add_pace_arguments(send)
    _add_vendor_arguments(send)
    _add_metrics_arguments(send)
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

    report = commands.add_parser(
        "report", help="final outcome per record of a results file; dead cids, funnel"
    )
    report_command.add_arguments(report)
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
    ledger_command.add_ledger_arguments(check, dead_only=True)
    check.add_argument("--rate", type=_positive_float, help="user/detail calls per second (default 5)")
    check.add_argument("--title", help="the message title, for its warnings")
    check.add_argument("--body", help="the message body, for its warnings")
    check.add_argument("--message", metavar="FILE.json", help="the message template, for its warnings")
    variant_flags.add_arguments(check)
    _add_vendor_arguments(check)
    check.add_argument(
        "--base-url", help=f"API base (default ${ENV_BASE_URL} or https://restapi.getui.com/v2)"
    )
    check.add_argument(
        "--config", metavar="FILE.toml", help="settings file (flags and environment override it)"
    )

    receipts_command.add_receipts_parser(commands)
    receipts = commands.choices["receipts"]
    recall_command.add_recall_parser(commands)
    ledger_command.add_ledger_parser(commands)

    mock = commands.add_parser(
        "mock-server",
        help="serve the bundled mock Getui API until stopped; prints the credentials it accepts",
        description="Serve the bundled mock Getui REST v2 API on 127.0.0.1 until SIGINT/SIGTERM.",
    )
    if mock_flags:
        from getui_async.mock import cli as mock_cli  # noqa: PLC0415 - aiohttp.web only for the commands that need it

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
    parser.command_parsers = {
        "send": send, "demo": demo, "report": report, "check": check, "mock-server": mock,
        "completion": completion, "receipts": receipts, "recall": commands.choices["recall"],
        "ledger": commands.choices["ledger"],
    }  # fmt: skip
    mark_paths(parser.command_parsers)
    if not full_help:
        shorten_send_help(send)
    return parser


#: Shells ``completion`` writes scripts for (all that shtab supports).
COMPLETION_SHELLS: Final = ("bash", "zsh", "fish", "tcsh")
#: Commands whose flags include the mock server's (building them imports aiohttp.web).
MOCK_COMMANDS: Final = frozenset({"mock-server", "completion"})


def completion_script(shell: str) -> str:
    """The completion script for ``shell``, generated by shtab from the one parser (mock flags too)."""

    return str(shtab.complete(build_parser(mock_flags=True), shell=shell))


class _HelpAll(argparse.Action):
    """``send --help-all``: the help of every flag, from a parser built with ``full_help``."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        build_parser(full_help=True).command_parsers["send"].print_help()
        parser.exit()


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """How to read INPUT: the same flags for ``send`` and ``check`` (see :func:`_source_options`)."""
    src = parser.add_argument_group("reading the input")
    src.add_argument("--encoding", choices=ENCODINGS, default="auto", help="text encoding (default auto)")
    src.add_argument(
        "--delimiter",
        type=_delimiter,
        default="auto",
        metavar="{" + ",".join(DELIMITER_CHOICES) + "}",
        help="CSV separator (default: auto; the character itself is accepted too)",
    )
    src.add_argument("--cid-column", metavar="NAME", help="header of the cid column (default cid/clientid)")
    src.add_argument("--alias-column", metavar="NAME", help="header of the alias column (default alias)")
    src.add_argument("--sheet", metavar="NAME", help="worksheet of an .xlsx input (default: the first)")


def _add_pace_arguments(parser: argparse.ArgumentParser) -> None:
    """The pacing flags: when to send (window, quota waits, deadline) and to whom not (exclusions, caps)."""
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
    ledger_command.add_ledger_arguments(pace, max_per_day_type=_positive_int)


def _add_vendor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--vendor-class`` / ``--vendor-category``, shared by send and check."""
    parser.add_argument(
        "--vendor-class",
        choices=VENDOR_CLASSES,
        help="how Android vendors class the notification (default marketing)",
    )
    parser.add_argument("--vendor-category", metavar="NAME", help="vendor category, required with service")


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PORT:
        raise argparse.ArgumentTypeError(f"expected a port 1-{MAX_PORT}, got {text!r}")
    return value


MAX_PORT: Final = 65_535


def _add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """Prometheus metrics of a send: a port to scrape during the run, or a Pushgateway to push to."""
    metrics = parser.add_argument_group("metrics (Prometheus)")
    metrics.add_argument(
        "--metrics-port", type=_port, metavar="PORT", help="serve /metrics on this port while the run lasts"
    )
    metrics.add_argument("--metrics-host", metavar="HOST", help="address to serve on (default 127.0.0.1)")
    metrics.add_argument(
        "--pushgateway",
        metavar="URL",
        help="push the metrics to this Prometheus Pushgateway every --push-interval-s and at the end",
    )
    metrics.add_argument(
        "--push-interval-s", type=_positive_float, metavar="S", help="seconds between pushes (default 15)"
    )
