"""The end-of-run summary the CLI prints: what the run did, why it stopped, and what to do next.

Its words come from :class:`~getui_async.summary.Summary` alone; the live line is
:mod:`~getui_async.progress`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import IO, Any, Final

from .engine import Summary
from .localtime import local_text, zone_of
from .outcome import Status, StopReason
from .progress import SHORT_WORDS, plural, status_line
from .safetext import printable
from .schedule import Schedule, format_clock, format_duration
from .summary import send_command
from .wrapping import terminal_width, wrap_text

__all__ = [
    "campaign_lines",
    "counts_text",
    "explain_lines",
    "format_summary",
    "next_step_lines",
    "quota_stop_text",
    "summary_line",
]


#: What to do after a stop, where "--resume sends the rest" is not the whole story.
_AFTER_STOP: Final[dict[StopReason, str]] = {
    StopReason.INPUT: "  the input cannot be read past that point: the records after it were not sent",
    StopReason.WRITE_ERROR: "  after freeing space, the same command with --resume sends the records "
    "without a line",
    StopReason.LEDGER_ERROR: "  once the ledger is writable again, --resume sends the records without a line",
    StopReason.INPUT_CHANGED: "  nothing more was sent: resume with the input the earlier run read, or "
    "another --out",
    StopReason.CANARY: "  the counts above are the canary's; once the seed devices look right, the same "
    "command with --resume sends the rest, each record once",
    StopReason.HALTED: "  nothing after the probe was sent: fix the app or the input, or go on anyway "
    "with the same command and --resume --halt-dead-ratio 0",
}


def _what(summary: Summary) -> str:
    """``campaign ID`` or ``dry run ID``, marked ``(test send)`` for ``--test``."""
    what = "dry run" if summary.dry_run else "campaign"
    return f"{what} {summary.campaign_id}" + (" (test send)" if summary.test else "")


def summary_line(summary: Summary) -> str:
    """The whole run in one line (what ``--quiet`` prints)."""
    what = _what(summary)
    state = f"STOPPED ({summary.stopped})" if summary.stopped else "finished"
    counts = status_line(summary.campaign_counts) or "nothing to do"
    return (
        f"getui-push: {what} {state}: {plural(summary.done, 'result line')}; "
        f"{counts}; exit {summary.exit_code}"
    )


def counts_text(counts: Counter[str]) -> str:
    """``successed_online 120 · failed 3`` (every status with a count, in the contract's order)."""
    order = {status.value: i for i, status in enumerate(Status)}
    ranked = sorted((s for s in counts if counts[s] > 0), key=lambda s: (order.get(s, len(order)), s))
    return " · ".join(f"{status} {counts[status]:,}" for status in ranked) or "nothing"


def campaign_lines(summary: Summary) -> list[str]:
    """After a resume, the whole campaign: this run, the earlier ones, the total (each labelled)."""
    earlier_runs = max(len(summary.runs) - 1, 0)
    if not summary.resume_prior and earlier_runs == 0:
        return []
    runs = f" ({plural(earlier_runs, 'run')})" if earlier_runs else ""
    this_run = counts_text(summary.counts)
    resent = sum(summary.superseded.values())
    if resent:
        this_run += f" ({plural(resent, 'earlier failure')} sent again)"
    total = summary.campaign_counts
    return [
        f"  this run:       {this_run}",
        f"  earlier runs:   {counts_text(summary.previous)}{runs}",
        f"  campaign total: {plural(sum(total.values()), 'record')}: {counts_text(total)}",
    ]


def explain_lines(summary: Summary) -> list[str]:
    """One line for each outcome people misread, where it occurs."""
    lines = []
    ignored = summary.campaign_counts[Status.SUCCESSED_IGNORE.value]
    if ignored:
        lines.append(
            f"  note: successed_ignore ({ignored:,}): Getui did not push: device inactive for 90 days"
        )
    if summary.already_taken:
        lines.append(
            f"  note: already taken ({summary.already_taken:,}): Getui already had these request_ids (a lost "
            f"reply, or an earlier run of campaign {summary.campaign_id}); a new --campaign sends anew"
        )
    return lines


def quota_stop_text(now: datetime | None = None, schedule: Schedule | None = None) -> str:
    """When a run stopped by Getui's daily quota can go on: its reset (00:00 China time unless the run's
    ``schedule`` says otherwise)."""
    schedule = schedule or Schedule.from_flags()
    moment = now or datetime.now(timezone.utc)
    left = (schedule.next_quota_reset(moment) - moment).total_seconds()
    return (
        f"daily quota reached; it resets at {format_clock(schedule.quota_reset)} {schedule.tz.key}, "
        f"in {format_duration(left)}: run the same command with --resume then (or use --wait-quota)"
    )


def format_summary(summary: Summary, *, out: IO[str] | None = None) -> str:
    """The end-of-run report (what the CLI prints to stderr)."""
    what = _what(summary)
    lines = []
    if summary.stopped:
        lines.append(f"getui-push: {what} STOPPED ({summary.stopped}): {summary.stop_detail}")
    else:
        lines.append(f"getui-push: {what} finished")
    lines.append(
        f"  {plural(summary.done, 'result line')} in {summary.elapsed_s:.2f} s "
        f"({summary.recipients_per_s:,.0f} recipients/s); {plural(summary.records_handled, 'record')} read"
        + (f", {summary.skipped:,} already done" if summary.skipped else "")
    )
    ahead = summary.records - summary.records_handled
    if ahead > 0:
        # After an unreadable input, a resume cannot read past the damage either: no promise then.
        then = "" if summary.stopped == StopReason.INPUT else " (--resume sends them)"
        lines.append(f"  {plural(ahead, 'record')} read ahead were not sent{then}")
    width = max((len(s) for s in summary.counts), default=0)
    lines.extend(
        f"    {status:<{width}}  {summary.counts[status]:>10,}"
        for status in SHORT_WORDS
        if summary.counts[status]
    )
    if not summary.dry_run:
        lines.append(
            f"  requests {summary.requests:,} · retries {summary.retries:,} · "
            f"token refreshes {summary.token_refreshes} · throttle pauses {summary.throttle_pauses}"
        )
    lines.extend(campaign_lines(summary))
    lines.extend(explain_lines(summary))
    if summary.warnings:
        codes = ", ".join(w["code"] for w in summary.warnings)
        lines.append(f"  {plural(len(summary.warnings), 'warning')} about silent drops (see above): {codes}")
    lines.extend(_wait_lines(summary.waits, summary.schedule))
    if summary.results_path:
        lines.append(
            f"  results: {summary.results_path}"
            + (
                f" (one line per record again: {plural(summary.compacted_lines, 'superseded line')} removed)"
                if summary.compacted_lines
                else ""
            )
        )
    lines.extend(next_step_lines(summary))
    if summary.stopped == StopReason.QUOTA:
        lines.append(f"  {quota_stop_text(schedule=summary.schedule)}")
    elif summary.stopped in _AFTER_STOP:
        lines.append(_AFTER_STOP[summary.stopped])
    elif summary.stopped:
        lines.append("  the results are consistent: the same command with --resume sends the rest")
    text = printable("\n".join(lines), multiline=True)  # a stop's detail may quote Getui's msg
    if out is not None:
        print(wrap_text(text, terminal_width(out)), file=out)
    return text


def next_step_lines(summary: Summary) -> list[str]:
    """The command that sends the retryable failures again, when there are any."""
    if not summary.retryable or summary.dry_run:
        return []
    command = send_command(summary.input_name, summary.results_path, "--resume", "--retry-failed")
    return [
        f"  {plural(summary.retryable, 'record')} failed for a cause that may pass; to send them again:",
        f"    {command}",
    ]


_WAITED_FOR: Final = {"window": "the send window", "quota": "the daily quota"}


def _wait_lines(waits: Sequence[Mapping[str, Any]], schedule: Schedule | None) -> list[str]:
    """One line per wait: what for, until when (in the run's zone), how long, and whether sending went
    on after it."""
    zone = schedule.tz if schedule is not None else zone_of(None)
    return [
        f"  waited for {_WAITED_FOR.get(str(w.get('reason')), w.get('reason'))} until "
        f"{local_text(w.get('until'), zone)} ({zone.key}): "
        f"{float(w.get('waited_s', 0.0)):,.1f} s ({w.get('outcome')})"
        for w in waits
    ]
