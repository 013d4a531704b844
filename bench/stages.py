"""Where a profile sample's CPU went: one table of rules that maps a stack to a stage of a send.

A sample's stack is read from its innermost frame outwards; the first frame that a rule matches names
the stage. A rule matches a frame by the start of its file path (as py-spy prints it:
``getui_async/settle.py``, ``aiohttp/client.py``, ``asyncio/events.py``), optionally by its function
and optionally by the text of the source line it was executing (how ``os.write`` and ``os.fsync``,
which are C and have no frame of their own, are told apart inside one function). Modules with no rule
(``getui_async/_json.py``, the stdlib's ``json``) are transparent: their caller decides. A stack no rule
matches is "startup/other". Rules are tried in order, so the narrow ones come first. A thread blocked
in a wait is "idle", which is not a stage: its samples are no CPU and are left out.
"""

from __future__ import annotations

import linecache
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

STAGES = (
    "read",
    "parse",
    "render",
    "ids",
    "dedupe",
    "plan",
    "encode",
    "send",
    "reply parse",
    "result line",
    "write",
    "fsync",
    "events/progress",
    "startup/other",
)
OTHER = "startup/other"
#: Not a stage: a thread blocked in a wait that py-spy still counted as active; left out of the totals.
IDLE = "idle"


@dataclass(frozen=True)
class Rule:
    stage: str
    path: str
    function: str | None = None
    line_contains: str | None = None


_P = "getui_async/"
SEND_ENGINE = (
    "sender.py", "sending.py", "dispatcher.py", "retry.py", "throttle", "leaky_bucket.py", "limits.py",
    "client.py", "transport.py", "auth.py", "list_task.py", "split.py", "campaign.py", "engine.py",
    "stopping.py", "window.py", "schedule.py",
)  # fmt: skip
SEND_LIBRARIES = (
    "aiohttp/", "yarl/", "multidict/", "aiosignal/", "tenacity/", "uvloop/", "asyncio/", "selectors.py",
    "ssl.py", "socket.py",
)  # fmt: skip
RULES: tuple[Rule, ...] = (
    # Threads waiting (the reader when the engine is behind, an executor with nothing to do).
    Rule(IDLE, "threading.py", "Condition.wait"),
    Rule(IDLE, "threading.py", "Event.wait"),
    Rule(IDLE, "concurrent/futures/thread.py", "_worker", "work_queue.get("),
    # C calls with no frame of their own, told apart by the source line that makes them.
    Rule("fsync", "", line_contains="os.fsync("),
    Rule("write", _P + "results/", line_contains="os.write("),
    Rule("write", _P + "results/writer.py", "ResultsWriter.flush"),
    # The input: file bytes and the reader thread's hand-off, then records.
    Rule("read", _P + "feed.py"),
    Rule("read", _P + "sources/fd_reader.py"),
    Rule("read", _P + "sources/opening.py"),
    Rule("read", _P + "sources/_bounded_zip.py"),
    Rule("read", "gzip.py"),
    Rule("read", "_compression.py"),
    Rule("read", "queue.py"),
    Rule("parse", _P + "sources/"),
    # Per-recipient content and ids.
    Rule("ids", _P + "messages/wire.py", "recipient_ids"),
    Rule("ids", _P + "messages/wire.py", "ids_for.<locals>.ids"),
    Rule("ids", _P + "messages/wire.py", "_rid_hasher"),
    Rule("encode", _P + "messages/wire.py"),
    Rule("encode", _P + "client.py", line_contains="_body("),  # the client's lines that build bodies
    Rule("render", _P + "messages/"),
    Rule("dedupe", _P + "dedupe.py"),
    Rule("plan", _P + "planner.py"),
    Rule("plan", _P + "intake.py"),
    Rule("plan", _P + "screening.py"),
    Rule("plan", _P + "exclusions.py"),
    Rule("plan", _P + "variants.py"),
    Rule("plan", _P + "shard.py"),
    Rule("plan", _P + "pacing.py"),
    Rule("plan", _P + "ledger"),  # ledger/ and ledger_recording.py: claims are part of planning a chunk
    # Replies, outcomes and the results file.
    Rule("reply parse", _P + "replies.py"),
    Rule("result line", _P + "results/"),
    Rule("result line", _P + "settle.py"),
    Rule("events/progress", _P + "events.py"),
    Rule("events/progress", _P + "progress.py"),
    Rule("events/progress", _P + "metrics.py"),
    Rule("events/progress", "prometheus_client/"),
    # The request path: the engine's workers down to the socket, and the event loop itself.
    *(Rule("send", _P + name) for name in SEND_ENGINE),
    *(Rule("send", name) for name in SEND_LIBRARIES),
    Rule(OTHER, _P + "cli/"),
    Rule(OTHER, _P + "config/"),
    Rule(OTHER, "<frozen importlib"),
    Rule(OTHER, "importlib/"),
)

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*):(?P<line>\d+)\)$")


@dataclass(frozen=True)
class Frame:
    function: str
    path: str
    line: int

    @property
    def name(self) -> str:
        return f"{self.function} ({self.path})"


def parse_frame(text: str) -> Frame | None:
    """``Settler.line (getui_async/settle.py:82)`` as a Frame; None for thread and process roots."""
    found = _FRAME.match(text.strip())
    if found is None or text.startswith(("thread (", "process ")):
        return None
    return Frame(found["function"], found["path"], int(found["line"]))


def parse_raw(lines: Iterable[str]) -> list[tuple[list[Frame], int]]:
    """py-spy's ``--format raw`` (collapsed stacks, root first, a count last) as (frames, samples)."""
    stacks = []
    for raw in lines:
        stack, _, count = raw.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in (parse_frame(part) for part in stack.split(";")) if f is not None]
        stacks.append((frames, int(count)))
    return stacks


def source_line(path: str) -> Callable[[int], str]:
    """The text of a line of ``path`` (relative to a ``sys.path`` entry or absolute); "" when not found."""
    candidates = (
        [Path(path)] if Path(path).is_absolute() else [Path(root) / path for root in sys.path if root]
    )
    for candidate in candidates:
        if candidate.is_file():
            name = str(candidate)
            return lambda line: linecache.getline(name, line)
    return lambda line: ""


class Classifier:
    """Stage of a stack by the rules above; source lines are looked up once per file."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        self.rules = rules
        self._lines: dict[str, Callable[[int], str]] = {}

    def _matches(self, rule: Rule, frame: Frame) -> bool:
        if not frame.path.startswith(rule.path) and f"/{rule.path}" not in frame.path:
            return False
        if rule.function is not None and frame.function != rule.function:
            return False
        if rule.line_contains is not None:
            lookup = self._lines.get(frame.path)
            if lookup is None:
                lookup = self._lines[frame.path] = source_line(frame.path)
            return rule.line_contains in lookup(frame.line)
        return True

    def stage(self, frames: list[Frame]) -> str:
        for frame in reversed(frames):
            for rule in self.rules:
                if self._matches(rule, frame):
                    return rule.stage
        return OTHER
