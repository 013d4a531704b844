"""``getui-push ledger``: show a ledger, or write the dead recipients it remembers.

::

    getui-push ledger LEDGER                      # zone, rows today, claims held, dead recipients
    getui-push ledger export-dead LEDGER FILE     # one dead recipient a line (an --exclude file)

``LEDGER`` (a SQLite file or a ``postgresql://`` URL) may be left out when ``GETUI_LEDGER`` names it. A
command-line module of the package (imported by the CLI only, never by the engine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final

from getui_async.config.layers import ENV_LEDGER
from getui_async.errors import ConfigError
from getui_async.outputs import write_aside
from getui_async.runner import EXIT_OK, EXIT_USAGE, PROG

from . import LedgerError, day_text, is_url, open_ledger

__all__ = ["add_ledger_arguments", "add_ledger_parser", "run"]

EXPORT: Final = "export-dead"


def add_ledger_arguments(
    group: Any, *, max_per_day_type: Callable[[str], int] = int, dead_only: bool = False
) -> None:
    """The ledger flags of ``send`` (``dead_only``: ``check``'s one flag, where dead cids are remembered)."""
    if dead_only:
        group.add_argument(
            "--ledger", metavar="PATH|URL", help="also remember the dead cids there (also GETUI_LEDGER)"
        )
        return
    group.add_argument(
        "--ledger",
        metavar="PATH|URL",
        help="who was claimed, reached and found dead, per day: a SQLite file or a postgresql:// URL "
        "shared by several hosts (also GETUI_LEDGER)",
    )
    group.add_argument(
        "--ledger-tz",
        metavar="ZONE",
        help="IANA zone a new ledger counts its days in (default Asia/Shanghai; kept by the ledger)",
    )
    group.add_argument(
        "--no-suppress",
        action="store_true",
        help="send to recipients the ledger remembers as dead (skipped as excluded by default)",
    )
    group.add_argument(
        "--max-per-day",
        type=max_per_day_type,
        metavar="N",
        help="claim each recipient in the ledger before sending; skip those other runs reached or "
        "claimed N times on the ledger's day (needs --ledger)",
    )


def add_ledger_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """The ``ledger`` command's arguments."""
    ledger = subparsers.add_parser(
        "ledger",
        help="show a ledger (zone, rows today, claims held, dead cids) or export its dead cids",
        description="Show a ledger, or with export-dead write its dead recipients to FILE (owner-only).",
        usage=f"{PROG} ledger [LEDGER] | {PROG} ledger {EXPORT} [LEDGER] FILE",
    )
    ledger.add_argument("words", nargs="*", metavar="ARG", help=f"LEDGER, or {EXPORT} LEDGER FILE")


def run(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ, stdout: IO[str] | None = None
) -> int:
    """Run ``ledger``; 2 when the ledger can't be opened or the arguments are wrong."""
    out = stdout or sys.stdout
    words: list[str] = list(args.words)
    export = bool(words) and words[0] == EXPORT
    if export:
        words = words[1:]
    default = environ.get(ENV_LEDGER, "").strip()
    try:
        wanted = 2 if export else 1
        if len(words) == wanted - 1 and default:
            words.insert(0, default)
        if len(words) != wanted:
            need = f"{EXPORT} LEDGER FILE" if export else "LEDGER"
            raise ConfigError(f"ledger: expected {need} (LEDGER may come from {ENV_LEDGER})")
        spec = words[0]
        if not is_url(spec) and not Path(spec).is_file():
            raise ConfigError(f"ledger {spec}: no such file")
        if export:
            return asyncio.run(_export(spec, Path(words[1]), out))
        return asyncio.run(_show(spec, out))
    except (ConfigError, LedgerError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or ''}: {exc.strerror or exc}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


async def _show(spec: str, out: IO[str]) -> int:
    ledger = await open_ledger(spec)
    try:
        info = await ledger.info()
    finally:
        await ledger.close()
    print(f"ledger {info.where} (schema {info.schema})", file=out)
    print(f"  zone: {info.zone} (today is {day_text(info.day)})", file=out)
    print(f"  rows today: {info.rows_today}", file=out)
    print(f"  claims held: {info.claims_held}", file=out)
    print(f"  dead recipients: {info.dead}", file=out)
    return EXIT_OK


async def _export(spec: str, path: Path, out: IO[str]) -> int:
    ledger = await open_ledger(spec)
    written = 0
    try:
        with write_aside(path) as handle:
            async for _kind, target, _since in ledger.dead_recipients():
                handle.write(f"{target}\n".encode())
                written += 1
    finally:
        await ledger.close()
    print(f"{PROG}: wrote {written} dead recipients to {path}", file=out)
    return EXIT_OK
