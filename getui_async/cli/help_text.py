"""What ``send --help`` shows, and which arguments the shells complete as file names.

The short help lists the flags a first send needs (each said in one line); ``--help-all`` shows every
flag. The path marks tell shtab where to offer file or directory names.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Final

import shtab

from getui_async.runner import EXIT_OK, EXIT_SOME_FAILED, EXIT_STOPPED, EXIT_USAGE, PROG

__all__ = ["DIRECTORY_FLAGS", "PATH_FLAGS", "SEND_SHORT_HELP", "mark_paths", "shorten_send_help"]

#: Flags of ``send`` whose values are files (shtab completes file names there); DIRECTORY: directories.
PATH_FLAGS: Final[dict[str, frozenset[str]]] = {
    "send": frozenset({"input", "out", "message", "exclude", "ledger", "config", "summary_json"}),
    "check": frozenset({"input", "dead_cids", "message", "config"}),
    "report": frozenset({"results", "dead_cids", "retryable", "input", "html", "config"}),
}
DIRECTORY_FLAGS: Final[dict[str, frozenset[str]]] = {"demo": frozenset({"dir"})}


def mark_paths(parsers: Mapping[str, argparse.ArgumentParser]) -> None:
    """Tell shtab which arguments are paths, so every shell's completion offers file names there."""
    for marks, kind in ((PATH_FLAGS, shtab.FILE), (DIRECTORY_FLAGS, shtab.DIRECTORY)):
        for name, dests in marks.items():
            for action in parsers[name]._actions:
                if action.dest in dests:
                    action.complete = kind  # type: ignore[attr-defined]


#: The flags ``send --help`` shows, each with its help said in one line (None: as in ``--help-all``).
SEND_SHORT_HELP: Final[dict[str, str | None]] = {
    "help": None,
    "help_all": "every flag (pacing, vendors, input encodings, output), environment, config",
    "input": ".csv, .tsv, .jsonl (optionally .gz), .xlsx, or - for stdin",
    "out": None,
    "title": "notification title; may hold {field} placeholders",
    "body": "notification body; may hold {field} placeholders",
    "message": None,
    "mode": None,
    "rate": "requests per second (default: unlimited, adaptive)",
    "resume": None,
    "retry_failed": "with --resume: send again what an earlier run left retryable",
    "dry_run": None,
    "window": "start requests only inside this daily window (21:00-09:00)",
    "exclude": "never send to the recipients in FILE (ids, or results' dead cids)",
    "config": "settings file (default ./getui-push.toml)",
    "quiet": None,
}

SEND_SHORT_EPILOG: Final = f"""\
exit statuses: {EXIT_OK} done; {EXIT_SOME_FAILED} some records failed or were rejected;
  {EXIT_USAGE} nothing sent (bad flag, settings or input);
  {EXIT_STOPPED} stopped (Ctrl-C, quota): run the same command again with --resume

example:
  {PROG} send users.csv --out results.jsonl \\
    --title 'Hi {{name}}' --body 'Your {{city}} coupon'
"""
SEND_SHORT_USAGE: Final = f"""{PROG} send INPUT --out RESULTS [flags]
         (--title TEXT --body TEXT | --message FILE.json)"""


def shorten_send_help(send: argparse.ArgumentParser) -> None:
    """Hide the flags a first send does not need from ``send --help`` (they still parse)."""
    for action in send._actions:
        if action.dest not in SEND_SHORT_HELP:
            action.help = argparse.SUPPRESS
        else:
            action.help = SEND_SHORT_HELP[action.dest] or action.help
    send.epilog = SEND_SHORT_EPILOG
    send.usage = SEND_SHORT_USAGE
    send.description = "Push one message (with {field} placeholders) to every record of INPUT."
