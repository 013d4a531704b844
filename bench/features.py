"""Feature cells: engine batch c64 0 ms with one feature switched on, beside the plain engine run.

Features that are off must cost nothing on the path, and when on only what they do: each cell runs
``send`` with the ledger (``--ledger`` on a new SQLite file, ``--max-per-day 1``), an exclusion list
(``--exclude``, 1,000 cids none of which are in the input), two variants with a holdout, or the
Prometheus endpoint (``--metrics-port`` on a free port). In every repeat the plain run comes before
each feature run and after the last, and each feature is compared with the two plain runs around it,
so a change in machine load hits both sides.
"""

from __future__ import annotations

import socket
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import report
from clients import cid_of, engine_template
from harness import Cell, Run, median_run
from runner import Bench

FEATURES = ("ledger", "exclude", "variants", "metrics")
EXCLUDED = 1_000
#: Exclusion-list cids start here: far above any record the bench generates.
EXCLUDED_FROM = 10**15
HOLDOUT_PCT = 10


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1 (``--metrics-port`` takes no 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FeatureFlags:
    """The flags that switch one feature on, with the files they name, fresh where state would carry."""

    def __init__(self, workdir: Path, channels: str) -> None:
        self.workdir = workdir
        self.excluded = workdir / "excluded.txt"
        self.excluded.write_text("".join(f"{cid_of(EXCLUDED_FROM + i)}\n" for i in range(EXCLUDED)))
        self.variants: list[str] = []
        for name, greeting in (("a", "Hello {name}"), ("b", "Hi {name}")):
            template = engine_template(True, channels)
            template["push_message"]["notification"]["title"] = greeting
            path = workdir / f"variant-{name}.json"
            path.write_bytes(orjson.dumps(template))
            self.variants.append(f"{name}={path}")
        self.seq = 0

    def flags(self, feature: str) -> tuple[list[str], list[str] | None]:
        """``(extra flags, message flags or None for the bench's --message)`` for one run of ``feature``."""
        self.seq += 1
        if feature == "ledger":
            return ["--ledger", str(self.ledger(self.seq)), "--max-per-day", "1"], None
        if feature == "exclude":
            return ["--exclude", str(self.excluded)], None
        if feature == "variants":
            message = [f for spec in self.variants for f in ("--variant", spec)]
            return ["--holdout", str(HOLDOUT_PCT)], message
        if feature == "metrics":
            return ["--metrics-port", str(free_port())], None
        raise ValueError(f"unknown feature {feature!r}")

    def ledger(self, seq: int) -> Path:
        return self.workdir / f"ledger-{seq}.sqlite"

    def clean(self) -> None:
        """Delete the ledgers (and their journals) the runs made."""
        for path in self.workdir.glob("ledger-*.sqlite*"):
            path.unlink(missing_ok=True)


def _ratio(value: float, plains: Sequence[Run], attribute: str) -> float | None:
    base = statistics.fmean(getattr(r, attribute) for r in plains)
    return value / base if base else None


def feature_cells(
    bench: Bench, count: int, repeats: int, features: Sequence[str] = FEATURES
) -> list[dict[str, Any]]:
    """Per feature: its medians, the plain runs' medians and the median ratios to the runs around it."""
    flags = FeatureFlags(bench.workdir, bench.channels)
    plain_cell = Cell("engine", "batch", 64, 0, count)
    plains: list[Run] = []
    runs: dict[str, list[Run]] = {f: [] for f in features}
    ratios: dict[str, list[tuple[float | None, float | None]]] = {f: [] for f in features}
    shown: dict[str, str] = {}
    try:
        for rep in range(repeats):
            before = bench.run(plain_cell)
            plains.append(before)
            print(report.progress_line(plain_cell, before, rep, repeats), flush=True)
            for feature in features:
                cell = Cell("engine", "batch", 64, 0, count, feature)
                extra, message = flags.flags(feature)
                shown[feature] = " ".join([*(message or []), *extra]).replace(str(bench.workdir), "$TMP")
                run = bench.run(cell, extra=extra, message=message)
                flags.clean()
                after = bench.run(plain_cell)
                plains.append(after)
                runs[feature].append(run)
                around = [r for r in (before, after) if r.ok] or [before, after]
                ratios[feature].append(
                    (
                        _ratio(run.recipients_per_s, around, "recipients_per_s"),
                        _ratio(run.cpu_us_per_recipient, around, "cpu_us_per_recipient"),
                    )
                )
                print(report.progress_line(cell, run, rep, repeats), flush=True)
                print(report.progress_line(plain_cell, after, rep, repeats), flush=True)
                before = after
    finally:
        flags.clean()
        bench.inputs.drop(count)
    plain = median_run(plains)
    rows = []
    for feature in features:
        rate = [r for r, _ in ratios[feature] if r is not None]
        cpu = [c for _, c in ratios[feature] if c is not None]
        rows.append(
            {
                "feature": feature,
                "records": count,
                "flags": shown.get(feature, ""),
                "median": median_run(runs[feature]),
                "plain": plain,
                "rate_ratio": statistics.median(rate) if rate else None,
                "cpu_ratio": statistics.median(cpu) if cpu else None,
                "runs": [r.figures() for r in runs[feature]],
            }
        )
    return rows
