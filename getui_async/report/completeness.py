"""Whether a campaign is complete: every input record has a line, no run stopped early, none is running.

A results file alone cannot say how many records were never sent (a stopped run leaves them without a
line). The input the sidecar names is found (beside the results file, else as named), checked to be
the same file by its whole-content sha256, and its records counted by :mod:`getui_async.sources`
(the reader the send used), so ``input_records`` and ``unsent`` are exact; they are None for stdin and
for a missing or changed input, and the report says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from getui_async.errors import InputError
from getui_async.feed import file_sha256
from getui_async.results.lock import lock_holder
from getui_async.results.sidecar import K_INPUT, K_RUNS, K_SHA256, stored_stream
from getui_async.sources import open_source

from .resend import read_options

__all__ = ["Completeness", "completeness"]

#: Records read per call while counting (the reader's own chunking).
_CHUNK: Final = 10_000


@dataclass(frozen=True, slots=True)
class Completeness:
    """The campaign's state as ``report`` tells it (the ``--json`` keys, and the text's first line)."""

    complete: bool
    #: The last run's stop reason (``signal``, ``quota``, ...), None when it ended on its own.
    stopped: str | None
    input_records: int | None
    unsent: int | None
    #: A run holds the results file's lock now: these figures are a snapshot.
    running: bool
    #: The PID of that run, when the lock file names it.
    running_pid: int | None
    #: Why ``input_records`` is unknown (empty when it is known).
    unknown_because: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "stopped": self.stopped,
            "input_records": self.input_records,
            "unsent": self.unsent,
            "running": self.running,
            "running_pid": self.running_pid,
            "input_records_unknown": self.unknown_because or None,
        }


def completeness(results: Path, meta: Mapping[str, Any], records_with_a_line: int) -> Completeness:
    """What ``report`` says about ``results`` being complete (reads and hashes the input once)."""
    held, pid = lock_holder(results)
    stopped = _last_stop(meta)
    counted, why = _input_records(results, meta)
    unsent = max(0, counted - records_with_a_line) if counted is not None else None
    if held:
        complete = False
    elif unsent is not None:
        complete = unsent == 0 and stopped is None
    else:  # stdin, or an input not at hand: the runs' own word (and a stream's proof it was read whole)
        streamed = stored_stream(meta)
        complete = stopped is None and _has_runs(meta) and (streamed.complete or not streamed.total)
    return Completeness(complete, stopped, counted, unsent, held, pid, why)


def _runs(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    runs = meta.get(K_RUNS)
    return [r for r in runs if isinstance(r, Mapping)] if isinstance(runs, list) else []


def _has_runs(meta: Mapping[str, Any]) -> bool:
    return bool(_runs(meta))


def _last_stop(meta: Mapping[str, Any]) -> str | None:
    runs = _runs(meta)
    reason = runs[-1].get("stopped") if runs else None
    return str(reason) if reason else None


def _input_records(results: Path, meta: Mapping[str, Any]) -> tuple[int | None, str]:
    """(records of the sidecar's input, "") or (None, why not)."""
    recorded = meta.get(K_INPUT)
    recorded = recorded if isinstance(recorded, Mapping) else {}
    name = recorded.get("name")
    if not isinstance(name, str) or not name:
        return None, "the sidecar names no input"
    if name.startswith("<"):
        return None, f"the input was {name}, which cannot be read again"
    found = [p for p in (results.parent / name, Path(name)) if p.is_file()]
    if not found:
        return None, f"the input {name} is not next to the results file or in the current directory"
    path = found[0]
    want = recorded.get(K_SHA256)
    if not isinstance(want, str) or not want:
        return None, f"the sidecar has no digest of {name} to check it against"
    if file_sha256(str(path)) != want:
        return None, f"{path} changed since the send read it"
    try:
        with open_source(path, options=read_options(meta)) as source:
            total = 0
            while chunk := source.read_chunk(_CHUNK):
                total += len(chunk)
    except InputError as exc:
        return None, f"{path} cannot be read: {exc}"
    return total, ""
