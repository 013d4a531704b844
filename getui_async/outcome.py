"""The words of an outcome, spelled once: result statuses and their sets, recipient kinds, stop reasons.

Every other module imports these names; outside the bundled mock (an independent oracle) no module
spells a status, a kind or a stop reason as a bare string. A stop reason carries its priority and exit
status here, so which of two stops wins is decided in one place (:meth:`StopReason.wins_over`).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

from .errors import Action

__all__ = [
    "DELIVERED_STATUSES",
    "DELIVERY_STATUSES",
    "FINAL_STATUSES",
    "NOT_SENT_STATUSES",
    "RECALL_CHANNEL_OF",
    "RETRYABLE_ACTIONS",
    "FailedKind",
    "Kind",
    "RecallChannel",
    "RecallStatus",
    "Status",
    "StopReason",
]

#: Who a record addresses: a Getui client id or an alias (also the result line's key for it).
Kind: TypeAlias = Literal["cid", "alias"]


class Status(str, enum.Enum):
    """Every status a result line can carry (the CLI contract): the one place they are spelled."""

    SUCCESSED_ONLINE = "successed_online"
    SUCCESSED_OFFLINE = "successed_offline"
    SUCCESSED_IGNORE = "successed_ignore"
    ACCEPTED = "accepted"  # Getui took it without per-recipient status
    FAILED = "failed"  # a terminal API error
    REJECTED = "rejected"  # a bad record, never sent
    DUPLICATE = "duplicate"  # the same recipient earlier in the input
    VALIDATED = "validated"  # dry run
    EXCLUDED = "excluded"  # on an exclusion list
    CAPPED = "capped"  # over --max-per-day
    HELD_OUT = "held_out"  # in an experiment's holdout group (--holdout): never sent, by design

    def __str__(self) -> str:
        return self.value


#: Every status value a result line can carry.
FINAL_STATUSES: Final = frozenset(s.value for s in Status)
#: Getui's own per-recipient delivery statuses, best first.
DELIVERY_STATUSES: Final = (Status.SUCCESSED_ONLINE, Status.SUCCESSED_OFFLINE, Status.SUCCESSED_IGNORE)
#: Statuses that mean Getui took the push for the recipient (what a frequency cap and a recall count).
DELIVERED_STATUSES: Final = frozenset({*DELIVERY_STATUSES, Status.ACCEPTED})
#: Statuses of records that were decided without a request (never sent, never charged against a cap).
NOT_SENT_STATUSES: Final = frozenset(
    {
        Status.REJECTED,
        Status.DUPLICATE,
        Status.VALIDATED,
        Status.EXCLUDED,
        Status.CAPPED,
        Status.HELD_OUT,
    }
)
#: Error actions after which the same request may pass later (``retryable: true`` on a failed line,
#: and what the retry policy retries within a run).
RETRYABLE_ACTIONS: Final = frozenset(
    {Action.RETRY, Action.WAIT_WINDOW, Action.REFRESH_TOKEN, Action.SWITCH_HOST}
)


class FailedKind(str, enum.Enum):
    """What a ``failed`` line means for sending it again (the report's groups and --retry-failed)."""

    DEAD = "dead"  # Getui says the target is invalid: never send again
    RETRYABLE = "retryable"  # a cause that may pass later
    FINAL = "final"  # another reason that re-sending will not change


class StopReason(str, enum.Enum):
    """Why a run ended early (the summary's ``stopped``), with which stop wins and the exit status.

    A run keeps the first reason it was given, unless a later one has a higher :attr:`priority`: a
    resumed stream that is not the earlier input (exit 2) outranks everything, a results-file write
    error outranks the ordinary stops, whose first one stands.
    """

    SIGNAL = "signal"  # SIGINT/SIGTERM, or the library's request_stop()
    QUOTA = "quota"  # Getui's daily quota is spent (or a quota wait passed --deadline)
    WINDOW = "window"  # outside --window with no wait allowed
    DEADLINE = "deadline"  # --deadline passed while waiting
    FATAL = "fatal"  # an error no record can get past (bad credentials, an internal error)
    INPUT = "input"  # the input could not be read on
    WRITE_ERROR = "write_error"  # the results file could not be written
    INPUT_CHANGED = "input_changed"  # a resumed stream is not the input the earlier run read
    CANARY = "canary"  # --canary N: the first N recipients went; the rest waits for --resume
    HALTED = "halted"  # the breaker: the probe found mostly dead cids, or Getui refused the app
    LEDGER_ERROR = "ledger_error"  # the ledger could not be read or written (claims, settlements)

    def __str__(self) -> str:
        return self.value

    @property
    def priority(self) -> int:
        """Higher wins over a stop already recorded; equal keeps the first."""
        return _PRIORITY.get(self, 0)

    def wins_over(self, current: StopReason | None) -> bool:
        """True when this reason should replace ``current`` (None: no stop yet)."""
        return current is None or self.priority > current.priority

    @property
    def exit_code(self) -> int:
        """The CLI's exit status for a run stopped for this reason (2: the input is not the run's)."""
        return 2 if self is StopReason.INPUT_CHANGED else 3


_PRIORITY: Final[dict[StopReason, int]] = {
    StopReason.WRITE_ERROR: 1,
    StopReason.LEDGER_ERROR: 1,
    StopReason.INPUT_CHANGED: 2,
}


class RecallStatus(str, enum.Enum):
    """What ``getui-push recall`` did about one delivered recipient or one list task (its own lines)."""

    REVOKED = "revoked"  # the revoke push was taken (it deletes the notification where the channel can)
    OVERRIDDEN = "overridden"  # the replacement notification (same notify_id / collapse id) was taken
    STOPPED = "stopped"  # a list task: DELETE /task answered 0 (its queued and offline copies halt)
    FAILED = "failed"  # Getui refused, or gave no answer (the line's code and msg say which)
    SKIPPED = "skipped"  # nothing could be done (no taskid on its line and no override asked)

    def __str__(self) -> str:
        return self.value


class RecallChannel(str, enum.Enum):
    """Which channel the send's status says took a recipient's push: what a revoke can reach there."""

    GETUI = "getui"  # successed_online: Getui's own channel, revoked by push_message.revoke
    VENDOR = "vendor"  # successed_offline: Xiaomi/vivo revoke; Huawei, Honor, OPPO, iOS only override
    INACTIVE = "inactive"  # successed_ignore: inactive for 90 days, Getui did not send it
    UNKNOWN = "unknown"  # accepted: taken without a per-recipient status

    def __str__(self) -> str:
        return self.value


#: The channel each delivered status names.
RECALL_CHANNEL_OF: Final = {
    Status.SUCCESSED_ONLINE: RecallChannel.GETUI,
    Status.SUCCESSED_OFFLINE: RecallChannel.VENDOR,
    Status.SUCCESSED_IGNORE: RecallChannel.INACTIVE,
    Status.ACCEPTED: RecallChannel.UNKNOWN,
}
