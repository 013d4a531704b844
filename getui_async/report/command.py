"""The ``report`` subcommand's flags and its run, for :mod:`getui_async.cli` to wire in.

Every output path is checked before anything is read or written (exit 2 naming the flag); files are
written aside and renamed into place, so a refused results file leaves no half-written output.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from getui_async import _json
from getui_async.config import Settings
from getui_async.errors import ConfigError
from getui_async.outputs import refuse_reads, results_reads, write_aside
from getui_async.receipts import parse_store
from getui_async.results.sidecar import read_meta_strict as read_meta
from getui_async.safetext import printable
from getui_async.wrapping import terminal_width, wrap_text

from .completeness import completeness
from .fetch import fetch_funnel
from .html import to_html
from .identity import check_zone
from .receipts import join_receipts
from .render import summary, to_text
from .resend import find_input, recorded_format, write_records
from .shards import expand_results, read_campaign
from .variants import variant_groups

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``getui-push report``."""
    parser.add_argument(
        "results",
        metavar="RESULTS",
        nargs="+",
        help="a results file written by send --out; or every shard's (a glob, or a path with {shard})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--dead-cids", metavar="FILE", help="write the dead cids (Getui: target invalid) here, one a line"
    )
    parser.add_argument(
        "--retryable", metavar="FILE", help="write the input records whose outcome is retryable here"
    )
    parser.add_argument(
        "--input", metavar="PATH", help="the send's input, if not next to RESULTS (for --retryable)"
    )
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML page here")
    parser.add_argument(
        "--fetch", action="store_true", help="add Getui's own delivery figures (needs credentials)"
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings (credentials for --fetch)")
    parser.add_argument("--base-url", help="Getui API base URL (for --fetch)")
    parser.add_argument(
        "--receipts",
        metavar="STORE",
        help="join Getui's receipts (a receipts serve/import store: SQLite file or postgresql:// URL)",
    )
    parser.add_argument(
        "--unreached",
        metavar="FILE",
        help="with --receipts: write the input records Getui accepted that never arrived here",
    )
    parser.add_argument(
        "--tz", metavar="ZONE", help="IANA zone for times (default: the zone the send ran with)"
    )


def _output(flag: str, text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"{flag} {text}: is a directory; give a file path")
    if not path.parent.is_dir():
        raise ConfigError(f"{flag} {text}: the directory {path.parent} does not exist")
    return path


@contextmanager
def _aside(path: Path | None) -> Iterator[BinaryIO | None]:
    """:func:`~getui_async.outputs.write_aside` for an output flag that may not have been given."""
    if path is None:
        yield None
        return
    with write_aside(path) as handle:
        yield handle


def run(args: argparse.Namespace, settings: Callable[[], Settings], *, stdout: IO[str] | None = None) -> int:
    """Run ``report`` for parsed ``args``; ``settings`` is called only for ``--fetch``. Returns 0."""
    stdout = stdout or sys.stdout
    paths = expand_results([args.results] if isinstance(args.results, str) else args.results)
    for path in paths:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory; give the results file written by send --out")
        if not path.is_file():
            raise ConfigError(f"{path}: no such results file")
    results = paths[0]
    dead_path = _output("--dead-cids", args.dead_cids)
    retry_path = _output("--retryable", args.retryable)
    html_path = _output("--html", args.html)
    unreached_path = _output("--unreached", args.unreached)
    if unreached_path is not None and args.receipts is None:
        raise ConfigError("--unreached: needs --receipts STORE (the receipts say what arrived)")
    store = parse_store(args.receipts) if args.receipts is not None else None
    if store is not None and store.kind == "sqlite" and not Path(store.target).is_file():
        raise ConfigError(f"--receipts {store.target}: no such store (receipts serve/import make one)")
    if args.tz is not None:
        check_zone(args.tz)
    fetch_settings = settings() if args.fetch else None  # missing credentials: exit 2 before any read
    meta = read_meta(results)
    input_path = find_input(results, meta, args.input) if retry_path is not None else None
    if unreached_path is not None:
        input_path = input_path or find_input(results, meta, args.input, flag="--unreached")
    reads = {"the input": input_path} if input_path is not None else {}
    for path in paths:  # every shard's files, each named by its file when there are several
        named = results_reads(path)
        reads |= named if len(paths) == 1 else {f"{what} of {path}": p for what, p in named.items()}
    if store is not None and store.kind == "sqlite":
        reads["--receipts"] = Path(store.target)
    outputs = {"--dead-cids": dead_path, "--retryable": retry_path, "--html": html_path}
    refuse_reads(outputs | {"--unreached": unreached_path}, reads)
    with _aside(dead_path) as dead:
        out, shards = read_campaign(paths, dead_cids=dead)
    if retry_path is not None and input_path is not None:
        with _aside(retry_path) as handle:
            assert handle is not None
            write_records(input_path, meta, out.retryable_records, handle)
        if recorded_format(meta) == "xlsx":
            print(f"report: --retryable {retry_path}: a UTF-8 CSV with the workbook's header row "
                  "(give send a .csv name, or --format csv)", file=sys.stderr)  # fmt: skip
    funnel: dict[str, Any] | None = None
    if fetch_settings is not None:
        funnel = asyncio.run(fetch_funnel(fetch_settings, out, groups=variant_groups(out)))
    receipts: dict[str, Any] | None = None
    if store is not None:
        joined = asyncio.run(join_receipts(paths, store))
        receipts = joined.to_dict()
        if unreached_path is not None and input_path is not None:
            with _aside(unreached_path) as handle:
                assert handle is not None
                write_records(input_path, meta, joined.unreached, handle)
    data = summary(
        out,
        funnel,
        receipts,
        shards=shards.to_dict() if shards is not None else None,
        state=completeness(results, meta, out.records),
        tz=args.tz,
    )
    if html_path is not None:
        with _aside(html_path) as page:
            assert page is not None
            page.write(to_html(data).encode())
    if args.json:
        stdout.write(_json.dumps(data).decode() + "\n")
    else:
        text = printable(to_text(data), multiline=True)  # msgs from Getui and from files
        stdout.write(wrap_text(text, terminal_width(stdout)))
    return 0
