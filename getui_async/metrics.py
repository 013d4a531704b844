"""Prometheus metrics of a running campaign, from the engine's events: a port to scrape, or a Pushgateway.

:class:`CampaignMetrics` is an observer (see :mod:`getui_async.events`) that keeps its metrics in its own
``CollectorRegistry``, never the global one, so two campaigns in one process never mix. Per-record
events only bump a plain dict (the hot path); the dict is turned into samples when someone scrapes or
pushes. :class:`MetricsExporter` serves the registry on the run's own loop (``--metrics-port``) and
pushes it every few seconds and once at the end (``--pushgateway``, the convention for batch jobs).

This module imports ``prometheus_client``: import it only when metrics are asked for, so a run without
them costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .config import UsageError
from .events import (
    BatchSent,
    RecordDone,
    RequestStarted,
    RetryScheduled,
    Throttled,
    WaitEnded,
    WaitStarted,
)

__all__ = [
    "DEFAULT_METRICS_HOST",
    "DEFAULT_PUSH_INTERVAL_S",
    "PUSH_JOB",
    "CampaignMetrics",
    "MetricsExporter",
    "MetricsOptions",
]

log = logging.getLogger(__name__)

DEFAULT_METRICS_HOST: Final = "127.0.0.1"
DEFAULT_PUSH_INTERVAL_S: Final = 15.0
#: The Pushgateway job name; the grouping key adds ``campaign``.
PUSH_JOB: Final = "getui_push"
#: A push that takes longer is given up (and said as a warning): a dead gateway must not hold the run.
PUSH_TIMEOUT_S: Final = 5.0
#: Request latency buckets (seconds), up to past the default 15 s reply timeout.
LATENCY_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    """Where a run's metrics go: ``port`` to scrape (on ``host``), and/or a Pushgateway ``pushgateway``."""

    port: int | None = None
    host: str = DEFAULT_METRICS_HOST
    pushgateway: str | None = None
    push_interval_s: float = DEFAULT_PUSH_INTERVAL_S


