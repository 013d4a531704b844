"""``getui-push demo``: a whole campaign through the real engine against the bundled mock server.

It writes a sample recipients file with a few realistic problems (a duplicate, a row without a cid,
cids Getui does not know), starts the mock on 127.0.0.1 with a little latency and a few 5xx replies,
runs ``send`` exactly as a user would (same code path, progress and summary), and then checks the
mock's own delivery log against the results file. The mock POSTs Getui's receipt callbacks for what it
delivers to a receipt endpoint served in the same loop (a temporary SQLite store), and the demo ends
with the funnel ``report --receipts`` would show.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from aiohttp import web

from .config import CampaignSettings, Credentials, RetrySettings, Secret, Settings
from .engine import Summary
from .messages import MessageTemplate
from .mock import MockConfig, MockGetui
from .mock.cli import export_lines
from .mock.config import DEMO_APP_ID, DEMO_MASTER_SECRET
from .outcome import DELIVERY_STATUSES
from .receipts import Verifier, open_store, parse_store
from .receipts.server import ReceiptServer
from .report.receipts import join_receipts
from .report.receipts_view import receipts_text
from .results import ResultsReader
from .results.record import F_STATUS
from .results.sidecar import remove_results
from .runner import EXIT_STOPPED, PROG, SendJob, run_send

__all__ = ["run_demo"]

CITIES: Final = ("Beijing", "Shanghai", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan")
#: How long the demo waits, after the send, for the mock's last receipts to be answered.
RECEIPTS_DRAIN_S: Final = 15.0


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


@contextlib.asynccontextmanager
async def _receipt_endpoint(store: str) -> AsyncIterator[str]:
    """``receipts serve`` for the mock's app, in this loop on a free 127.0.0.1 port: yields its URL."""
    opened = await open_store(store)
    server = ReceiptServer(Verifier(DEMO_APP_ID, Secret(DEMO_MASTER_SECRET)), opened)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()
        await opened.close()


async def _drain_receipts(mock: MockGetui) -> None:
    """Wait, bounded, until the mock's receipt sender has had every batch answered (or dropped)."""
    sender = mock.receipts
    if sender is None:
        return
    try:
        await asyncio.wait_for(sender.drain(), RECEIPTS_DRAIN_S)
    except TimeoutError:
        print(f"{PROG} demo: receipts still in flight after {RECEIPTS_DRAIN_S:.0f} s", file=sys.stderr)
    counts = sender.counts
    print(
        f"{PROG} demo: the mock POSTed {counts.sent:,} receipt lines to {sender.url} "
        f"({counts.dropped + counts.overflow:,} dropped)",
        file=sys.stderr,
    )


async def _print_funnel(out: Path, store: str) -> None:
    """The receipts funnel, as ``report R --receipts STORE`` shows it."""
    joined = await join_receipts([out], parse_store(store))
    block = joined.to_dict() | {"store": "the mock's callbacks, a temporary store"}
    lines = receipts_text(block)
    print("\n".join(f"{PROG} demo: {line}" for line in lines), file=sys.stderr)


async def run_demo(*, records: int, directory: Path, progress: bool) -> int:
    """Run the demo; the exit status is the send's (1: the sample holds bad records on purpose).

    A disagreement between the mock's delivery log and the results file is also 1, said on stderr.
    """
    recipients, out = await asyncio.to_thread(_prepare, directory, records)
    with tempfile.TemporaryDirectory(prefix="getui-demo-receipts-") as scratch:
        store = str(Path(scratch) / "receipts.sqlite")
        async with _receipt_endpoint(store) as receipts_url:
            summary, delivered = await _send(recipients, out, receipts_url, progress)
        status = await _check(records, recipients, out, summary, delivered)
        await _print_funnel(out, store)
    return status


async def _send(
    recipients: Path, out: Path, receipts_url: str, progress: bool
) -> tuple[Summary, dict[str, int]]:
    """The campaign against the mock (which POSTs receipts to ``receipts_url``), and its deliveries."""
    config = MockConfig(
        latency_ms=2.0, latency_jitter_ms=3.0, http_5xx_rate=0.01, seed=7, receipts_url=receipts_url
    )
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
        await _drain_receipts(mock)
    return summary, delivered


async def _check(
    records: int, recipients: Path, out: Path, summary: Summary, delivered: dict[str, int]
) -> int:
    """The mock's delivery log against the results file; the demo's exit status."""
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
