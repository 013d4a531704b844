"""What a recall did (or, with ``--dry-run``, would do), by channel: the summary text, its JSON and the
exit status.

Which channel a revoke reaches (docs/getui-api.md §2 rows 12-14, recall-and-receipts §1): Getui's own
channel (``successed_online``) by ``push_message.revoke``; of the vendors (``successed_offline``) only
Xiaomi and vivo, by ``push_channel.android.ups.revoke``; Huawei, Honor, OPPO and iOS only by an override
with the original's notify_id / apns-collapse-id. The send's status does not say which vendor took a
push, so offline and ``accepted`` recipients are counted as "maybe unreachable" unless overridden.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from getui_async.outcome import RecallChannel, RecallStatus, StopReason
from getui_async.runner import EXIT_OK, EXIT_SOME_FAILED

from .source import Census

__all__ = ["RecallSummary"]

#: Channels where a revoke may not act: only an override replaces the notification there.
_MAYBE_UNREACHABLE: Final = (RecallChannel.VENDOR, RecallChannel.UNKNOWN)
_REACH: Final = {
    RecallChannel.GETUI: "Getui's channel: revoke deletes it",
    RecallChannel.VENDOR: "vendor channel: revoke on Xiaomi, vivo; Huawei, Honor, OPPO, iOS: override only",
    RecallChannel.INACTIVE: "inactive 90 days: Getui did not send it",
    RecallChannel.UNKNOWN: "accepted without a per-recipient status: any channel",
}


@dataclass(slots=True)
class RecallSummary:
    """Counts of one recall run (and what earlier runs of a resumed recall already did)."""

    campaign_id: str
    out: str
    census: Census
    override: bool
    dry_run: bool = False
    #: Recipients earlier runs of this recall already acted on (``--resume``).
    already: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    by_channel: dict[RecallChannel, Counter[str]] = field(
        default_factory=lambda: {channel: Counter() for channel in RecallChannel}
    )
    stopped: StopReason | None = None
    detail: str = ""

    def count(self, channel: RecallChannel, status: RecallStatus) -> None:
        self.by_channel[channel][status.value] += 1

    @property
    def failed(self) -> int:
        return (
            sum(c[RecallStatus.FAILED.value] for c in self.by_channel.values())
            + self.tasks[RecallStatus.FAILED.value]
        )

    @property
    def exit_code(self) -> int:
        """As ``send``'s: 3 stopped early, 1 something failed, else 0."""
        if self.stopped is not None:
            return self.stopped.exit_code
        return EXIT_SOME_FAILED if self.failed else EXIT_OK

    def _unreachable(self) -> dict[str, int]:
        """Recipients a revoke may not have reached and no override replaced, by channel."""
        found: dict[str, int] = {}
        for channel in _MAYBE_UNREACHABLE:
            counts = self.by_channel[channel]
            left = counts[RecallStatus.REVOKED.value] + counts[RecallStatus.SKIPPED.value]
            if left:
                found[channel.value] = left
        return found

    def to_dict(self) -> dict[str, Any]:
        channels = {
            channel.value: {"delivered": self.census.delivered[channel], **self.by_channel[channel]}
            for channel in RecallChannel
            if self.census.delivered[channel]
        }
        return {
            "campaign_id": self.campaign_id,
            "recall": self.out,
            "dry_run": self.dry_run,
            "override": self.override,
            "list_tasks": {"named": len(self.census.list_tasks), **self.tasks},
            "by_channel": channels,
            "maybe_unreachable": self._unreachable(),
            "already_done": self.already,
            "left_alone_not_delivered": self.census.left_alone,
            "stopped": self.stopped.value if self.stopped else None,
            "exit": self.exit_code,
        }

    def text(self) -> str:
        """The summary as a person reads it."""
        lines = [f"recall of campaign {self.campaign_id} ({'dry run' if self.dry_run else self.out}):"]
        verb = "to be " if self.dry_run else ""
        task_counts = ", ".join(f"{n} {verb}{word}" for word, n in sorted(self.tasks.items()))
        lines.append(
            f"  list tasks: {len(self.census.list_tasks)} named"
            + (f" ({task_counts})" if task_counts else "")
        )
        for channel in RecallChannel:
            delivered = self.census.delivered[channel]
            if not delivered:
                continue
            done = ", ".join(f"{n} {verb}{word}" for word, n in sorted(self.by_channel[channel].items()))
            lines.append(
                f"  {channel.value}: {delivered} delivered; {done or 'nothing this run'} ({_REACH[channel]})"
            )
        unreachable = self._unreachable()
        if unreachable:
            total = sum(unreachable.values())
            hint = "" if self.override else "; --replace-title/--replace-body override them"
            lines.append(
                f"  maybe not reached: {total} (Huawei, Honor, OPPO or iOS devices among "
                f"{', '.join(unreachable)}: revoke cannot act there{hint})"
            )
        if self.already:
            lines.append(f"  already done by an earlier run: {self.already}")
        lines.append(f"  never delivered, left alone: {self.census.left_alone}")
        if self.stopped is not None:
            lines.append(
                f"  stopped ({self.stopped.value}): {self.detail}; run the same command with --resume "
                "to go on (nothing done is done again)"
            )
        return "\n".join(lines)
