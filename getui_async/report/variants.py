"""The report by variant: each variant's outcomes and the holdout's, Getui's rates, and which variant won.

Counts come from the result lines' ``variant`` field (see :class:`~getui_async.report.outcomes.Outcomes`).
With ``--fetch`` each variant's group funnel (``<campaign>-<variant>``) gives display and click rates over
the pushes Getui says were received; each variant is compared with the first by a two-proportion z-test
(the difference, its 95% interval and a two-sided p-value, computed with :func:`math.erf`), with a plain
warning when a sample is too small for the normal approximation to tell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from getui_async.results.sidecar import K_RUNS
from getui_async.variants import HOLDOUT, group_name

from .groups import GROUP_ORDER, Group
from .outcomes import Outcomes

__all__ = [
    "MIN_EXPECTED",
    "Comparison",
    "compare_proportions",
    "side_by_side",
    "variant_groups",
    "variant_order",
    "variants_block",
    "variants_table",
]

#: The normal approximation needs this many successes and failures in each sample (a common rule).
MIN_EXPECTED: Final = 10
_Z95: Final = 1.959963984540054  # the two-sided 95% quantile of the standard normal
#: The counts each variant shows (the issue's contract), then the rest of its groups.
_SHOWN: Final = (Group.REACHED, Group.INACTIVE, Group.DEAD, Group.RETRYABLE)
_RATES: Final = {"display_rate": "displayed", "click_rate": "clicked"}
TOO_SMALL: Final = "too few to tell: each variant needs at least {n} of both outcomes"


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant's rate against the first variant's: ``difference`` = this rate minus the first's."""

    difference: float
    ci95: tuple[float, float]
    p_value: float
    z: float
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "difference": self.difference,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
            "z": self.z,
            "warning": self.warning,
        }


def compare_proportions(x1: int, n1: int, x2: int, n2: int) -> Comparison | None:
    """Two-proportion z-test of ``x2/n2`` against ``x1/n1``; None when a sample is empty.

    The test uses the pooled proportion under the null hypothesis; the interval uses each sample's own
    variance (Wald). Two-sided p-value: ``1 - erf(|z| / sqrt 2)``.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    difference = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se_null == 0:
        z, p_value = 0.0, 1.0  # both all-or-nothing and equal: no evidence of a difference
    else:
        z = difference / se_null
        p_value = 1 - math.erf(abs(z) / math.sqrt(2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    ci = (difference - _Z95 * se, difference + _Z95 * se)
    small = min(x1, n1 - x1, x2, n2 - x2) < MIN_EXPECTED
    return Comparison(difference, ci, p_value, z, TOO_SMALL.format(n=MIN_EXPECTED) if small else None)


def variant_order(out: Outcomes) -> list[str]:
    """The variants as the send named them (the first is the baseline), then any others, holdout last."""
    order: list[str] = []
    runs = out.meta.get(K_RUNS)
    if isinstance(runs, list):
        for run in runs:
            shares = run.get("variants") if isinstance(run, Mapping) else None
            if isinstance(shares, Mapping):
                order += [str(name) for name in shares if name not in order]
    order += sorted(name for name in out.by_variant if name not in order)
    return [n for n in order if n != HOLDOUT] + ([HOLDOUT] if HOLDOUT in order else [])


def variant_groups(out: Outcomes) -> dict[str, str]:
    """``{variant: Getui group_name}`` for ``--fetch`` (the holdout was never sent: it has none)."""
    campaign = out.campaign_id
    if campaign is None:
        return {}
    return {name: group_name(campaign, name) for name in variant_order(out) if name != HOLDOUT}


def variants_block(
    out: Outcomes, funnel: Mapping[str, Any] | None, receipts: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{variant: {records, reached, inactive, dead, retryable, ..., rates}}`` keyed by name and holdout.

    The rates come from Getui's group funnel (``--fetch``: list tasks) or, for a variant without one, from
    the receipts joined to it (``--receipts``: any mode), over the recipients that arrived.
    """
    block: dict[str, Any] = {}
    fetched = (funnel or {}).get("variants") or {}
    from_receipts = (receipts or {}).get("variants") or {}
    baseline: dict[str, Any] | None = None
    for name in variant_order(out):
        row = out.by_variant.get(name, [0] * len(GROUP_ORDER))
        counts = {g.value: n for g, n in zip(GROUP_ORDER, row, strict=True)}
        entry: dict[str, Any] = {"records": sum(row), **{g.value: counts[g.value] for g in _SHOWN}}
        entry.update({k: n for k, n in counts.items() if n and k not in entry})
        figures = _all_channel(fetched.get(name))
        source = "getui"
        if figures is None and isinstance(from_receipts.get(name), Mapping):
            row_seen = from_receipts[name]
            figures = {
                "received": row_seen.get("arrived", 0),
                **{k: row_seen.get(k, 0) for k in _RATES.values()},
            }
            source = "receipts"
        if figures is not None:
            entry.update(_rates(figures))
            entry["rates_from"] = source
            if baseline is None:
                baseline = entry
            else:
                entry["vs_first"] = _versus(baseline, entry)
        elif name in fetched:
            entry["getui"] = {"unavailable": fetched[name].get("unavailable", "no figures")}
        block[name] = entry
    return block


