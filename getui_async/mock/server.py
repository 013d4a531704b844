"""The mock Getui REST v2 server: strict validation, observable deliveries and seeded fault injection.

:class:`MockGetui` wires the parts and owns the listening socket; each part has one job::

    routes      the route table and each request's path (faults -> appid -> token -> body -> handler)
    faults      latency, 301, 5xx, resets, hangs, throttling, busy
    tokens      /auth sign-in, token expiry and revocation
    pushes      single, batch and list pushes (validate, dedupe, quota, deliver), task stop
    revokes     what a revoke message does to earlier deliveries, as a device would
    queries     /user/* and /report/push/*
    recipients  targets to cids, each cid's seeded fate, and the ``on_delivery`` observers
    quota       the daily recipient pool
    control     /_mock/* (stats, deliveries, revocations, bodies, reset, faults)
    receipts    with ``receipts_url``: signed receipt lines POSTed for each delivery, as Getui's callbacks

It imports nothing from getui_async but ``_json``, so it cannot share a bug with our client.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from .config import FIXED_AT_START, MockConfig
from .control import control_routes
from .faults import Faults
from .pushes import Pushes
from .queries import Queries
from .quota import Quota
from .receipts import ReceiptSender, ReceiptShares
from .recipients import Recipients
from .revokes import Revoker
from .routes import Router, getui_routes
from .state import Counters, Delivery, DeliveryHook, DeliveryStore, Live, MockStats, RequestLog
from .tokens import TokenDesk
from .wire import ALT_PREFIX, MAX_REQUEST_LINE, PRIMARY_PREFIX, Call, Reply

__all__ = ["MockGetui"]


class MockGetui:
    """A local Getui on 127.0.0.1: ``async with MockGetui(MockConfig(...)) as mock: mock.base_url``.

    ``clock`` (seconds since the epoch) drives token expiry, auth skew, rate windows, token revocation,
    quota days and list-task lifetimes, so tests can move time without sleeping.
    """

    def __init__(self, config: MockConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._live = Live(config if config is not None else MockConfig(), clock)
        self._store = DeliveryStore()
        self._faults = Faults(self._live)
        self._tokens = TokenDesk(self._live)
        self._recipients = Recipients(self._live, self._store)
        self._quota = Quota(self._live)
        revoker = Revoker(self._live, self._store, self._recipients)
        self._pushes = Pushes(self._live, self._recipients, self._quota, revoker)
        self._queries = Queries(self._live, self._recipients, self._pushes, self._quota)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._receipts: ReceiptSender | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; the port is known once this returns."""
        if self._runner is not None:
            raise RuntimeError("the mock server is already started")
        cfg = self._live.config
        self._faults.open()
        host = cfg.host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, cfg.port), family=family, backlog=1024)
        self._port = sock.getsockname()[1]
        app = web.Application(client_max_size=16 * 1024 * 1024)
        routes = getui_routes(self._auth, self._tokens, self._pushes, self._queries)
        routes += control_routes(self, self._live)
        Router(self._live, self._faults, self._tokens).mount(app, routes)
        # A user/detail path names up to 1,000 cids (~33 KB): aiohttp's 8 KiB request-line default
        # would answer 400 where Getui answers the look-up.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, max_line_size=MAX_REQUEST_LINE)
        await runner.setup()
        try:
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if cfg.receipts_url:
            await self._start_receipts(cfg)

    async def _start_receipts(self, cfg: MockConfig) -> None:
        """Attach a :class:`ReceiptSender` to ``on_delivery``: Getui's callbacks for what is delivered."""
        assert cfg.receipts_url is not None
        shares = ReceiptShares(
            vendor_failed=cfg.receipts_vendor_failed, lost=cfg.receipts_lost, bad_sign=cfg.receipts_bad_sign
        )
        sender = ReceiptSender(cfg.receipts_url, cfg.app_id, cfg.master_secret, shares=shares, seed=cfg.seed)
        await sender.start()
        self._receipts = sender
        self._live.on_delivery.append(sender.observe)

    async def stop(self) -> None:
        """Stop serving; hanging requests are released at once. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._faults.close()
        await runner.cleanup()
        sender, self._receipts = self._receipts, None
        if sender is not None:
            self._live.on_delivery.remove(sender.observe)
            await sender.close()  # what was delivered still gets its receipts (bounded by the retries)

    async def __aenter__(self) -> MockGetui:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- public view ----------------------------------------------------------------------------

    @property
    def config(self) -> MockConfig:
        return self._live.config

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the mock's time rules follow (seconds since the epoch)."""
        return self._live.clock

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the mock server is not started")
        return self._port

    @property
    def url(self) -> str:
        """The server root (the control endpoints live under ``/_mock``)."""
        host = self._live.config.host.strip("[]")
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The client's base URL; the client calls ``{base_url}/{app_id}/...``."""
        return self.url + PRIMARY_PREFIX

    @property
    def alt_base_url(self) -> str:
        """Where the API is also served: the target of the ``host_change`` 301."""
        return self.url + ALT_PREFIX

    @property
    def app_id(self) -> str:
        return self._live.config.app_id

    @property
    def app_key(self) -> str:
        return self._live.config.app_key

    @property
    def master_secret(self) -> str:
        return self._live.config.master_secret

    @property
    def deliveries(self) -> Mapping[str, int]:
        """``cid -> number of deliveries`` (a live read-only view)."""
        return self._store.counts()

    def delivery_log(self, cid: str) -> list[Delivery]:
        """Every delivery to ``cid``, oldest first."""
        return self._store.log(cid)

    @property
    def revocations(self) -> Mapping[tuple[str, str], int]:
        """``(taskid, cid) -> revokes that named that delivery`` (a live read-only view)."""
        return self._store.revocations()

    def last_notify_id(self, cid: str) -> int | None:
        """The ``notify_id`` of the last delivery to ``cid`` that carried one: what its device shows."""
        return next((d.notify_id for d in reversed(self._store.log(cid)) if d.notify_id is not None), None)

    @property
    def on_delivery(self) -> list[DeliveryHook]:
        """Observers called with a :class:`DeliveryEvent` for every delivery: ``mock.on_delivery.append(f)``.

        They run inside the request, so they must be quick (queue the work); one that raises is logged
        and counted in ``stats().hook_errors``. ``reset`` keeps them.
        """
        return self._live.on_delivery

    @property
    def receipts(self) -> ReceiptSender | None:
        """The receipt sender while serving with ``receipts_url`` (its ``counts``; ``await drain()``)."""
        return self._receipts

    def accepted_bodies(self, endpoint: str) -> list[Any]:
        """The last ``record_bodies`` bodies ``endpoint`` (``"push/single/cid"``) accepted, oldest first."""
        return self._live.requests.bodies(endpoint)

    def stats(self) -> MockStats:
        return self._live.counters.snapshot(self._store, self._quota.counted)

    def _auth(self, call: Call) -> Reply:
        """``POST /auth``; a subclass may override it to watch the tokens issued (the reply's ``data``)."""
        return self._tokens.sign_in(call)

    # --- steering -------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> MockConfig:
        """Change settings at runtime (faults, policies, limits); validated like the constructor."""
        fixed = FIXED_AT_START & changes.keys()
        if fixed and self._runner is not None:
            raise ValueError(f"{', '.join(sorted(fixed))} cannot change while serving")
        live = self._live
        old, new = live.config, dataclasses.replace(live.config, **changes)
        live.config = new
        if new.seed != old.seed:
            self._faults.reseed(new.seed)
            self._recipients.reseed(new.seed)
        if new.revoke_tokens_every_s != old.revoke_tokens_every_s:
            self._tokens.restart_revocations()
        if new.record_bodies != old.record_bodies:
            live.requests = RequestLog(new.record_bodies)
        return new

    def reset(self) -> None:
        """Forget deliveries and their revocations, seen request_ids, counters and rate/quota usage (tokens,
        tasks and ``on_delivery`` observers stay)."""
        self._store.clear()
        self._live.counters = Counters()
        self._pushes.clear()
        self._tokens.forget_rate()
        self._faults.forget_rate()
        self._quota.clear()
        self._live.requests = RequestLog(self._live.config.record_bodies)
