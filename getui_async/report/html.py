"""``--html FILE``: one self-contained page (inline CSS and SVG, no script, no network fetch).

The charts are SVG drawn here, so the page looks the same opened from disk, printed or mailed:
a bar per outcome group, a stacked-bar timeline of result lines per second by group, and Getui's
funnel per channel when ``--fetch`` was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any, Final
from zoneinfo import ZoneInfo

from getui_async.localtime import local_text, zone_of
from getui_async.schedule import format_duration

from .fetch import FUNNEL
from .groups import EXPLAIN, GROUP_ORDER, Group
from .headline import headline, next_steps
from .receipts_view import receipts_html
from .variants import side_by_side

__all__ = ["COLOURS", "to_html"]

#: One colour per group (the chart, the legend and the test that looks at the pixels agree on these).
COLOURS: Final[Mapping[str, str]] = {
    Group.REACHED.value: "#2e9e44",
    Group.INACTIVE.value: "#9aa5b1",
    Group.ACCEPTED.value: "#6cc3d5",
    Group.DEAD.value: "#222222",
    Group.RETRYABLE.value: "#f0a020",
    Group.UNCONFIRMED.value: "#ff7f0e",
    Group.FAILED.value: "#d62728",
    Group.REJECTED.value: "#9467bd",
    Group.DUPLICATE.value: "#c7a17a",
    Group.EXCLUDED.value: "#8c564b",
    Group.CAPPED.value: "#e377c2",
    Group.HELD_OUT.value: "#7f7f7f",
    Group.VALIDATED.value: "#1f77b4",
    Group.OTHER.value: "#bcbd22",
}
_CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
.muted{color:#666}svg text{font:12px system-ui,sans-serif;fill:#333}
"""


def to_html(data: Mapping[str, Any]) -> str:
    """The page for a :func:`~getui_async.report.render.summary` dict."""
    title = f"getui-push report: {data['campaign_id'] or data['results']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _state(data),
        f'<p class="muted">{escape(str(data["results"]))}: ran '
        f"{escape(str(data.get('started_local') or data['started'] or '-'))} .. "
        f"{escape(str(data.get('ended_local') or data['ended'] or '-'))} ({escape(str(data.get('tz')))})</p>",
        _facts(data),
        "<h2>Outcomes</h2>",
        _outcome_table(data),
        _bars(data),
        "<h2>Send timeline</h2>",
        _timeline(data),
        _reason_tables(data),
    ]
    if data.get("variants"):
        parts += ["<h2>Variants</h2>", _variants(data["variants"])]
    if data.get("getui") is not None:
        parts.append(_funnels(data["getui"]))
    if data.get("receipts") is not None:
        parts.append(receipts_html(data["receipts"], data.get("getui")))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _variants(block: Mapping[str, Any]) -> str:
    """The variants side by side: one column each (and the holdout), one row per figure."""
    rows = side_by_side(block)
    head = "".join(f"<th>{escape(name)}</th>" for name in rows[0][1])
    body = "".join(
        f"<tr><th>{escape(label)}</th>" + "".join(f'<td class="n">{escape(c)}</td>' for c in cells) + "</tr>"
        for label, cells in rows[1:]
    )
    return f'<table id="variants"><tr><th></th>{head}</tr>{body}</table>'


def _state(data: Mapping[str, Any]) -> str:
    """Complete, stopped or running, first (a stopped campaign must not look finished), and the
    commands that finish it."""
    head = headline(data)
    if head is None:
        return ""
    colour = "#2e9e44" if data.get("complete") else "#d62728"
    steps = "".join(f"<li><code>{escape(step)}</code></li>" for step in next_steps(data))
    return f'<p id="state" style="font-weight:bold;color:{colour}">{escape(head)}</p>' + (
        f'<ul id="next-steps">{steps}</ul>' if steps else ""
    )


