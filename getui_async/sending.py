"""The sending half of a run: client, throttle and dispatcher wired, workers fed from intake, checkpoints.

:class:`Sending` owns what exists only while requests can go out: the one :class:`GetuiClient` (which
takes over a transport it is handed), the throttle with its window gate, the dispatcher and its
workers, and the checkpoint task that fsyncs the results file and then the ledger. The campaign calls
:meth:`Sending.run` once and reads :attr:`Sending.owners` for the summary's figures afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Final

from .client import GetuiClient
from .config import CampaignSettings, Mode, Settings
from .dispatcher import Dispatcher, LineBudget
from .events import Observers
from .intake import Intake, Job
from .limits import Limits
from .messages import MessageTemplate
from .outcome import StopReason
from .pacing import Pacing
from .planner import Plan
from .probe import Gate
from .results import ResultsLog
from .retry import RetryDetails, call_with_retry
from .stopping import CANCEL_GRACE_S, StopSwitch
from .throttle import Throttle
from .transport import Transport

__all__ = ["QUEUED_RECIPIENTS", "Sending", "largest_request"]

log = logging.getLogger(__name__)

#: Recipients waiting in the queue for a worker, at most (about; a request is never split for it).
QUEUED_RECIPIENTS: Final = 4096


def largest_request(opts: CampaignSettings) -> int:
    """Recipients in the largest request this run may make."""
    return 1 if opts.mode is Mode.SINGLE else max(opts.batch_size, opts.list_chunk)


class Sending:
    """One run's request machinery, from the pre-flight token to the last worker."""

    def __init__(
        self,
        settings: Settings,
        options: CampaignSettings,
        template: MessageTemplate,
        results: ResultsLog,
        observers: Observers,
    ) -> None:
        self._settings = settings
        self._options = options
        self._template = template
        self._results = results
        self._observers = observers
        #: The parts whose counters the summary reads; set once they existed.
        self.owners: tuple[Dispatcher, Throttle, GetuiClient] | None = None

    async def run(
        self,
        intake: Intake,
        stop: StopSwitch,
        *,
        transport: Transport | None,
        request_stop: Callable[[StopReason, str], None],
        budget: LineBudget | None,
        pacing: Pacing | None,
        supervise: Callable[[Sequence[asyncio.Future[None]]], Awaitable[None]],
        probe: Gate | None = None,
    ) -> None:
        """Get a token, then run intake and the workers under ``supervise`` until done or stopped."""
        opts, results = self._options, self._results
        limits = Limits.of(opts.concurrency, connector_limit=self._settings.connector_limit)
        settings = replace(self._settings, connector_limit=limits.sockets)
        # A run takes over a transport it is handed (run_campaign(transport=...)): it closes it at the end.
        async with GetuiClient(
            settings, transport=transport, transport_owner=True, observers=self._observers
        ) as client:
            gate = pacing.make_gate(self._observers.emit) if pacing is not None else None
            throttle = Throttle(
                concurrency=limits.in_flight,
                rate_per_s=opts.rate_per_s,
                window_s=settings.throttle_window_s,
                observers=self._observers,
                gate=gate,
            )
            stop.on_stop(throttle.stop)  # nobody left waiting for the rate after a stop
            dispatcher = Dispatcher(
                client,
                throttle,
                settings,
                opts,
                self._template,
                results,
                self._observers,
                stopping=lambda: stop.stopped,
                request_stop=request_stop,
                budget=budget,
                pacing=pacing,
                probe=probe,
            )
            try:
                await stop.unless_stopped(_preflight(client, settings))
                # Bounded in recipients, not requests: enough to keep the workers fed, and no more, since
                # every queued recipient holds its rendered message (requests in flight hold the rest).
                queue: asyncio.Queue[Plan[Job] | None] = asyncio.Queue(
                    maxsize=max(2, QUEUED_RECIPIENTS // largest_request(opts))
                )
                tasks = [asyncio.ensure_future(intake.run(queue, limits.workers))]
                tasks += [asyncio.ensure_future(dispatcher.worker(queue)) for _ in range(limits.workers)]
                checkpoints = asyncio.ensure_future(_checkpoints(results, pacing, opts.checkpoint_interval_s))
                try:
                    await supervise(tasks)
                finally:
                    checkpoints.cancel()
                    await asyncio.wait({checkpoints}, timeout=CANCEL_GRACE_S)
            finally:
                self.owners = (dispatcher, throttle, client)
                if gate is not None:
                    await gate.aclose()


async def _preflight(client: GetuiClient, settings: Settings) -> None:
    """Get a token: bad credentials or an unreachable host fail here, before any line is written."""
    await call_with_retry(
        client.tokens.get, settings.retry, window_s=settings.throttle_window_s, on_retry=_log_preflight
    )


async def _checkpoints(results: ResultsLog, pacing: Pacing | None, interval_s: float) -> None:
    """Every ``interval_s``: the results lines to disk (fsynced), then the deliveries to the ledger."""
    while True:
        await asyncio.sleep(interval_s)
        results.commit(fsync=True)
        if pacing is not None:
            await pacing.flush_ledger()  # the ledger follows the fsynced results


def _log_preflight(retry: RetryDetails) -> None:
    """Tell the user why nothing is happening yet: the first /auth keeps failing."""
    log.warning("cannot get a Getui token yet (%s); retrying in %.1f s", retry.error, retry.wait_s)
