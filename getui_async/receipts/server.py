"""The receipt endpoint: an aiohttp app that takes Getui's POSTs, checks each line, stores, then answers.

Getui counts *any* HTTP answer as delivered and never sends those lines again; only a network error makes
it retry (three times, then it drops them). So the handler answers 200 only after the store's ``add``
returned (the lines are durable), and when the store fails it aborts the connection without a byte of
answer: Getui sees a network error and tries again. Lines that fail their checks are refused one by one,
counted by :class:`~getui_async.receipts.protocol.Refusal`, never stored, and never fail the good lines
of the same request (answering an error would not make Getui send a good sign instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiohttp import web

from getui_async import _json

from .protocol import Verifier
from .store import ReceiptStore
from .tally import DEFAULT_MAX_REQUEST_BYTES, LOG_INTERVAL_S, Tally

__all__ = ["ReceiptServer", "serve"]

logger = logging.getLogger(__name__)

#: In-flight requests get this long to finish (and be answered) after SIGTERM.
SHUTDOWN_TIMEOUT_S: Final = 10.0


class ReceiptServer:
    """The app's handlers and counters, around one verifier and one (open) store."""

    def __init__(
        self,
        verifier: Verifier,
        store: ReceiptStore,
        *,
        path: str = "/",
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        log_interval_s: float = LOG_INTERVAL_S,
    ) -> None:
        if not path.startswith("/"):
            path = "/" + path
        self.path = path
        self.tally = Tally()
        self._verifier = verifier
        self._store = store
        self._max_request_bytes = max_request_bytes
        self._log_interval_s = log_interval_s
        self.too_large = 0

    def app(self) -> web.Application:
        """The aiohttp application: POST at ``/`` and at the configured path, GET ``/healthz``."""
        app = web.Application(client_max_size=self._max_request_bytes)
        app.router.add_post("/", self._receive)
        if self.path != "/":
            app.router.add_post(self.path, self._receive)
        app.router.add_get("/healthz", self._healthz)
        app.cleanup_ctx.append(self._log_counts)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        """Check the body's lines, store the good ones durably, and only then answer."""
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.too_large += 1
            logger.warning("receipts: a request over %d bytes was refused (413)", self._max_request_bytes)
            raise
        tally = Tally()
        receipts = tally.check(self._verifier, body.split(b"\n"))
        try:
            stored = await self._store.add(receipts)
        except Exception as exc:  # no answer at all, whatever failed: Getui retries
            self.tally.store_failures += 1
            logger.error("receipts: not stored, connection dropped so Getui retries: %s", exc)
            _drop(request)
            raise web.HTTPServiceUnavailable() from None  # only if the transport was already gone
        tally.stored, tally.duplicate = stored, len(receipts) - stored
        self._merge(tally)
        answer = {
            "received": tally.received,
            "stored": stored,
            "duplicate": tally.duplicate,
            "refused": tally.refused_total,
        }
        return web.Response(body=_json.dumps(answer), content_type="application/json")

    def _merge(self, tally: Tally) -> None:
        total = self.tally
        total.received += tally.received
        total.stored += tally.stored
        total.duplicate += tally.duplicate
        total.refused.update(tally.refused)

    async def _healthz(self, request: web.Request) -> web.Response:
        """For the load balancer: the process is up and answering."""
        return web.Response(text="ok\n")

    async def _log_counts(self, app: web.Application) -> AsyncIterator[None]:
        """Log the count line every ``log_interval_s`` while the app runs (a cleanup context)."""
        task = asyncio.create_task(self._log_loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _log_loop(self) -> None:
        while True:
            await asyncio.sleep(self._log_interval_s)
            logger.info("receipts: %s", self.tally.line())


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (a reset), so the sender sees a network error."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def serve(
    server: ReceiptServer,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set), then stop taking requests and finish the rest.

    ``ready`` gets the URL actually bound (the port may have been 0).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    runner = web.AppRunner(
        server.app(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    signals = (signal.SIGTERM, signal.SIGINT)
    try:
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        if ready is not None:
            ready(f"http://{shown}:{bound[1]}{server.path}")
        await stop.wait()
        logger.info("receipts: stopping; %s", server.tally.line())
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
