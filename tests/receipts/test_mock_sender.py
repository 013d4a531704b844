"""The mock's ReceiptSender against the real receiver: what it says it delivered is what is stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from getui_async.mock.receipts import SEND_ATTEMPTS, ReceiptSender, ReceiptShares
from getui_async.receipts.opening import open_store
from tests.components import free_port
from tests.receipts.conftest import APP_ID, MASTER_SECRET, Receiver, stop

DELIVERIES = 3000


async def test_sender_counts_match_the_store(receiver: Callable[..., Receiver], tmp_path: Path) -> None:
    """Stored receipts by actionId equal the sender's good lines; bad signs refused; lost ones absent."""
    store_path = str(tmp_path / "r.db")
    served = receiver(store_path)
    shares = ReceiptShares(displayed=0.5, clicked=0.3, vendor_failed=0.1, lost=0.05, bad_sign=0.02)
    async with ReceiptSender(served.url, APP_ID, MASTER_SECRET, shares=shares, seed=7) as sender:
        for i in range(DELIVERIES):
            sender.deliver(f"cid{i:05d}", "RASL_mock", online=i % 2 == 0)
    counts = sender.counts
    assert counts.made == counts.lost + counts.sent + counts.dropped + counts.overflow
    assert counts.dropped == counts.overflow == 0
    assert 0 < counts.lost < counts.made * 0.1
    assert counts.bad_signed_sent > 0
    assert stop(served.proc) == 0
    assert f"refused={counts.bad_signed_sent} (bad_sign={counts.bad_signed_sent})" in served.stderr()
    store = await open_store(store_path)
    try:
        assert await store.by_action() == dict(counts.good_by_action)
    finally:
        await store.close()
    assert counts.good_by_action[10010] > 0  # clicks
    assert sum(counts.good_by_action[a] for a in (110102, 120050, 140002, 1501017)) > 0  # vendor failures


async def test_network_errors_are_tried_three_times_then_dropped() -> None:
    """Nobody listening: each batch is tried three times, then its lines are dropped and counted."""
    url = f"http://127.0.0.1:{free_port()}/"
    sender = ReceiptSender(url, APP_ID, MASTER_SECRET, batch_lines=50, retry_delay_s=0.0)
    async with sender:
        for i in range(100):
            sender.deliver(f"c{i}", "t", online=True)
    counts = sender.counts
    assert counts.sent == 0
    assert counts.dropped == counts.made
    assert counts.failed_attempts == counts.requests
    assert counts.requests % SEND_ATTEMPTS == 0
    assert counts.requests >= 2 * SEND_ATTEMPTS


def test_shares_are_checked() -> None:
    """A share outside 0..1 is refused."""
    with pytest.raises(ValueError, match="lost"):
        ReceiptShares(lost=1.5)