def _facts(data: Mapping[str, Any]) -> str:
    took = data.get("duration_s")
    rows = [
        ("campaign", data["campaign_id"] or "unknown (no sidecar)"),
        *((key, data[key]) for key in ("title", "body", "input_name") if data.get(key)),
        ("duration", format_duration(took) if isinstance(took, (int, float)) and took > 0 else "-"),
        ("records", f"{data['records']:,}"),
        ("result lines", f"{data['lines']:,} ({data['superseded_lines']:,} superseded by a later line)"),
        ("runs", data["runs"] if data["runs"] is not None else "not recorded"),
        ("requests", f"{data['requests']:,}" if data["requests"] is not None else "not recorded"),
        ("retries", f"{data['retries']:,}" if data["retries"] is not None else "not recorded"),
        ("attempts", f"{data['attempts']:,} ({data['retried_records']:,} records needed more than one)"),
    ]
    body = "".join(
        f"<tr><th>{escape('input' if k == 'input_name' else k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f'<table id="summary">{body}</table>'


def _outcome_table(data: Mapping[str, Any]) -> str:
    total = data["records"] or 1
    rows = []
    for group in GROUP_ORDER:
        n = data["groups"][group.value]
        if not n:
            continue
        rows.append(
            f'<tr><td><span class="sw" style="background:{COLOURS[group.value]}"></span>{group.value}</td>'
            f'<td class="n">{n:,}</td><td class="n">{100 * n / total:.1f}%</td>'
            f'<td class="muted">{escape(EXPLAIN[group])}</td></tr>'
        )
    head = "<tr><th>group</th><th>records</th><th>share</th><th>what it means</th></tr>"
    return f'<table id="outcomes">{head}{"".join(rows)}</table>'


def _bars(data: Mapping[str, Any]) -> str:
    groups = [(g.value, data["groups"][g.value]) for g in GROUP_ORDER if data["groups"][g.value]]
    width, row_h, label_w = 720, 26, 90
    top = max((n for _, n in groups), default=0) or 1
    out = [
        f'<svg id="outcome-chart" role="img" aria-label="records by outcome" width="{width}" '
        f'height="{row_h * len(groups) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, n) in enumerate(groups):
        y = 5 + i * row_h
        w = max(1.0, (width - label_w - 90) * n / top)
        out.append(f'<text x="0" y="{y + 16}">{name}</text>')
        out.append(
            f'<rect class="bar" data-group="{name}" x="{label_w}" y="{y}" width="{w:.1f}" '
            f'height="{row_h - 6}" fill="{COLOURS[name]}"><title>{name}: {n:,}</title></rect>'
        )
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{n:,}</text>')
    out.append("</svg>")
    return "".join(out)


def _timeline(data: Mapping[str, Any]) -> str:
    series: Sequence[tuple[float, Mapping[str, int]]] = data["timeline"]["series"]
    bucket_s = float(data["timeline"]["bucket_s"])
    if not series:
        return '<p class="muted">no timestamps in the results: no timeline</p>'
    width, height, left, bottom = 900, 260, 60, 30
    t0, t1 = series[0][0], series[-1][0] + bucket_s
    span = max(t1 - t0, bucket_s)
    peak = max(sum(row.values()) for _, row in series) / bucket_s or 1
    plot_w, plot_h = width - left - 10, height - bottom - 10
    names = [g.value for g in GROUP_ORDER if any(row.get(g.value) for _, row in series)]
    unit = _duration(bucket_s)
    zone = zone_of(data.get("tz"))
    out = [
        f'<svg id="timeline-chart" role="img" aria-label="result lines per second by outcome" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="10" x2="{left}" y2="{10 + plot_h}" stroke="#999"/>',
        f'<text x="0" y="18">{peak:,.0f}/s</text><text x="0" y="{10 + plot_h}">0</text>',
        f'<text x="{left}" y="{height - 8}">{_clock(t0, zone)}</text>',
        f'<text x="{width - 10}" y="{height - 8}" text-anchor="end">{_clock(t1, zone)}</text>',
    ]
    out += _run_marks(data, t0, span, left, plot_w, plot_h)
    bar_w = max(plot_w * bucket_s / span, 1.0)
    for start, row in series:
        x = left + plot_w * (start - t0) / span
        base = float(10 + plot_h)
        for name in names:
            n = row.get(name, 0)
            if not n:
                continue
            h = plot_h * (n / bucket_s) / peak
            base -= h
            out.append(
                f'<rect class="tl" data-group="{name}" x="{x:.2f}" y="{base:.2f}" width="{bar_w:.2f}" '
                f'height="{h:.2f}" fill="{COLOURS[name]}"/>'
            )
    out.append("</svg>")
    legend = " ".join(
        f'<span><span class="sw" style="background:{COLOURS[n]}"></span>{n}</span>' for n in names
    )
    return (
        "".join(out) + f'<p class="muted">result lines per second by outcome (bins of {unit}): {legend}</p>'
    )


def _clock(epoch: float, zone: ZoneInfo) -> str:
    return local_text(datetime.fromtimestamp(epoch, timezone.utc), zone) or ""


def _run_marks(
    data: Mapping[str, Any], t0: float, span: float, left: int, plot_w: int, plot_h: int
) -> list[str]:
    """A dashed line where each run started (the first, then each resume), labelled, on the timeline."""
    out = []
    for number, run in enumerate(data.get("run_list") or [], start=1):
        started = run.get("started")
        try:
            at = datetime.fromisoformat(str(started).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        x = left + plot_w * min(max((at - t0) / span, 0.0), 1.0)
        label = f"run {number}" + (f" (stopped: {run['stopped']})" if run.get("stopped") else "")
        out.append(
            f'<line class="run-mark" x1="{x:.2f}" y1="10" x2="{x:.2f}" y2="{10 + plot_h}" stroke="#555" '
            f'stroke-dasharray="4 3"><title>{escape(label)}: {escape(str(run.get("started_local")))}'
            f"</title></line>"
            f'<text x="{x + 3:.2f}" y="22">{escape(label)}</text>'
        )
    return out


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:g} s"


def _reason_tables(data: Mapping[str, Any]) -> str:
    out = []
    for title, key in (("Retryable by cause", "retryable_by_reason"), ("Failed by code", "failed_by_reason")):
        rows = data[key]
        if rows:
            body = "".join(
                f'<tr><td class="n">{r["count"]:,}</td><td>{r["code"] if r["code"] is not None else "-"}</td>'
                f"<td>{escape(r['msg'])}</td></tr>"
                for r in rows
            )
            head = "<tr><th>records</th><th>code</th><th>message</th></tr>"
            out.append(f"<h2>{title}</h2><table>{head}{body}</table>")
    rows = data["rejected_by_reason"]
    if rows:
        body = "".join(
            f'<tr><td class="n">{r["count"]:,}</td><td>{escape(r["field"])}</td>'
            f"<td>{escape(r['reason'])}</td></tr>"
            for r in rows
        )
        head = "<tr><th>records</th><th>field</th><th>reason</th></tr>"
        out.append(f"<h2>Rejected by field</h2><table>{head}{body}</table>")
    return "".join(out)


def _funnels(getui: Mapping[str, Any]) -> str:
    out = ["<h2>Getui's figures (--fetch)</h2>"]
    out += [f'<p class="muted">{escape(note)}</p>' for note in getui.get("notes", [])]
    for source in ("tasks", "group"):
        block = getui.get(source)
        if not block:
            continue
        label = "List tasks" if source == "tasks" else f"Group {block.get('name')}"
        out.append(f"<h3>{escape(label)}</h3>")
        if block.get("unavailable"):
            out.append(f"<p>not available: {escape(str(block['unavailable']))}</p>")
            continue
        head = "<tr><th>channel</th><th>target</th><th>received</th><th>displayed</th><th>clicked</th></tr>"
        body = "".join(
            f"<tr><td>{escape(ch)}</td>"
            + "".join(f'<td class="n">{_funnel_cell(row.get(k), row.get("target"))}</td>' for k in FUNNEL)
            + "</tr>"
            for ch, row in block.get("channels", {}).items()
        )
        out.append(f'<table class="funnel">{head}{body}</table>')
    return "".join(out)


def _funnel_cell(value: Any, target: Any) -> str:
    """A funnel figure with a bar scaled to the channel's target; "n/a" where Getui gave none."""
    if not isinstance(value, int) or not isinstance(target, int) or target <= 0:
        return _figure(value)
    share = min(value / target, 1.0)
    bar = (
        f'<svg class="step" width="60" height="10" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="60" height="10" fill="#eee"/><rect width="{60 * share:.1f}" height="10" '
        f'fill="{COLOURS[Group.REACHED.value]}"/></svg>'
    )
    return f"{value:,} {bar} {100 * share:.0f}%"


def _figure(value: Any) -> str:
    """A Getui figure; "n/a" where Getui gave none (never a made-up zero)."""
    return f"{value:,}" if isinstance(value, int) else "n/a"
