"""A run's summary: what it did, why it stopped, and its exit status (the CLI contract)."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .messages import VendorWarning
from .outcome import Status, StopReason
from .results.sidecar import K_CANARY
from .schedule import Schedule

__all__ = ["Summary", "message_words", "send_command"]


@dataclass
class Summary:
    """What a run did; ``exit_code`` is the CLI contract's (0 ok, 1 some failed/rejected, else the stop's).

    ``stopped`` names why a run ended early (a :class:`~getui_async.outcome.StopReason`; a plain string
    is converted); its exit status is :attr:`StopReason.exit_code`.
    """

    campaign_id: str
    results_path: str | None
    counts: Counter[str] = field(default_factory=Counter)
    previous: Counter[str] = field(default_factory=Counter)
    records: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    requests: int = 0
    retries: int = 0
    token_refreshes: int = 0
    throttle_pauses: int = 0
    #: Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``).
    already_taken: int = 0
    stopped: StopReason | None = None
    stop_detail: str = ""
    dry_run: bool = False
    #: Result lines earlier runs wrote (on ``--resume``): the whole campaign is ``resume_prior + done``.
    resume_prior: int = 0
    #: Bytes of a torn last line (a killed write) cut from the results file before resuming.
    repaired_bytes: int = 0
    #: ``--retry-failed``: records whose last line was retryable were sent again.
    retry_failed: bool = False
    #: Earlier outcomes (by status) this run's lines superseded: ``--retry-failed`` re-sends.
    superseded: Counter[str] = field(default_factory=Counter)
    #: Superseded lines removed from the results file at the end (one line per record again).
    compacted_lines: int = 0
    #: Every run of this results file so far, this one last (from the sidecar; empty without ``out``).
    runs: list[dict[str, Any]] = field(default_factory=list)
    #: A send to test devices (``CampaignSettings.test``).
    test: bool = False
    #: Known silent-drop risks of this message (:func:`~getui_async.messages.vendor_warnings`).
    warnings: list[VendorWarning] = field(default_factory=list)
    #: ``--canary N``: this run sends at most N recipients, then stops (``stopped: canary``).
    canary: int | None = None

    def __post_init__(self) -> None:
        if self.stopped is not None:
            self.stopped = StopReason(self.stopped)

    @property
    def campaign_counts(self) -> Counter[str]:
        """The final outcome of every record of the campaign so far: earlier runs and this one."""
        total = self.previous + self.counts
        total.subtract(self.superseded)
        return +total

    #: Every wait for the send window or the daily quota (``WaitEnded.to_dict()``), in order.
    waits: list[dict[str, Any]] = field(default_factory=list)
    #: Records of the campaign whose last line is retryable (``--retry-failed`` sends them again); None
    #: when not counted (the CLI counts them when any record failed).
    retryable: int | None = None
    #: The message's own words (``title``, ``body``), recorded with each run for ``report``.
    message: dict[str, str] = field(default_factory=dict)
    #: The input as the user named it (``-`` for stdin), for the next command the summary names.
    input_name: str | None = None
    #: The run's time rules (``--tz``, ``--quota-reset``): a quota stop says when the quota resets.
    schedule: Schedule | None = field(default=None, repr=False)

    @property
    def done(self) -> int:
        """Result lines written by this run."""
        return sum(self.counts.values())

    @property
    def records_handled(self) -> int:
        """Records this run settled (a line, or skipped as done before): after a stop, the records the
        reader handed on, not those it read ahead into the queue (they are sent on ``--resume``)."""
        if self.stopped is None:
            return self.records
        return min(self.records, self.done + self.skipped)

    @property
    def recipients_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped is not None:
            return self.stopped.exit_code
        total = self.campaign_counts
        return 1 if total[Status.FAILED] or total[Status.REJECTED] else 0

    def run_record(self, *, started: str, ended: str, resume: bool) -> dict[str, Any]:
        """This run's entry in the sidecar's ``runs`` (for ``report`` and the next summary)."""
        return {
            "started": started,
            "ended": ended,
            "exit": self.exit_code,
            "stopped": self.stopped,
            "resume": resume,
            "retry_failed": self.retry_failed,
            "counts": dict(self.counts),
            "superseded": dict(self.superseded),
            "requests": self.requests,
            "retries": self.retries,
            "tz": self.schedule.tz.key if self.schedule is not None else None,
            **self.message,
        } | ({K_CANARY: self.canary} if self.canary is not None else {})

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "results": self.results_path,
            "counts": dict(self.counts),
            "previous_counts": dict(self.previous),
            "records": self.records,
            "records_handled": self.records_handled,
            "skipped_already_done": self.skipped,
            "lines_written": self.done,
            "resume_prior": self.resume_prior,
            "repaired_bytes": self.repaired_bytes,
            "elapsed_s": round(self.elapsed_s, 3),
            "recipients_per_s": round(self.recipients_per_s, 1),
            "requests": self.requests,
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "throttle_pauses": self.throttle_pauses,
            "already_taken": self.already_taken,
            "stopped": self.stopped,
            "stop_detail": self.stop_detail,
            "dry_run": self.dry_run,
            "test": self.test,
            K_CANARY: self.canary,
            "warnings": [dict(w) for w in self.warnings],
            "retry_failed": self.retry_failed,
            "superseded_counts": dict(self.superseded),
            "compacted_lines": self.compacted_lines,
            "campaign_by_status": dict(sorted(self.campaign_counts.items())),
            "campaign_records": sum(self.campaign_counts.values()),
            "runs": self.runs,
            "waits": self.waits,
            "retryable": self.retryable,
            "exit_code": self.exit_code,
        }


def send_command(input_name: str | None, results: str | None, *flags: str) -> str:
    """``getui-push send INPUT --out RESULTS ... FLAGS``: the user's own send (``...`` stands for its
    message flags, which a resume needs unchanged) with ``flags`` added, as shell words."""
    source = input_name if input_name and not input_name.startswith("<") else "-" if input_name else "INPUT"
    words = ["getui-push", "send", source, "--out", results or "RESULTS"]
    return " ".join([*map(shlex.quote, words), "...", *flags])


def message_words(tree: Mapping[str, Any]) -> dict[str, str]:
    """The notification's ``title`` and ``body`` of a message template's tree (placeholders as typed)."""
    message = tree.get("push_message")
    note = message.get("notification") if isinstance(message, Mapping) else None
    if not isinstance(note, Mapping):
        return {}
    return {key: note[key] for key in ("title", "body") if isinstance(note.get(key), str)}
