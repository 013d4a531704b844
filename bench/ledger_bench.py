"""Ledger cost per recipient: the --max-per-day check plus the delivery record, per batch of 200.

The cell of issue #14: a ledger already holding ``--existing`` rows for the day (from an earlier
campaign), then ``--recipients`` recipients of a new campaign in batches of ``--batch``; each batch is one
``FrequencyCap.over`` (one read transaction) and one ``SqliteLedger.record`` of the recipients it did not
cap (one write transaction), as the engine would do at intake and at the results hand-off. ``--overlap``
is the share of recipients the earlier campaign reached. Prints µs per recipient for each half and
compares with the engine's ~10 µs per batched recipient.

    python bench/ledger_bench.py                      # 1 M + 1 M, in a temp dir
    python bench/ledger_bench.py --recipients 100000 --existing 100000 --json
    python bench/ledger_bench.py --exclusions 5000000   # ExclusionSet: load time, peak RSS, lookups
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from getui_async import _json
from getui_async.exclusions import ExclusionSet
from getui_async.ledger import DEFAULT_MERGE_ROWS, FrequencyCap, Key, SqliteLedger

ENGINE_US_PER_RECIPIENT = 10.0  # design.md: batch mode costs ~11-17 µs of client CPU per recipient
DAY = date(2026, 12, 1)


def cid(n: int) -> str:
    """A 32-hex cid like Getui's, deterministic per number."""
    return hashlib.blake2b(n.to_bytes(8, "little"), digest_size=16).hexdigest()


def fill(ledger: SqliteLedger, rows: int, batch: int = 50_000) -> float:
    """Rows ``0..rows-1`` delivered today by an earlier campaign; returns seconds taken."""
    start = time.perf_counter()
    for base in range(0, rows, batch):
        keys: list[Key] = [("cid", cid(n)) for n in range(base, min(rows, base + batch))]
        ledger.record("earlier-campaign", DAY, keys)
    return time.perf_counter() - start


