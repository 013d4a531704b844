"""The ``receipts`` subcommands' flags and runs (``serve`` and ``import``), for the CLI to wire in.

Every flag, file and the store URL is checked before anything is done (exit 2 with a message naming it);
credentials come from the caller, so the CLI passes its own loader (``GETUI_*`` > config file, as for
``send``), and ``python -m getui_async.receipts`` passes :meth:`SignCredentials.from_env`: checking a sign
needs the app id and the master secret only, never the app key.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any

from getui_async import _json
from getui_async.config import SignCredentials
from getui_async.errors import ConfigError
from getui_async.runner import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, PROG

from .importer import import_files
from .opening import StoreSpec, open_store, parse_store
from .protocol import Verifier
from .store import StoreError
from .tally import DEFAULT_MAX_REQUEST_BYTES, LOG_INTERVAL_S

__all__ = ["add_receipts_parser", "parse_listen", "run"]

CredentialsLoader = Callable[[], SignCredentials]
#: Runs the command's coroutine to its exit status: ``asyncio.run``, or the CLI's own runner (uvloop
#: and its garbage-collector settings) when the CLI wires the command in.
LoopRunner = Callable[[Coroutine[Any, Any, int]], int]


def add_receipts_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``receipts serve`` and ``receipts import`` to a parser's subcommands."""
    receipts = subparsers.add_parser(
        "receipts", help="take Getui's receipt callbacks (arrived, shown, clicked, vendor failures)"
    )
    commands = receipts.add_subparsers(dest="receipts_command", metavar="{serve,import}", required=True)
    serve_p = commands.add_parser("serve", help="serve Getui's receipt POSTs into a store until SIGTERM")
    serve_p.add_argument("--listen", required=True, metavar="HOST:PORT", help="address to listen on")
    serve_p.add_argument(
        "--path", default="/", metavar="P", help="also take POSTs at this path (the registered URL's)"
    )
    serve_p.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="N",
        help="a larger request is answered 413 (default %(default)s)",
    )
    serve_p.add_argument(
        "--log-interval", type=float, default=LOG_INTERVAL_S, metavar="S", help=argparse.SUPPRESS
    )
    import_p = commands.add_parser("import", help="store saved receipt lines (one JSON object a line)")
    import_p.add_argument("files", nargs="+", metavar="FILE", help="saved receipt lines (e.g. a log)")
    import_p.add_argument("--json", action="store_true", help="print the counts as JSON")
    for sub in (serve_p, import_p):
        sub.add_argument(
            "--store", required=True, metavar="STORE", help="a SQLite file or a postgresql:// URL"
        )
        sub.add_argument("--config", metavar="FILE.toml", help="settings file (credentials)")
        sub.set_defaults(base_url=None)  # the shared credentials loader reads it


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as a host and a port number."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def _fail(message: str, stderr: IO[str]) -> int:
    print(f"{PROG}: error: {message}", file=stderr)
    return EXIT_USAGE


def run(
    args: argparse.Namespace,
    credentials: CredentialsLoader,
    *,
    stdout: IO[str] | None = None,
    run_loop: LoopRunner = asyncio.run,
) -> int:
    """Run ``receipts serve`` or ``receipts import``; 2 when a flag, file, store or credential is bad."""
    stdout = stdout or sys.stdout
    try:
        if args.receipts_command == "serve":
            if args.max_request_bytes < 1024:
                raise ConfigError("--max-request-bytes: must be at least 1024")
            if args.log_interval <= 0:
                raise ConfigError("--log-interval: must be > 0")
            host, port = parse_listen(args.listen)
            spec = parse_store(args.store)
            verifier = _verifier(credentials())
            return run_loop(_serve(args, verifier, spec, host, port))
        paths = [Path(name) for name in args.files]
        for path in paths:
            if not path.is_file():
                raise ConfigError(f"{path}: no such file")
        spec = parse_store(args.store)
        verifier = _verifier(credentials())
        return run_loop(_import(args, verifier, spec, paths, stdout))
    except (ConfigError, StoreError) as exc:
        return _fail(str(exc), sys.stderr)
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), sys.stderr)


def _verifier(creds: SignCredentials) -> Verifier:
    return Verifier(creds.app_id, creds.master_secret)


async def _serve(args: argparse.Namespace, verifier: Verifier, spec: StoreSpec, host: str, port: int) -> int:
    from .server import ReceiptServer, serve  # noqa: PLC0415 - aiohttp.web only for the server itself

    store = await open_store(spec)
    log = logging.getLogger("getui_async.receipts")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)  # the per-minute count line is the server's own output
    try:
        server = ReceiptServer(
            verifier,
            store,
            path=args.path,
            max_request_bytes=args.max_request_bytes,
            log_interval_s=args.log_interval,
        )

        def ready(url: str) -> None:
            where = f"listening on {url} (store {spec.redacted})"
            print(f"{PROG}: receipts: {where}", file=sys.stderr, flush=True)

        await serve(server, host, port, ready=ready)
        print(f"{PROG}: receipts: stopped; {server.tally.line()}", file=sys.stderr, flush=True)
    finally:
        await store.close()
    return EXIT_OK


async def _import(
    args: argparse.Namespace, verifier: Verifier, spec: StoreSpec, paths: list[Path], stdout: IO[str]
) -> int:
    store = await open_store(spec)
    try:
        tally = await import_files(paths, verifier, store)
    finally:
        await store.close()
    if args.json:
        stdout.write(_json.dumps(tally.to_dict()).decode() + "\n")
    else:
        stdout.write(f"receipts import: {tally.line()}\n")
    return EXIT_SOME_FAILED if tally.refused_total else EXIT_OK
