"""The report as one JSON object and as text for a terminal; both from the same :func:`summary` dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from getui_async.outcome import Status
from getui_async.results.sidecar import K_INPUT
from getui_async.schedule import format_duration

from .completeness import Completeness
from .groups import EXPLAIN, GROUP_ORDER, Group
from .headline import headline, next_steps
from .identity import campaign_identity
from .outcomes import Outcomes
from .receipts_view import receipts_text
from .variants import variants_block, variants_table

__all__ = ["summary", "to_text"]

#: Rows of a table by reason shown in text (the JSON has them all, up to MAX_REASONS).
TEXT_ROWS: Final = 15


def summary(
    out: Outcomes,
    funnel: Mapping[str, Any] | None = None,
    receipts: Mapping[str, Any] | None = None,
    *,
    shards: Mapping[str, Any] | None = None,
    state: Completeness | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    """Everything the report knows as plain JSON types (the ``--json`` output and the HTML page's data);
    ``shards``: which shards of a sharded campaign were read (:class:`~.shards.ShardSet`); ``state`` adds
    whether the campaign is complete; times are also shown in ``tz`` (else the zone the runs recorded)."""
    groups = {g.value: out.by_group.get(g.value, 0) for g in GROUP_ORDER}
    width, series = out.timeline.binned()
    rejected_fields: dict[str, int] = {}
    for (name, _reason), n in out.rejected_by_field.items():
        rejected_fields[name] = rejected_fields.get(name, 0) + n
    data: dict[str, Any] = {
        "results": str(out.path),
        "campaign_id": out.campaign_id,
        "group_name": out.group_name,
        "started": out.first_ts,
        "ended": out.last_ts,
        "runs": out.runs,
        "requests": out.requests,
        "retries": out.retries,
        "attempts": out.attempts,
        "retried_records": out.retried_records,
        "lines": out.lines,
        "records": out.records,
        "superseded_lines": out.superseded,
        "torn_tail": out.torn_tail,
        "by_status": dict(sorted(out.by_status.items())),
        "groups": groups,
        **groups,
        "already_taken": out.already_taken,
        "failed_by_reason": _reasons(out.failed_by_reason),
        "retryable_by_reason": _reasons(out.retryable_by_reason),
        "rejected_by_field": dict(sorted(rejected_fields.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rejected_by_reason": [
            {"field": f, "reason": r, "count": n} for (f, r), n in out.rejected_by_field.most_common()
        ],
        "single_push_records": out.single_push_records,
        "list_push_records": out.list_push_records,
        "list_taskids": sorted(out.list_taskids),
        "explain": {g.value: EXPLAIN[g] for g in GROUP_ORDER if groups[g.value]},
        "timeline": {"bucket_s": width, "series": [[start, row] for start, row in series]},
    }
    if shards is not None:
        data["shards"] = dict(shards)
    if state is not None:
        data.update(state.to_dict())
    data["input_name"] = input_name(out.meta)
    data.update(campaign_identity(out.meta, out.first_ts, out.last_ts, tz))
    if funnel is not None:
        data["getui"] = dict(funnel)
    if receipts is not None:
        data["receipts"] = dict(receipts)
    if out.by_variant:
        data["variants"] = variants_block(out, funnel, receipts)
    return data


def input_name(meta: Mapping[str, Any]) -> str | None:
    """The input file's name as the sidecar recorded it (``<stdin>`` for a stream from stdin)."""
    recorded = meta.get(K_INPUT)
    name = recorded.get("name") if isinstance(recorded, Mapping) else None
    return name if isinstance(name, str) and name else None


def _reasons(table: Mapping[tuple[int | None, str], int]) -> list[dict[str, Any]]:
    rows = sorted(table.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [{"code": code, "msg": msg, "count": n} for (code, msg), n in rows]


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}%" if total else "    -"


def to_text(data: Mapping[str, Any]) -> str:
    """The :func:`summary` dict as a few readable blocks."""
    total = int(data["records"])
    head = headline(data)
    lines = [head, ""] if head else []
    lines += [
        f"campaign   {data['campaign_id'] or '(unknown: no sidecar)'}",
        *identity_lines(data),
        f"runs       {data['runs'] if data['runs'] is not None else 'not recorded'}"
        f"   requests {data['requests'] if data['requests'] is not None else 'not recorded'}"
        f"   retries {data['retries'] if data['retries'] is not None else 'not recorded'}"
        f"   attempts {data['attempts']:,} ({data['retried_records']:,} records needed more than one)",
        f"records    {total:,} ({data['lines']:,} lines, {data['superseded_lines']:,} superseded)",
    ]
    shards = data.get("shards")
    if shards is not None:
        lines.append(_shards_text(shards))
    if data["torn_tail"]:
        lines.append("note       the last line was cut short (a killed run); it was ignored")
    lines.append("")
    for group in GROUP_ORDER:
        n = data["groups"][group.value]
        if n or group in (Group.REACHED, Group.INACTIVE, Group.DEAD, Group.RETRYABLE):
            lines.append(f"  {group.value:<10} {n:>12,} {_pct(n, total)}  {EXPLAIN[group]}")
    if data["already_taken"]:
        lines.append(
            f"  {'':<10} {data['already_taken']:>12,} of the accepted were already taken: Getui had this "
            "request_id from an earlier run, so it did not deliver again"
        )
    for title, key in (("retryable by cause", "retryable_by_reason"), ("failed by code", "failed_by_reason")):
        rows = data[key]
        if rows:
            lines += ["", f"{title}:"]
            lines += [
                f"  {r['count']:>10,}  code {r['code'] if r['code'] is not None else '-':<6} {r['msg']}"
                for r in rows[:TEXT_ROWS]
            ]
            if len(rows) > TEXT_ROWS:
                lines.append(f"  ... {len(rows) - TEXT_ROWS} more (see --json)")
    rows = data["rejected_by_reason"]
    if rows:
        lines += ["", "rejected by field:"]
        lines += [f"  {r['count']:>10,}  {r['field']}: {r['reason']}" for r in rows[:TEXT_ROWS]]
        if len(rows) > TEXT_ROWS:
            lines.append(f"  ... {len(rows) - TEXT_ROWS} more (see --json)")
    others = {s: n for s, n in data["by_status"].items() if s not in _KNOWN}
    if others:
        lines += ["", "other statuses:"] + [f"  {n:>10,}  {s}" for s, n in sorted(others.items())]
    lines += variants_table(data.get("variants") or {})
    getui = data.get("getui")
    if getui is not None:
        lines += ["", *funnel_text(getui)]
    if data.get("receipts") is not None:
        lines += ["", *receipts_text(data["receipts"], getui)]
    steps = next_steps(data)
    if steps:
        lines += ["", "next:", *(f"  {step}" for step in steps)]
    return "\n".join(lines) + "\n"


_KNOWN: Final = frozenset(s.value for s in Status)


def _shards_text(shards: Mapping[str, Any]) -> str:
    """How many shards were read, and which are missing (the figures then cover the others only)."""
    count, missing = shards["count"], shards["missing"]
    line = f"shards     {count - len(missing)} of {count} read"
    if missing:
        named = ", ".join(f"shard {m} missing" for m in missing)
        line += f"; {named}: the figures cover the shards read only"
    return line


def identity_lines(data: Mapping[str, Any]) -> list[str]:
    """The message, the input, and when the campaign ran (local time, with its duration)."""
    lines = [f"{key:<10} {data[key]}" for key in ("title", "body") if data.get(key)]
    if data.get("input_name"):
        lines.append(f"input      {data['input_name']}")
    started, ended = data.get("started_local") or "-", data.get("ended_local") or "-"
    took = data.get("duration_s")
    span = f", {format_duration(took)}" if isinstance(took, (int, float)) and took > 0 else ""
    lines.append(f"ran        {started} .. {ended} ({data.get('tz')}{span})")
    return lines


def funnel_text(getui: Mapping[str, Any]) -> list[str]:
    """Getui's own figures (from ``--fetch``) as a funnel per channel."""
    out = ["Getui's figures (report --fetch):"]
    out.extend(f"  note: {note}" for note in getui.get("notes", []))
    for source in ("tasks", "group"):
        block = getui.get(source)
        if not block:
            continue
        label = "list tasks" if source == "tasks" else f"group {block.get('name')!r}"
        out.append(f"  {label}:")
        if block.get("unavailable"):
            out.append(f"    not available: {block['unavailable']}")
            continue
        out.append(f"    {'channel':<10} {'target':>10} {'received':>10} {'displayed':>10} {'clicked':>10}")
        for channel, row in block.get("channels", {}).items():
            cells = [_cell(row.get(k)) for k in ("target", "received", "displayed", "clicked")]
            out.append(f"    {channel:<10} " + " ".join(f"{c:>10}" for c in cells))
    return out


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"