def run(
    recipients: int, existing: int, batch: int, overlap: float, workdir: Path, merge_rows: int
) -> dict[str, float]:
    """The cell: wall (perf_counter) and this thread's CPU (thread_time) per recipient, check and record.

    On a shared machine the CPU figures are the ones to compare with the engine's CPU budget.
    """
    path = workdir / "ledger.sqlite"
    clocks = (time.perf_counter, time.thread_time)
    with SqliteLedger(path, merge_rows=merge_rows) as ledger:
        fill_s = fill(ledger, existing)
        cap = FrequencyCap(ledger, "new-campaign", max_per_day=1)
        # recipient i is a cid the earlier campaign reached when i < overlap * recipients
        reached = int(overlap * recipients)
        first_new = existing
        load = [-c() for c in clocks]
        cap.over(DAY, [])  # the day's snapshot: loaded once per day (and per snapshot_ttl_s)
        load = [t + c() for t, c in zip(load, clocks, strict=True)]
        check = [0.0, 0.0]
        record = [0.0, 0.0]
        capped = 0
        for base in range(0, recipients, batch):
            keys: list[Key] = [
                ("cid", cid(i if i < reached else first_new + i))
                for i in range(base, min(recipients, base + batch))
            ]
            t0 = [c() for c in clocks]
            over = cap.over(DAY, keys)
            t1 = [c() for c in clocks]
            ledger.record("new-campaign", DAY, [k for k in keys if k not in over])
            t2 = [c() for c in clocks]
            for i in range(2):
                check[i] += t1[i] - t0[i]
                record[i] += t2[i] - t1[i]
            capped += len(over)
        merge = [-c() for c in clocks]
        rows = ledger.rows()  # merges what is still pending, as close() would
        merge = [t + c() for t, c in zip(merge, clocks, strict=True)]
    size_mb = sum(p.stat().st_size for p in workdir.iterdir()) / 1e6

    def us(seconds: float) -> float:
        return round(seconds / recipients * 1e6, 2)

    cpu_total = (load[1] + check[1] + record[1] + merge[1]) / recipients * 1e6
    return {
        "recipients": recipients,
        "existing_rows": existing,
        "batch": batch,
        "overlap": overlap,
        "capped": capped,
        "rows_after": rows,
        "merge_rows": merge_rows,
        "fill_s": round(fill_s, 2),
        "snapshot_load_s": round(load[0], 2),
        "check_us_per_recipient": us(check[0]),
        "record_us_per_recipient": us(record[0]),
        "check_cpu_us_per_recipient": us(check[1]),
        "record_cpu_us_per_recipient": us(record[1]),
        "final_merge_s": round(merge[0], 2),
        "final_merge_cpu_us_per_recipient": us(merge[1]),
        "snapshot_load_cpu_us_per_recipient": us(load[1]),
        "cpu_us_per_recipient_with_load": round(cpu_total, 2),
        "overhead_vs_engine": round(cpu_total / ENGINE_US_PER_RECIPIENT, 3),
        "db_mb": round(size_mb, 1),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_exclusions(ids: int, lookups: int, batch: int, overlap: float, workdir: Path) -> dict[str, float]:
    """Load ``ids`` cids from a text file into an ExclusionSet; time it, its memory and batch lookups."""
    listed = workdir / "excluded.txt"
    with listed.open("w") as out:
        for base in range(0, ids, 100_000):
            out.write("".join(f"{cid(n)}\n" for n in range(base, min(ids, base + 100_000))))
    before = peak_rss_mb()
    start = time.perf_counter()
    with ExclusionSet.load([listed]) as excluded:
        load_s = time.perf_counter() - start
        loaded_peak = peak_rss_mb()
        listed_every = max(1, round(1 / overlap)) if overlap > 0 else 0
        batches = [
            [cid(n if listed_every and n % listed_every == 0 else ids + n) for n in range(base, base + batch)]
            for base in range(0, lookups, batch)
        ]  # built before timing: the engine has its targets already
        hits = 0
        start = time.perf_counter()
        for targets in batches:
            hits += len(excluded.contains_many("cid", targets))
        lookup_s = time.perf_counter() - start
        held = len(excluded)
        excluded_bytes = excluded.prefilter_bytes
    return {
        "excluded_ids": ids,
        "held": held,
        "load_s": round(load_s, 2),
        "peak_rss_before_mb": round(before, 1),
        "peak_rss_after_load_mb": round(loaded_peak, 1),
        "rss_growth_mb": round(loaded_peak - before, 1),
        "list_file_mb": round(listed.stat().st_size / 1e6, 1),
        "lookups": lookups,
        "listed_share": overlap,
        "prefilter_mb": round(excluded_bytes / 1e6, 1),
        "hits": hits,
        "lookup_us_per_recipient": round(lookup_s / lookups * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--existing", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--overlap", type=float, default=0.5)
    parser.add_argument("--dir", type=Path, default=None, help="where the ledger goes (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--merge-rows", type=int, default=DEFAULT_MERGE_ROWS, help="SqliteLedger(merge_rows=)"
    )
    parser.add_argument("--exclusions", type=int, default=0, help="measure an ExclusionSet of N ids instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-", dir=args.dir) as tmp:
        if args.exclusions:
            result = run_exclusions(
                args.exclusions, min(args.recipients, 200_000), args.batch, args.overlap, Path(tmp)
            )
        else:
            result = run(args.recipients, args.existing, args.batch, args.overlap, Path(tmp), args.merge_rows)
    if args.json:
        sys.stdout.write(_json.dumps(result).decode() + os.linesep)
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    if args.exclusions:
        return 0
    if not args.json:
        verdict = "within" if result["overhead_vs_engine"] <= 0.2 else "over"
        print(
            f"ledger + cap cost is {verdict} 20% of the engine's ~{ENGINE_US_PER_RECIPIENT:g} µs a recipient"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