class CampaignMetrics:
    """The observer: engine events → metrics in :attr:`registry` (pass it in a campaign's ``observers``).

    ``campaign_id`` labels the per-campaign series; set it once the campaign's id is known.
    """

    def __init__(self, campaign_id: str = "", *, registry: CollectorRegistry | None = None) -> None:
        self.campaign_id = campaign_id
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.running = True
        self._recipients: dict[str, int] = {}
        self._last_result_s = time.time()  # "no line yet" counts from the start, for the stuck alert
        self._in_flight = 0
        reg = self.registry
        self._requests = Counter(
            "getui_push_requests", "Requests to Getui by endpoint and Getui code", ["endpoint", "code"],
            registry=reg,
        )  # fmt: skip
        self._latency = Histogram(
            "getui_push_request_duration_seconds", "Request latency by endpoint", ["endpoint"],
            buckets=LATENCY_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self._retries = Counter(
            "getui_push_retries", "Retries scheduled by endpoint", ["endpoint"], registry=reg
        )
        self._throttled = Counter(
            "getui_push_throttled", "Per-minute limit pauses by Getui code", ["code"], registry=reg
        )
        self._paused = Counter(
            "getui_push_throttle_pause_seconds", "Seconds of per-minute pauses", registry=reg
        )
        self._waits = Counter("getui_push_waits", "Window or quota waits started", ["reason"], registry=reg)
        self._waiting = Gauge(
            "getui_push_waiting", "1 while a window or quota wait lasts", ["campaign", "reason"], registry=reg
        )
        self._waited = Counter(
            "getui_push_wait_seconds", "Seconds waited by reason", ["reason"], registry=reg
        )
        reg.register(_Snapshot(self))

    def __call__(self, event: object) -> None:
        """Count one event; a per-record one is a dict increment and a clock read, nothing more."""
        if isinstance(event, RecordDone):
            status = event.status
            self._recipients[status] = self._recipients.get(status, 0) + event.count
            self._last_result_s = time.time()
        elif isinstance(event, RequestStarted):
            self._in_flight += 1
        elif isinstance(event, BatchSent):
            self._in_flight -= 1
            self._requests.labels(event.endpoint, event.code).inc()
            self._latency.labels(event.endpoint).observe(event.latency_s)
        elif isinstance(event, RetryScheduled):
            self._retries.labels(event.endpoint).inc()
        elif isinstance(event, Throttled):
            self._throttled.labels(str(event.code)).inc()
            self._paused.inc(event.pause_s)
        elif isinstance(event, WaitStarted):
            self._waits.labels(event.reason).inc()
            self._waiting.labels(self.campaign_id, event.reason).set(1)
        elif isinstance(event, WaitEnded):
            self._waiting.labels(self.campaign_id, event.reason).set(0)
            self._waited.labels(event.reason).inc(event.waited_s)

    def snapshot(self) -> Iterator[Metric]:
        """The per-record counts and run state as metric families (read by a scrape or a push)."""
        campaign = self.campaign_id
        recipients = CounterMetricFamily(
            "getui_push_recipients",
            "Records by final status (one per result line)",
            labels=["campaign", "status"],
        )
        for status, count in sorted(dict(self._recipients).items()):
            recipients.add_metric([campaign, status], count)
        yield recipients
        yield _gauge("getui_push_last_result_timestamp_seconds", "Unix time of the last result line",
                     campaign, self._last_result_s)  # fmt: skip
        yield _gauge(
            "getui_push_running", "1 while the run goes on, 0 once it ended", campaign, int(self.running)
        )
        yield GaugeMetricFamily(
            "getui_push_requests_in_flight", "Requests awaiting Getui's reply", self._in_flight
        )


def _gauge(name: str, documentation: str, campaign: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["campaign"])
    family.add_metric([campaign], value)
    return family


class _Snapshot:
    """A custom collector: the observer's plain counters, read only when someone collects."""

    def __init__(self, metrics: CampaignMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.snapshot()


class MetricsExporter:
    """Serves and/or pushes one campaign's metrics for the life of a run (:meth:`running`)."""

    def __init__(self, options: MetricsOptions, metrics: CampaignMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics if metrics is not None else CampaignMetrics()
        #: The port actually listened on (``port=0`` picks a free one).
        self.port: int | None = None

    @contextlib.asynccontextmanager
    async def running(self, campaign_id: str) -> AsyncIterator[MetricsExporter]:
        """Serve and push while the body runs; afterwards mark the run ended and push the final counts."""
        self.metrics.campaign_id = campaign_id
        runner = await self._serve() if self.options.port is not None else None
        pusher = asyncio.create_task(self._push_every()) if self.options.pushgateway else None
        try:
            yield self
        finally:
            self.metrics.running = False
            if pusher is not None:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pusher
                await self.push()
            if runner is not None:
                await runner.cleanup()

    async def _serve(self) -> web.AppRunner:
        """``GET /metrics`` on the run's own loop (no thread); a port that cannot be had is a usage error."""
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = self.options.host, self.options.port
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(f"--metrics-port {port}: cannot listen on {host}: {exc.strerror}") from None
        server = site._server  # aiohttp exposes the bound port (port 0 picks one) only here
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("metrics on http://%s:%s/metrics", host, self.port)
        return runner

    async def _scrape(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _push_every(self) -> None:
        """Push every ``push_interval_s`` until cancelled at the run's end."""
        while True:
            await asyncio.sleep(self.options.push_interval_s)
            await self.push()

    async def push(self) -> bool:
        """One push, off the loop (blocking I/O); a failure is a warning, never a stop. True if it went."""
        url = self.options.pushgateway
        if not url:
            return False
        try:
            await asyncio.to_thread(
                push_to_gateway, url, job=PUSH_JOB, registry=self.metrics.registry,
                grouping_key={"campaign": self.metrics.campaign_id}, timeout=PUSH_TIMEOUT_S,
            )  # fmt: skip
        except Exception as exc:  # urllib raises many kinds; metrics must never stop a send
            log.warning("metrics push to %s failed: %s", url, exc)
            return False
        return True
