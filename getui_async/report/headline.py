"""The report's first line (complete, stopped, running) and its next step, shared by the text and the HTML.

A stopped campaign must not read as a finished one: the headline says so before any figure, with the
number of records still without a line and the command that sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from getui_async.summary import send_command

__all__ = ["headline", "next_steps", "resend_command"]


def resend_command(data: Mapping[str, Any], *flags: str) -> str:
    """The campaign's own send command (its input and results file) with ``flags`` added."""
    name = data.get("input_name")
    results = str(data["results"])
    if isinstance(name, str) and not name.startswith("<"):
        beside = Path(results).parent / name  # where report found it (the sidecar keeps the basename)
        name = str(beside) if beside.is_file() else name
    return send_command(name if isinstance(name, str) else None, results, *flags)


def headline(data: Mapping[str, Any]) -> str | None:
    """``STOPPED (signal) — 56,800 of 60,000 records not sent yet: ...``; None without the keys."""
    if "complete" not in data:
        return None
    total, unsent = data.get("input_records"), data.get("unsent")
    if data.get("running"):
        pid = data.get("running_pid")
        who = f"a send (process {pid})" if pid else "a send"
        return f"RUNNING — {who} is writing this file now: these figures are a snapshot"
    if data["complete"]:
        of = f" every one of {total:,} records has a line" if isinstance(total, int) else " every run ended"
        retryable = int(data.get("retryable", 0) or 0)
        also = f" ({retryable:,} failed for a cause that may pass: see next)" if retryable else ""
        return f"COMPLETE —{of}{also}"
    stopped = data.get("stopped")
    state = f"STOPPED ({stopped})" if stopped else "INCOMPLETE"
    if isinstance(total, int) and isinstance(unsent, int):
        missing = f"{unsent:,} of {total:,} records not sent yet"
    else:
        missing = "some records may not be sent yet"
    return f"{state} — {missing}: run the same send command with --resume"


def next_steps(data: Mapping[str, Any]) -> list[str]:
    """The commands that finish the campaign: ``--resume`` for records without a line, and
    ``--resume --retry-failed`` for records whose failure may pass."""
    steps = []
    if data.get("complete") is False and not data.get("running"):
        steps.append(f"to send the rest:        {resend_command(data, '--resume')}")
    retryable = int(data.get("retryable", 0) or 0)
    if retryable and not data.get("running"):
        steps.append(
            f"to retry the {retryable:,} retryable: {resend_command(data, '--resume', '--retry-failed')}"
        )
    return steps
