"""The ``getui-push`` command: ``send``, ``check``, ``report``, ``demo``, ``mock-server``, ``completion``.

``main`` parses argv (:mod:`.parser`), sets up logging, runs the command (:mod:`.commands`) and maps
what went wrong to the exit statuses of the contract:

    0  finished, no record failed or rejected
    1  finished, some records failed or were rejected
    2  nothing sent: usage, configuration, credential or input-file error (message on stderr)
    3  stopped before finishing (SIGINT/SIGTERM, daily quota): results consistent, --resume finishes

Settings are layered flag > environment > config file by :mod:`getui_async.config.layers`. Running a
send lives in :mod:`getui_async.runner`; the mock server (aiohttp.web) is imported only by the commands
that start it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from getui_async.config import ENV_APP_ID, ENV_BASE_URL, UsageError
from getui_async.config.layers import (
    config_for,
    find_config,
    load_config,
    resolve_options,
    resolve_settings,
    resolve_sign_credentials,
)
from getui_async.errors import ApiError, ConfigError, GetuiError, InputError, MessageError, TransportError
from getui_async.ledger import command as ledger_command
from getui_async.recall import command as recall_command
from getui_async.receipts import command as receipts_command
from getui_async.report import command as report_command
from getui_async.runner import EXIT_USAGE, PROG, SendJob
from getui_async.safetext import printable

from . import commands
from .commands import send_job as _send_job  # noqa: F401 - imported from here by tests
from .parser import MOCK_COMMANDS, build_parser

# SendJob, UsageError, load_config and resolve_options are imported from here by callers and tests.
__all__ = ["SendJob", "UsageError", "build_parser", "find_config", "load_config", "main", "resolve_options"]


class _PrintableFormatter(logging.Formatter):
    """Log lines carry Getui's messages and file contents: their control characters are shown escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), multiline=True)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _fail(message: str) -> int:
    # Error messages carry text from Getui's replies and from files: shown, never obeyed by the terminal.
    print(f"{PROG}: error: {printable(message, multiline=True)}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``getui-push`` and ``python -m getui_async``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(mock_flags=bool(MOCK_COMMANDS & set(argv)))
    if not argv:  # no mistake to point at: what the commands are
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if args.command == "mock-server":
        return commands.mock_server(args)
    if args.command == "completion":
        return commands.completion(args)
    _setup_logging()
    env = os.environ if environ is None else environ
    handlers: dict[str, Callable[[], int]] = {
        "send": lambda: commands.run(commands.send_main(args, env)),
        "demo": lambda: commands.demo(args),
        "report": lambda: report_command.run(
            args, lambda: resolve_settings(args, config_for(args, env), env)
        ),
        "check": lambda: commands.check(args, env),
        "ledger": lambda: ledger_command.run(args, env),
        "receipts": lambda: receipts_command.run(
            args,
            lambda: resolve_sign_credentials(config_for(args, env), env),
            run_loop=commands.run,
        ),
        "recall": lambda: recall_command.run(
            args, lambda: resolve_settings(args, config_for(args, env), env), run_loop=commands.run
        ),
    }
    try:
        return handlers[args.command]()
    except (ConfigError, InputError, MessageError) as exc:  # UsageError is a ConfigError
        return _fail(str(exc))
    except GetuiError as exc:  # results file refused, or the pre-flight /auth failed
        return _fail(_describe(exc, args, env))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))


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
