"""Small frozen event objects and the observer protocol.

The client and engine never print: they emit events, and whoever cares (the CLI's progress bar, a
metrics exporter, a test) subscribes. An observer is any callable taking one event; it runs inline on
the event loop, so it must be quick and must not raise (exceptions are logged and dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

from .outcome import StopReason

__all__ = [
    "BatchSent",
    "CampaignStopping",
    "Event",
    "HostSwitched",
    "Observer",
    "Observers",
    "RecordDone",
    "RequestStarted",
    "RetryScheduled",
    "Throttled",
    "TokenRefreshed",
    "WaitEnded",
    "WaitStarted",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordDone:
    """Input records reached their final status: ``count`` result lines of ``status`` (one reply's lines
    with the same status come as one event; ``line`` is the last one's input line).

    ``prior`` is the number of lines an earlier run already wrote (on ``--resume``), so a progress bar
    can count the whole campaign.
    """

    status: str
    line: int
    prior: int = 0
    count: int = 1


@dataclass(frozen=True, slots=True)
class RequestStarted:
    """One attempt of a request went out; it is in flight until its :class:`BatchSent`."""

    endpoint: str


@dataclass(frozen=True, slots=True)
class BatchSent:
    """One HTTP request to a push endpoint completed (successfully or not).

    ``code`` says how, for a metric's label: Getui's code (``"0"``: taken), ``"http_502"`` for an HTTP
    failure without one, ``"transport"`` when no reply came, ``"error"`` when the attempt ended otherwise.
    """

    endpoint: str
    recipients: int
    latency_s: float
    ok: bool
    code: str = "0"


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A request failed transiently and will be tried again after ``wait_s``."""

    endpoint: str
    attempt: int
    error: str
    wait_s: float


@dataclass(frozen=True, slots=True)
class TokenRefreshed:
    """A new token was fetched (``generation`` counts them from 1)."""

    generation: int
    proactive: bool


@dataclass(frozen=True, slots=True)
class Throttled:
    """Getui said a per-minute limit was hit: everyone pauses ``pause_s``, then runs at ``rate_per_s``."""

    code: int | None
    pause_s: float
    rate_per_s: float | None


@dataclass(frozen=True, slots=True)
class HostSwitched:
    """A ``301`` reply moved the client to another base URL."""

    base_url: str


@dataclass(frozen=True, slots=True)
class CampaignStopping:
    """The campaign stops taking new work, and why."""

    reason: StopReason
    detail: str


WaitReason: TypeAlias = Literal["window", "quota"]
WaitOutcome: TypeAlias = Literal["resumed", "stopped"]


@dataclass(frozen=True, slots=True)
class WaitStarted:
    """Every request holds until ``until`` (UTC); ``text`` is what the progress line and the log say."""

    reason: WaitReason
    until: datetime
    wait_s: float
    text: str

    @property
    def waiting(self) -> str:
        """What the progress line shows while this wait lasts."""
        return self.text


@dataclass(frozen=True, slots=True)
class WaitEnded:
    """A wait is over: ``resumed`` (sending goes on) or ``stopped`` (a stop signal ended it)."""

    reason: WaitReason
    until: datetime
    waited_s: float
    outcome: WaitOutcome

    @property
    def waiting(self) -> None:
        """The wait is over: the progress line stops showing it."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The summary JSON's entry for this wait."""
        return {
            "reason": self.reason,
            "until": self.until.isoformat().replace("+00:00", "Z"),
            "waited_s": round(self.waited_s, 3),
            "outcome": self.outcome,
        }


Event: TypeAlias = (
    RecordDone
    | RequestStarted
    | BatchSent
    | RetryScheduled
    | TokenRefreshed
    | Throttled
    | HostSwitched
    | CampaignStopping
    | WaitStarted
    | WaitEnded
)
Observer: TypeAlias = Callable[[Any], None]


class Observers:
    """Fan-out to any number of observers; a failing observer is logged, never fatal.

    :attr:`records` says whether any observer wants a :class:`RecordDone` per result line (the one event
    on the per-recipient path): an observer that does not sets ``wants_records = False``.
    """

    __slots__ = ("_observers", "records")

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._observers = tuple(observers)
        self.records = any(getattr(o, "wants_records", True) for o in self._observers)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def add(self, observer: Observer) -> None:
        self._observers = (*self._observers, observer)
        self.records = self.records or getattr(observer, "wants_records", True)

    def emit(self, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:  # one observer's bug must not stop the others
                log.exception("observer %r failed on %s", observer, type(event).__name__)
