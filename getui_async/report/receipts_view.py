"""The ``receipts`` block of a report as text and as HTML: the funnel from receipts, its coverage, the
vendor failures by reason, and Getui's own totals (``--fetch``) beside it when they were asked for."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any, Final

__all__ = ["STEPS", "getui_totals", "receipts_html", "receipts_text"]

#: The funnel's rows: the block's key, and Getui's own key in a ``--fetch`` channel row.
STEPS: Final = (("arrived", "received"), ("displayed", "displayed"), ("clicked", "clicked"))
_ROWS: Final = 15


def getui_totals(getui: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Getui's ``all`` row from ``--fetch`` (list tasks, else the group), if it gave one."""
    if not getui:
        return None
    for source in ("tasks", "group"):
        block = getui.get(source)
        if isinstance(block, Mapping):
            row = block.get("channels", {}).get("all")
            if isinstance(row, Mapping):
                return row
    return None


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def coverage_line(block: Mapping[str, Any]) -> str:
    """'receipts for 93.1% of the recipients Getui accepted (...)'."""
    accepted, covered = int(block["accepted"]), int(block["recipients_with_receipts"])
    line = f"receipts for {_pct(covered, accepted)} of the recipients Getui accepted"
    line += f" ({covered:,} of {accepted:,})"
    if block["not_joinable"]:
        line += f"; {block['not_joinable']:,} more had no taskid or cid to match"
    return line


def receipts_text(block: Mapping[str, Any], getui: Mapping[str, Any] | None = None) -> list[str]:
    """The block as lines for the terminal report."""
    accepted = int(block["accepted"])
    totals = getui_totals(getui)
    head = f"    {'':<10} {'receipts':>10} {'of accepted':>12}"
    out = [
        f"Receipts ({block['store']}):",
        f"  {coverage_line(block)}",
        head + ("   Getui's figures" if totals else ""),
    ]
    for step, theirs in STEPS:
        n = int(block[step])
        row = f"    {step:<10} {n:>10,} {_pct(n, accepted):>12}"
        if totals is not None:
            value = totals.get(theirs)
            row += f"   {value:>10,}" if isinstance(value, int) else f"   {'n/a':>10}"
        out.append(row)
    out.append(
        f"    {'never':<10} {int(block['unreached']):>10,}   accepted but no arrival receipt (--unreached)"
    )
    reasons = list(block["failed_by_reason"].items())
    if reasons:
        out.append("  vendor failures by reason (recipients):")
        out += [f"    {n:>10,}  {reason}" for reason, n in reasons[:_ROWS]]
        if len(reasons) > _ROWS:
            out.append(f"    ... {len(reasons) - _ROWS} more (see --json)")
    return out


def receipts_html(block: Mapping[str, Any], getui: Mapping[str, Any] | None = None) -> str:
    """The block as a section of the HTML page: a funnel of bars and the failure reasons."""
    accepted = int(block["accepted"]) or 1
    totals = getui_totals(getui)
    width, row_h, label_w = 720, 26, 90
    bars = [
        f'<svg id="receipts-chart" role="img" aria-label="receipts funnel" width="{width}" '
        f'height="{row_h * (len(STEPS) + 1) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (step, n) in enumerate(
        [("accepted", int(block["accepted"]))] + [(s, int(block[s])) for s, _ in STEPS]
    ):
        y = 5 + i * row_h
        w = max(1.0, (width - label_w - 120) * n / accepted)
        bars.append(f'<text x="0" y="{y + 16}">{step}</text>')
        bars.append(
            f'<rect class="funnel" data-step="{step}" x="{label_w}" y="{y}" width="{w:.1f}" '
            f'height="{row_h - 6}" fill="#2e9e44"><title>{step}: {n:,}</title></rect>'
        )
        bars.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{n:,}</text>')
    bars.append("</svg>")
    rows = "".join(
        f'<tr><td>{step}</td><td class="n">{int(block[step]):,}</td>'
        f'<td class="n">{_pct(int(block[step]), int(block["accepted"]))}</td>'
        + (f'<td class="n">{_cell(totals.get(theirs))}</td>' if totals is not None else "")
        + "</tr>"
        for step, theirs in STEPS
    )
    head = "<tr><th>stage</th><th>recipients</th><th>of accepted</th>"
    head += "<th>Getui's figures</th></tr>" if totals is not None else "</tr>"
    failures = "".join(
        f'<tr><td>{escape(reason)}</td><td class="n">{n:,}</td></tr>'
        for reason, n in block["failed_by_reason"].items()
    )
    parts = [
        "<h2>Receipts</h2>",
        f'<p class="muted">{escape(coverage_line(block))}; store {escape(str(block["store"]))}</p>',
        "".join(bars),
        f'<table id="receipts">{head}{rows}</table>',
        f"<p>{int(block['unreached']):,} accepted recipients have no arrival receipt.</p>",
    ]
    if failures:
        parts.append(f'<h2>Vendor failures</h2><table id="receipt-failures">{failures}</table>')
    return "\n".join(parts)


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"