def _all_channel(group: Any) -> Mapping[str, Any] | None:
    if not isinstance(group, Mapping):
        return None
    channels = group.get("channels")
    if not isinstance(channels, Mapping):
        return None
    figures = channels.get("all")
    return figures if isinstance(figures, Mapping) else None


def _rates(figures: Mapping[str, Any]) -> dict[str, Any]:
    """Getui's received, displayed and clicked, and the rates over received (None when unknown)."""
    received = figures.get("received")
    out: dict[str, Any] = {k: figures.get(k) for k in ("received", "displayed", "clicked")}
    for rate, step in _RATES.items():
        count = figures.get(step)
        known = isinstance(received, int) and received > 0 and isinstance(count, int)
        out[rate] = (
            count / received if known and isinstance(count, int) and isinstance(received, int) else None
        )
    return out


def _versus(first: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for rate, step in _RATES.items():
        x1, n1, x2, n2 = first.get(step), first.get("received"), entry.get(step), entry.get("received")
        if isinstance(x1, int) and isinstance(n1, int) and isinstance(x2, int) and isinstance(n2, int):
            test = compare_proportions(x1, n1, x2, n2)
            result[rate] = test.to_dict() if test is not None else None
    return result


def variants_table(block: Mapping[str, Any]) -> list[str]:
    """The per-variant block as text: counts, then rates and the comparison with the first variant."""
    if not block:
        return []
    lines = ["", "by variant:"]
    head = f"  {'variant':<12} {'records':>9} {'reached':>9} {'inactive':>9} {'dead':>7} {'retryable':>9}"
    lines.append(head + f" {'display':>8} {'click':>8}")
    for name, row in block.items():
        cells = [f"{row[k]:>{w},}" for k, w in (("records", 9), ("reached", 9), ("inactive", 9))]
        cells += [f"{row['dead']:>7,}", f"{row['retryable']:>9,}"]
        cells += [f"{_pct(row.get(k)):>8}" for k in _RATES]
        lines.append(f"  {name:<12} " + " ".join(cells))
    notes = _comparisons(block)
    if notes:
        lines += ["", "against the first variant (two-proportion z-test, rates over received):", *notes]
    return lines


def _comparisons(block: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for name, row in block.items():
        for rate, test in (row.get("vs_first") or {}).items():
            if test is None:
                continue
            lo, hi = test["ci95"]
            text = (
                f"  {name:<12} {rate.replace('_', ' ')}: {100 * test['difference']:+.2f} points "
                f"(95% CI {100 * lo:+.2f} .. {100 * hi:+.2f}), p = {test['p_value']:.4f}"
            )
            out.append(text + (f"; {test['warning']}" if test["warning"] else ""))
    return out


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}%" if isinstance(value, float) else "n/a"


def side_by_side(block: Mapping[str, Any]) -> Sequence[tuple[str, list[str]]]:
    """Rows for the HTML page: a label, then one cell per variant (the variants side by side)."""
    names = list(block)
    rows: list[tuple[str, list[str]]] = [("", names)]
    figures = ("records", "reached", "inactive", "dead", "retryable", "received", "displayed", "clicked")
    rows += [(key, [_cell(block[n].get(key)) for n in names]) for key in figures]
    for rate in _RATES:
        rows.append((rate.replace("_", " "), [_pct(block[n].get(rate)) for n in names]))
        rows.append((f"{rate.replace('_', ' ')} vs first", [_versus_cell(block[n], rate) for n in names]))
    return rows


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def _versus_cell(row: Mapping[str, Any], rate: str) -> str:
    test = (row.get("vs_first") or {}).get(rate)
    if not test:
        return ""
    text = f"{100 * test['difference']:+.2f} pts, p={test['p_value']:.3f}"
    return text + (" (too few to tell)" if test["warning"] else "")
