"""``getui-push recall RESULTS``: its flags and its run, for the CLI to wire in.

Exit statuses as ``send``'s: 0 done, 1 some push or task stop failed, 2 usage or file error (nothing
sent), 3 stopped early (signal, daily quota): ``--resume`` goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any

from getui_async import _json
from getui_async.client import GetuiClient
from getui_async.config import ENV_BASE_URL, Settings
from getui_async.errors import ConfigError, MessageError, ResultsFileError
from getui_async.messages import Rendered
from getui_async.outputs import refuse_reads, results_reads
from getui_async.results import ResultsWriteError, RunMeta, recall_path
from getui_async.runner import EXIT_USAGE, PROG
from getui_async.safetext import printable

from .engine import Recall
from .lines import RecallFile
from .pushes import override_message
from .source import SendResults
from .summary import RecallSummary

__all__ = ["add_recall_parser", "run"]

log = logging.getLogger(__name__)

SettingsLoader = Callable[[], Settings]
LoopRunner = Callable[[Coroutine[Any, Any, int]], int]


def add_recall_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``recall`` to a parser's subcommands."""
    recall = subparsers.add_parser(
        "recall",
        help="take back a sent campaign: stop its list tasks, revoke, override",
        description="Stop the list tasks a results file names, revoke every delivered recipient "
        "(force never set) and, with --replace-title/--replace-body, replace the notification where "
        "no revoke reaches (Huawei, Honor, OPPO, iOS). Records never delivered are left alone.",
    )
    recall.add_argument("results", metavar="RESULTS", help="the results file of the send to recall")
    recall.add_argument(
        "--out", metavar="FILE", help="the recall's own results (default RESULTS.recall.jsonl)"
    )
    recall.add_argument(
        "--resume", action="store_true", help="go on with an earlier recall into the same --out"
    )
    recall.add_argument(
        "--dry-run", action="store_true", help="print what would be done, with counts; send nothing"
    )
    recall.add_argument("--json", action="store_true", help="print the summary as JSON")
    recall.add_argument(
        "--variant", metavar="NAME", help="only the recipients of this variant (default: every variant)"
    )
    recall.add_argument("--replace-title", metavar="T", help="override: the replacement notification's title")
    recall.add_argument("--replace-body", metavar="B", help="override: the replacement notification's body")
    recall.add_argument(
        "--base-url", help=f"API base (default ${ENV_BASE_URL} or https://restapi.getui.com/v2)"
    )
    recall.add_argument("--config", metavar="FILE.toml", help="settings file (credentials)")


def run(
    args: argparse.Namespace,
    settings: SettingsLoader,
    *,
    stdout: IO[str] | None = None,
    run_loop: LoopRunner = asyncio.run,
) -> int:
    """Run ``recall``; 2 (nothing sent) when a flag, file or credential is bad."""
    stdout = stdout or sys.stdout
    try:
        if (args.replace_title is None) != (args.replace_body is None):
            raise ConfigError("--replace-title and --replace-body go together")
        send = SendResults(Path(args.results), variant=args.variant)
        override = _override(args, send)
        out = Path(args.out) if args.out else recall_path(send.path)
        refuse_reads({"--out": out}, results_reads(send.path))  # the send's file, sidecar or lock
        census = send.census()
        if args.variant is not None and not (census.left_alone or any(census.delivered.values())):
            raise ConfigError(f"--variant {args.variant}: no record of {send.path} names that variant")
        summary = RecallSummary(send.campaign_id, str(out), census, override is not None, args.dry_run)
        meta = _meta(send, args)
        recall_file = RecallFile(out, meta, resume=args.resume)
        if args.dry_run:
            return _dry_run(send, recall_file, summary, override, args.json, stdout)
        loaded = settings()
        recall_file.open()
    except (ConfigError, MessageError, ResultsFileError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    try:
        run_loop(_run(send, recall_file, summary, override, loaded))
        recall_file.record_run(summary.to_dict())
    except ResultsWriteError as exc:
        log.error("%s", exc)  # the lines are written; only the sidecar's record of runs is missing
    finally:
        recall_file.close()
    _print(summary, args.json, stdout)
    return summary.exit_code


def _override(args: argparse.Namespace, send: SendResults) -> Rendered | None:
    if args.replace_title is None:
        return None
    if not send.ids_recorded:
        raise ConfigError(
            f"--replace-title: {send.path}'s sidecar records no replace ids (a send from before they were "
            "kept), so the override could not name the notification to replace"
        )
    return override_message(args.replace_title, args.replace_body, send.replace_ids)


def _meta(send: SendResults, args: argparse.Namespace) -> RunMeta:
    """The recall file's identity: the campaign, and what it sends (a resume must send the same)."""
    action = {"recall": 1, "title": args.replace_title, "body": args.replace_body}
    if args.variant is not None:  # only then: an earlier recall's fingerprint stays what it was
        action["variant"] = args.variant
    fingerprint = hashlib.sha256(_json.dumps_sorted(action)).hexdigest()
    return RunMeta(send.campaign_id, fingerprint, {"name": str(send.path)})


def _dry_run(
    send: SendResults,
    recall_file: RecallFile,
    summary: RecallSummary,
    override: Rendered | None,
    as_json: bool,
    stdout: IO[str],
) -> int:
    """Count what would be done (after what an earlier recall did, with ``--resume``); send nothing."""
    recall_file.load()
    Recall(send, recall_file, summary, override=override, stop=asyncio.Event()).count_planned()
    _print(summary, as_json, stdout)
    return summary.exit_code


async def _run(
    send: SendResults,
    recall_file: RecallFile,
    summary: RecallSummary,
    override: Rendered | None,
    settings: Settings,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with GetuiClient(settings) as client:
            await Recall(send, recall_file, summary, override=override, stop=stop).run(client)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return summary.exit_code


def _print(summary: RecallSummary, as_json: bool, stdout: IO[str]) -> None:
    if as_json:
        stdout.write(_json.dumps(summary.to_dict()).decode() + "\n")
    else:
        stdout.write(printable(summary.text(), multiline=True) + "\n")


def _fail(message: str) -> int:
    print(f"{PROG}: error: {printable(message, multiline=True)}", file=sys.stderr)
    return EXIT_USAGE
