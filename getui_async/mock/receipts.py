"""The mock's receipt callbacks: signed receipt lines for what it delivered, POSTed as Getui does.

Getui POSTs newline-delimited JSON receipts to the customer's URL; *any* HTTP answer means delivered
(never re-sent), a network error is tried three times and then the lines are dropped. This sender does
the same, in batches, with seeded shares of displayed, clicked and vendor-failed pushes, and optional
shares of lines lost on purpose or sent with a bad sign, and counts everything, so a test can say
exactly what a correct receiver must hold. It is an independent oracle: it computes the ``sign`` itself
(hex MD5 of appid + cid + taskid + msgid + master secret) and imports nothing of the receiver's.

:meth:`ReceiptSender.observe` is a ``MockGetui.on_delivery`` hook: it follows the mock's own seeded fates
(``msgid``, the vendor channel, displayed, clicked), so the receipts agree with the mock's reports except
for the vendor failures, lost lines and bad signs it adds on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import aiohttp

from getui_async import _json

from .recipients import STATUSES
from .state import DeliveryEvent

__all__ = ["ReceiptCounts", "ReceiptSender", "ReceiptShares"]

#: Getui's tries on a network error before it drops the lines.
SEND_ATTEMPTS: Final = 3
#: actionIds the mock sends (the receiver's own table is not imported: see the module doc).
GETUI_ARRIVED, GETUI_SHOWN, GETUI_CLICKED = 0, 10000, 10010
VENDOR_ARRIVED: Final = (110000, 120000, 140000, 150000)  # Huawei, Xiaomi, OPPO, vivo
VENDOR_FAILED: Final = (110102, 120050, 140002, 1501017)  # HW cap, XM cap, OPPO cap, vivo night
#: A mock channel's (arrived, failed) actionIds; other channels (iOS) pick from the tables above.
BY_CHANNEL: Final = {
    "hw": (110000, 110102),
    "xm": (120000, 120050),
    "op": (140000, 140002),
    "vv": (150000, 1501017),
}


@dataclass(frozen=True, kw_only=True)
class ReceiptShares:
    """Shares (0..1) of deliveries and lines; ``clicked`` is a share of the displayed ones."""

    displayed: float = 0.6
    clicked: float = 0.2
    vendor_failed: float = 0.05  # offline deliveries only: the vendor refused (cap, night hours)
    lost: float = 0.0  # lines never sent at all (Getui's receipts are lossy)
    bad_sign: float = 0.0  # lines sent with a wrong sign (the receiver must refuse them)

    def __post_init__(self) -> None:
        for name in ("displayed", "clicked", "vendor_failed", "lost", "bad_sign"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")


@dataclass
class ReceiptCounts:
    """What the sender made and what became of it (per line)."""

    made: int = 0
    lost: int = 0  # never sent, on purpose
    sent: int = 0  # reached the receiver (it answered something)
    bad_signed_sent: int = 0  # of ``sent``: with a wrong sign
    dropped: int = 0  # three network errors: dropped, as Getui does
    overflow: int = 0  # the sender's queue was full: dropped
    requests: int = 0
    failed_attempts: int = 0
    #: Lines made per actionId (before any was lost or badly signed): one delivery's fate each.
    made_by_action: Counter[int] = field(default_factory=Counter)
    #: Good (well-signed) lines the receiver answered, per actionId: what it must have stored.
    good_by_action: Counter[int] = field(default_factory=Counter)


_Line = tuple[bytes, int, bool]  # (JSON line, actionId, well signed)


class ReceiptSender:
    """Batches receipt lines and POSTs them to ``url``; use ``async with`` or start()/close()."""

    def __init__(
        self,
        url: str,
        app_id: str,
        master_secret: str,
        *,
        shares: ReceiptShares | None = None,
        seed: int = 0,
        batch_lines: int = 200,
        flush_interval_s: float = 0.2,
        concurrency: int = 4,
        max_queued_batches: int = 1000,
        timeout_s: float = 10.0,
        retry_delay_s: float = 0.1,
    ) -> None:
        self.url = url
        self.counts = ReceiptCounts()
        self._app_id = app_id
        self._secret = master_secret
        self._shares = shares or ReceiptShares()
        self._random = random.Random(seed)
        self._batch_lines = batch_lines
        self._flush_interval_s = flush_interval_s
        self._concurrency = concurrency
        self._timeout_s = timeout_s
        self._retry_delay_s = retry_delay_s
        self._pending: list[_Line] = []
        self._max_queued_batches = max_queued_batches
        self._queue: asyncio.Queue[list[_Line]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._msg_seq = 0

    async def __aenter__(self) -> ReceiptSender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the HTTP session and start the posting workers and the flush timer."""
        self._queue = asyncio.Queue(self._max_queued_batches)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._concurrency)]
        self._tasks.append(asyncio.create_task(self._tick()))

    async def close(self) -> None:
        """Send what is pending (bounded by the retries), then stop; idempotent."""
        if self._session is None or self._queue is None:
            return
        self._flush()
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._session.close()
        self._session = None

    def sign(self, cid: str, taskid: str, msgid: str) -> str:
        """Getui's receipt sign: hex MD5 of appid + cid + taskid + msgid + master secret."""
        text = self._app_id + cid + taskid + msgid + self._secret
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    async def drain(self) -> None:
        """Send what is pending and wait until every batch so far was answered or dropped (bound it with
        ``asyncio.wait_for``: a batch takes at most three tries of ``timeout_s``)."""
        if self._queue is None:
            return
        self._flush()
        await self._queue.join()

    def deliver(self, cid: str, taskid: str, *, online: bool = True) -> None:
        """Make the receipts of one delivery (arrival, maybe shown and clicked, or a vendor failure)."""
        rnd, shares = self._random, self._shares
        self._msg_seq += 1
        displayed = rnd.random() < shares.displayed
        clicked = displayed and rnd.random() < shares.clicked
        vendor = None if online else (rnd.choice(VENDOR_ARRIVED), rnd.choice(VENDOR_FAILED))
        self._receipts(cid, taskid, f"mmsg{self._msg_seq:012d}", vendor, displayed, clicked)

    def observe(self, event: DeliveryEvent) -> None:
        """A ``MockGetui.on_delivery`` hook: the receipts of the delivery the mock decided.

        An ignored push (``successed_ignore``) reached no device, so it has none; an offline one goes
        through its vendor channel, which may refuse it (``vendor_failed``).
        """
        if event.status == STATUSES[2]:
            return
        vendor = None
        if event.status != STATUSES[0]:
            rnd = self._random
            vendor = BY_CHANNEL.get(event.channel) or (rnd.choice(VENDOR_ARRIVED), rnd.choice(VENDOR_FAILED))
        self._receipts(event.cid, event.taskid, event.msgid, vendor, event.displayed, event.clicked)

    def _receipts(
        self,
        cid: str,
        taskid: str,
        msgid: str,
        vendor: tuple[int, int] | None,
        displayed: bool,
        clicked: bool,
    ) -> None:
        """One delivery's lines: ``vendor`` is the (arrived, failed) actionIds of an offline one."""
        if vendor is not None and self._random.random() < self._shares.vendor_failed:
            self._line(cid, taskid, msgid, vendor[1])
            return
        self._line(cid, taskid, msgid, GETUI_ARRIVED if vendor is None else vendor[0])
        if displayed:
            self._line(cid, taskid, msgid, GETUI_SHOWN)
            if clicked:
                self._line(cid, taskid, msgid, GETUI_CLICKED)

    def _line(self, cid: str, taskid: str, msgid: str, action_id: int) -> None:
        counts, rnd = self.counts, self._random
        counts.made += 1
        counts.made_by_action[action_id] += 1
        if rnd.random() < self._shares.lost:
            counts.lost += 1
            return
        good = rnd.random() >= self._shares.bad_sign
        sign = self.sign(cid, taskid, msgid) if good else self.sign(cid, taskid, msgid + "x")
        receipt = {
            "appid": self._app_id,
            "cid": cid,
            "taskid": taskid,
            "msgid": msgid,
            "code": 200,
            "desc": "ok",
            "sign": sign,
            "actionId": action_id,
            "recvtime": int(time.time() * 1000),
        }
        self._pending.append((_json.dumps(receipt), action_id, good))
        if len(self._pending) >= self._batch_lines:
            self._flush()

    def _flush(self) -> None:
        if not self._pending or self._queue is None:
            return
        batch, self._pending = self._pending, []
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.counts.overflow += len(batch)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            self._flush()

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._queue.get()
            try:
                await self._post(batch)
            finally:
                self._queue.task_done()

    async def _post(self, batch: list[_Line]) -> None:
        """One request, tried up to three times on network errors; any HTTP answer = delivered."""
        assert self._session is not None
        body = b"\n".join(line for line, _, _ in batch)
        counts = self.counts
        for attempt in range(SEND_ATTEMPTS):
            counts.requests += 1
            try:
                async with self._session.post(self.url, data=body) as reply:
                    await reply.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                counts.failed_attempts += 1
                if attempt + 1 < SEND_ATTEMPTS:
                    await asyncio.sleep(self._retry_delay_s)
                continue
            counts.sent += len(batch)
            for _, action_id, good in batch:
                if good:
                    counts.good_by_action[action_id] += 1
                else:
                    counts.bad_signed_sent += 1
            return
        counts.dropped += len(batch)
