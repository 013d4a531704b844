"""``getui-push demo``: a whole campaign through the real engine against the bundled mock server.

It writes a sample recipients file with a few realistic problems (a duplicate, a row without a cid,
cids Getui does not know), starts the mock on 127.0.0.1 with a little latency and a few 5xx replies,
runs ``send`` exactly as a user would (same code path, progress and summary), and then checks the
mock's own delivery log against the results file.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Final

from .config import CampaignSettings, Credentials, RetrySettings, Settings
from .messages import MessageTemplate
from .mock import MockConfig, MockGetui
from .mock.cli import export_lines
from .outcome import DELIVERY_STATUSES
from .results import ResultsReader
from .results.record import F_STATUS
from .results.sidecar import remove_results
from .runner import EXIT_STOPPED, PROG, SendJob, run_send

__all__ = ["run_demo"]

CITIES: Final = ("Beijing", "Shanghai", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan")


def write_recipients(path: Path, records: int) -> None:
    """``cid,name,city`` rows; ~1% of them point at problems the results file will report."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("cid,name,city\n")
        for i in range(records):
            if i % 500 == 250:
                f.write(f"invalid{i:026d},User {i},{CITIES[i % len(CITIES)]}\n")  # unknown to Getui
            elif i % 1000 == 999:
                f.write(f"{i - 1:032x},User {i - 1},Again\n")  # the previous row's cid again
            elif i % 2000 == 1234:
                f.write(f",Nobody {i},Nowhere\n")  # no cid
            else:
                f.write(f"{i:032x},User {i},{CITIES[i % len(CITIES)]}\n")


def _count_statuses(results: Path) -> Counter[str]:
    return Counter(line[F_STATUS] for _, line in ResultsReader(results).decoded() if line is not None)


def _prepare(directory: Path, records: int) -> tuple[Path, Path]:
    """A fresh recipients file and no stale results (the demo always starts over)."""
    directory.mkdir(parents=True, exist_ok=True)
    recipients = directory / "recipients.csv"
    out = directory / "results.jsonl"
    remove_results(out)
    write_recipients(recipients, records)
    return recipients, out


async def run_demo(*, records: int, directory: Path, progress: bool) -> int:
    """Run the demo; the exit status is the send's (1: the sample holds bad records on purpose).

    A disagreement between the mock's delivery log and the results file is also 1, said on stderr.
    """
    recipients, out = await asyncio.to_thread(_prepare, directory, records)
    config = MockConfig(latency_ms=2.0, latency_jitter_ms=3.0, http_5xx_rate=0.01, seed=7)
    async with MockGetui(config) as mock:
        print(
            f"{PROG} demo: mock Getui server on {mock.base_url} (5xx on 1%)\n"
            f"{PROG} demo: the credentials it accepts (`{PROG} mock-server` takes them too):",
            file=sys.stderr,
        )
        print("\n".join(f"  {line}" for line in export_lines(mock)), file=sys.stderr)
        settings = Settings(
            credentials=Credentials(
                app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret
            ),
            base_url=mock.base_url,
            retry=RetrySettings(backoff_initial_s=0.05, backoff_max_s=1.0),
        )
        job = SendJob(
            input=str(recipients),
            format=None,
            out=out,
            template=MessageTemplate.simple(title="Hello {name}", body="Your {city} offer is waiting"),
            settings=settings,
            options=CampaignSettings(concurrency=16),
            resume=False,
            progress=progress and sys.stderr.isatty(),
        )
        summary, _ = await run_send(job)
        delivered = dict(mock.deliveries)
    statuses = await asyncio.to_thread(_count_statuses, out)
    sent = sum(statuses[status] for status in DELIVERY_STATUSES)
    twice = sum(1 for n in delivered.values() if n > 1)
    print(
        f"{PROG} demo: the mock delivered {sum(delivered.values()):,} to {len(delivered):,} devices "
        f"({twice} twice)\n"
        f"{PROG} demo: results: {sum(statuses.values()):,} lines for {records:,} records, "
        f"{sent:,} delivered",
        file=sys.stderr,
    )
    print(f"{PROG} demo: recipients {recipients}\n{PROG} demo: results    {out}", file=sys.stderr)
    if summary.stopped:
        return EXIT_STOPPED
    if twice or sent != len(delivered):
        print(f"{PROG} demo: MISMATCH between the mock's deliveries and the results file", file=sys.stderr)
        return max(1, summary.exit_code)
    if summary.exit_code:
        print(f"{PROG} demo: exit 1: the sample has failed and rejected records on purpose", file=sys.stderr)
    return summary.exit_code
