"""Stand-ins for what the engine's parts talk to: the results log and the run's stop control."""

from __future__ import annotations

from typing import Any

from getui_async.events import Observers
from getui_async.outcome import Status, StopReason
from getui_async.results import ResultsLog


class Lines(ResultsLog):
    """The results log without a file, keeping each line's fields; ``add`` takes keywords only, as the
    log's contract says (``add_for`` is the log's own)."""

    def __init__(self) -> None:
        super().__init__(None, Observers(), lambda: "ts")
        self.lines: list[dict[str, Any]] = []
        self.commits = 0

    def add(self, **fields: Any) -> None:  # type: ignore[override]
        self.lines.append(fields)

    def commit(self, *, fsync: bool = False) -> None:
        self.commits += 1

    def statuses(self) -> list[tuple[int, Status]]:
        return [(line["record"], line["status"]) for line in self.lines]


class Control:
    """The run as intake sees it: a stop switch that records what it was asked."""

    def __init__(self) -> None:
        self.stops: list[tuple[StopReason, str]] = []

    @property
    def stopping(self) -> bool:
        return bool(self.stops)

    def request_stop(self, reason: StopReason, detail: str = "") -> None:
        self.stops.append((reason, detail))
