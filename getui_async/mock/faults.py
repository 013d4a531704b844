"""Seeded fault injection around a request: latency, host change, 5xx, resets, hangs, throttling, busy.

"Before" faults answer instead of the endpoint (nothing is processed); "after" faults lose the reply of a
request that was processed (delivered, reply lost). One seeded ``random.Random`` draws every fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from typing import Any

from aiohttp import web

from .state import Live
from .wire import ALT_PREFIX, MESSAGES, NO_DATA, PRIMARY_PREFIX, drop, envelope

__all__ = ["Faults"]


class Faults:
    """Draws the configured faults for one request; hangs end early when the server stops."""

    __slots__ = ("_closing", "_live", "_rng", "_throttle_window")

    def __init__(self, live: Live) -> None:
        self._live = live
        self._rng = random.Random(live.config.seed)
        self._throttle_window = (0, 0)  # (window index, requests)
        self._closing: asyncio.Event | None = None  # made in open(), inside the running loop

    def reseed(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def forget_rate(self) -> None:
        """Start the throttle window's count afresh."""
        self._throttle_window = (0, 0)

    def open(self) -> None:
        """Called in the running loop as the server starts."""
        self._closing = asyncio.Event()

    def close(self) -> None:
        """Release every hanging request at once."""
        if self._closing is not None:
            self._closing.set()

    async def before(self, request: web.Request) -> web.StreamResponse | None:
        """A reply that replaces the endpoint's, or None to go on."""
        live = self._live
        cfg, faults = live.config, live.counters.faults
        delay_ms = cfg.latency_ms + (
            self._rng.uniform(0, cfg.latency_jitter_ms) if cfg.latency_jitter_ms else 0
        )
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if cfg.host_change and request.path.startswith(PRIMARY_PREFIX + "/"):
            faults["host_change"] += 1
            return self._refuse(301, "domain changed", self._host_list(request))
        if self._chance(cfg.http_5xx_rate):
            faults["http_5xx"] += 1
            status = self._rng.choice((500, 502, 503))
            return web.Response(
                status=status, text=f"<html><h1>{status}</h1>mock fault</html>", content_type="text/html"
            )
        if cfg.reset_phase == "before" and self._chance(cfg.reset_rate):
            faults["reset_before"] += 1
            return drop(request)
        if cfg.hang_phase == "before" and self._chance(cfg.hang_rate):
            faults["hang_before"] += 1
            return await self._hang(request)
        if cfg.throttle_per_window is not None and self._throttled(cfg.throttle_per_window):
            live.counters.throttled += 1
            return self._refuse(cfg.throttle_code, MESSAGES.get(cfg.throttle_code, "frequency over limit"))
        if self._chance(cfg.busy_rate):
            faults["busy"] += 1
            return self._refuse(30019, MESSAGES[30019])
        return None

    async def after(self, request: web.Request) -> web.StreamResponse | None:
        """No reply at all for a processed request (reset or hang "after"), or None to answer it."""
        cfg, faults = self._live.config, self._live.counters.faults
        if cfg.reset_phase == "after" and self._chance(cfg.reset_rate):
            faults["reset_after"] += 1
            return drop(request)
        if cfg.hang_phase == "after" and self._chance(cfg.hang_rate):
            faults["hang_after"] += 1
            return await self._hang(request)
        return None

    def _refuse(self, code: int, msg: str, data: Any = NO_DATA) -> web.Response:
        return envelope(code, msg, data, rejections=self._live.counters.rejections)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Answer nothing for ``hang_s`` (or until the server stops), then drop the connection."""
        assert self._closing is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self._live.config.hang_s)
        return drop(request)

    def _throttled(self, limit: int) -> bool:
        window = int(self._live.clock() // self._live.config.throttle_window_s)
        index, count = self._throttle_window
        count = count + 1 if index == window else 1
        self._throttle_window = (window, count)
        return count > limit

    def _host_list(self, request: web.Request) -> dict[str, Any]:
        domain = f"http://{request.host}{ALT_PREFIX}"
        domain_hash = hashlib.sha256(domain.encode()).hexdigest()[:16]
        return {"host_list": [{"domain_list": [domain], "priority_gap": 0}], "domain_hash": domain_hash}
