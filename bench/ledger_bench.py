"""The ledger's cost: claims before send, per recipient and in a whole campaign.

The cell of the claim protocol: a 200,000-record batch campaign (``getui-push send`` against the bundled
mock, as ``pace_bench.py`` runs it) with ``--max-per-day 1`` on a SQLite ledger and on a local PostgreSQL,
beside the same run uncapped; recipients/s and the client's CPU per recipient, runs alternating so a
change in machine load hits every kind. Goal: >= 0.8x the uncapped rate on SQLite, >= 0.6x on PostgreSQL.

    python bench/ledger_bench.py                           # the campaign cell, 200,000 recipients
    python bench/ledger_bench.py --count 50000 --repeats 1 --json
    python bench/ledger_bench.py --postgres postgresql://u@127.0.0.1:5432/bench   # a server of yours
    python bench/ledger_bench.py --claims 1000000 --existing 1000000   # claim + settle µs a recipient
    python bench/ledger_bench.py --exclusions 5000000      # ExclusionSet: load time, peak RSS, lookups

Without ``--postgres`` a throwaway server is started the way the tests start one (Debian's package).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import FULL, Bench, Mock, cpu_split
from getui_async import _json
from getui_async.exclusions import ExclusionSet
from getui_async.ledger import Settlement, SqliteLedger, open_ledger, today

TARGETS = {"sqlite": 0.8, "postgresql": 0.6}  # the rate with a cap, as a share of the uncapped one
ENGINE_US_PER_RECIPIENT = 10.0  # design.md: batch mode costs ~11-17 µs of client CPU per recipient


def cid(n: int) -> str:
    """A 32-hex cid like Getui's, deterministic per number."""
    return hashlib.blake2b(n.to_bytes(8, "little"), digest_size=16).hexdigest()


def fill_sqlite(path: Path, rows: int, prefix: str = "e") -> float:
    """A new SQLite ledger with ``rows`` deliveries today by an earlier run (cids ``{prefix}{n:031x}``,
    never in a bench input), written by one statement; returns seconds taken."""
    start = time.perf_counter()
    ledger = asyncio.run(SqliteLedger.open(path))
    day = today(ledger.zone)
    asyncio.run(ledger.close())
    with sqlite3.connect(path) as conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
            " INSERT INTO marks SELECT ?, 0, ? || printf('%031x', i), 'earlier', 1, 0 FROM n",
            (rows, day, prefix),
        )
    return time.perf_counter() - start


async def claims_cell(spec: str, recipients: int, batch: int) -> dict[str, Any]:
    """Claim then settle ``recipients`` in chunks of ``batch`` on the ledger ``spec`` (as a run does)."""
    ledger = await open_ledger(spec)
    day, lineage = today(ledger.zone), uuid.uuid4().hex
    clocks = (time.perf_counter, time.process_time)
    claim, settle = [0.0, 0.0], [0.0, 0.0]
    try:
        for base in range(0, recipients, batch):
            targets = [cid(i) for i in range(base, min(recipients, base + batch))]
            t0 = [c() for c in clocks]
            await ledger.screen(lineage, day, "cid", targets, cap=1, suppress=True)
            t1 = [c() for c in clocks]
            await ledger.settle(lineage, Settlement(delivered=[(day, "cid", t) for t in targets]))
            t2 = [c() for c in clocks]
            for i in range(2):
                claim[i] += t1[i] - t0[i]
                settle[i] += t2[i] - t1[i]
    finally:
        await ledger.close()

    def us(seconds: float) -> float:
        return round(seconds / recipients * 1e6, 2)

    return {
        "recipients": recipients,
        "batch": batch,
        "claim_us_per_recipient": us(claim[0]),
        "settle_us_per_recipient": us(settle[0]),
        "claim_cpu_us_per_recipient": us(claim[1]),
        "settle_cpu_us_per_recipient": us(settle[1]),
        "cpu_share_of_engine": round((claim[1] + settle[1]) / recipients * 1e6 / ENGINE_US_PER_RECIPIENT, 3),
    }


@contextlib.contextmanager
def postgres_url(given: str | None) -> Iterator[str]:
    """``given``, or a fresh database on a throwaway local server (started as the tests start one)."""
    if given is not None:
        yield given
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.components import postgres_server  # only when no server was given

    with postgres_server() as server:
        yield server.url


def campaign_cell(count: int, repeats: int, postgres: str | None, timeout_s: float) -> dict[str, Any]:
    """Uncapped, SQLite-capped and PostgreSQL-capped runs of one batch campaign, alternating."""
    from pace_bench import one_run  # here: pace_bench imports this module

    mock_cpu, _ = cpu_split()
    mock = Mock(mock_cpu)
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp, postgres_url(postgres) as server:
            bench = Bench(replace(FULL, repeats=repeats), mock, Path(tmp), "getui")
            bench.inputs.csv(count)
            for n in range(repeats):
                for kind in ("plain", "sqlite", "postgresql"):
                    spec: str | None = None
                    if kind == "sqlite":
                        spec = str(Path(tmp) / f"ledger-{n}.sqlite")
                    elif kind == "postgresql":
                        spec = asyncio.run(_fresh_database(server, f"bench_{n}_{uuid.uuid4().hex[:8]}"))
                    run = one_run(bench, count, spec, timeout_s)
                    run["kind"] = kind
                    run["cpu_us_per_recipient"] = round(run["cpu_s"] / max(1, run["lines"]) * 1e6, 1)
                    runs.append(run)
    finally:
        mock.close()
    rates = {
        k: statistics.median(r["recipients_per_s"] for r in runs if r["kind"] == k)
        for k in TARGETS | {"plain": 0}
    }
    cpu = {k: statistics.median(r["cpu_us_per_recipient"] for r in runs if r["kind"] == k) for k in rates}
    return {
        "count": count,
        "recipients_per_s": rates,
        "cpu_us_per_recipient": cpu,
        "ratio": {k: round(rates[k] / rates["plain"], 3) for k in TARGETS},
        "target_ratio": TARGETS,
        "runs": runs,
    }


async def _fresh_database(url: str, name: str) -> str:
    import asyncpg  # the postgres extra, only for this cell

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


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
    parser.add_argument("--count", type=int, default=200_000, help="records of the campaign cell")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind (default 2)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to use (default: start one)")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="longest one run may take")
    parser.add_argument("--claims", type=int, default=0, help="measure N claims + settlements instead")
    parser.add_argument("--existing", type=int, default=1_000_000, help="rows today before --claims")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--overlap", type=float, default=0.5, help="listed share for --exclusions")
    parser.add_argument("--exclusions", type=int, default=0, help="measure an ExclusionSet of N ids instead")
    parser.add_argument("--dir", type=Path, default=None, help="where files go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-", dir=args.dir) as tmp:
        if args.exclusions:
            result = run_exclusions(
                args.exclusions, min(args.count, 200_000), args.batch, args.overlap, Path(tmp)
            )
        elif args.claims:
            path = Path(tmp) / "ledger.sqlite"
            fill_s = fill_sqlite(path, args.existing)
            result = {"existing_rows": args.existing, "fill_s": round(fill_s, 1)}
            result |= asyncio.run(claims_cell(str(path), args.claims, args.batch))
        else:
            result = campaign_cell(args.count, args.repeats, args.postgres, args.timeout_s)
    if args.json:
        sys.stdout.write(_json.dumps(result).decode() + os.linesep)
        return 0
    for key, value in result.items():
        if key != "runs":
            print(f"{key:>30}: {value}")
    for run in result.get("runs", []):
        print(
            f"{run['kind']:>10}  {run['lines']:>9,} lines  {run['recipients_per_s']:>9,.0f}/s  "
            f"cpu {run['cpu_us_per_recipient']:>6.1f} µs/recipient  rss {run['peak_rss_mb']:>6.1f} MB  "
            f"exit {run['exit']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
