"""Dispatcher: turns a plan (one request's worth of recipients) into outcomes; never writes a file.

Workers take plans and send them by endpoint. The parts, each in its own module:
:mod:`~getui_async.sender` (the request path: retry, stop, quota wait, throttle, client),
:mod:`~getui_async.settle` (a reply or an error as result lines), :mod:`~getui_async.split` (a request
refused as a whole) and :mod:`~getui_async.list_task` (the campaign's list task). Each outcome goes to
the results log, committed to the OS after each request, so a kill loses only replies still in flight.

- A cid missing from a synchronous *batch* reply is re-sent alone with the same request_id, to learn
  its fate; a *list* recipient is never re-sent (see :mod:`~getui_async.list_task`).
- A code-0 reply whose ``data`` has the wrong shape (``unconfirmed``) is neither a delivery nor a
  repeated request_id: the recipients it does not name are ``accepted`` "did not confirm", never re-sent.
- After a stop nothing new goes out; a request whose reply was lost is still followed up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from .client import GetuiClient
from .config import CampaignSettings, Settings
from .errors import ApiError, DuplicateRequestError, RejectedError
from .events import Observers
from .intake import Job
from .list_task import ListTask
from .messages import MessageTemplate
from .outcome import Kind, Status, StopReason
from .pacing import Pacing
from .planner import Endpoint, Plan
from .probe import Gate
from .results import ResultsLog
from .sender import Abandoned, Call, Sender, together
from .settle import UNCONFIRMED, Settler, best_status
from .split import Splitter
from .throttle import Throttle

__all__ = ["Dispatcher", "LineBudget"]


class LineBudget:
    """Recipients allowed in flight, so that their lines fit in the disk reserve if the disk fills.

    Used only when the reserve is smaller than what the configured concurrency could have in flight
    (a nearly full disk): every recipient Getui may take then has room for its line.
    """

    def __init__(self, recipients: int) -> None:
        self.limit = max(1, recipients)
        self._free = self.limit
        self._changed = asyncio.Event()
        self._open = False

    async def take(self, wanted: int) -> int:
        """Book room for ``wanted`` lines (at most the whole budget, so one request always fits)."""
        wanted = min(wanted, self.limit)
        while self._free < wanted and not self._open:
            self._changed.clear()
            await self._changed.wait()
        self._free -= wanted
        return wanted

    def give(self, booked: int) -> None:
        self._free += booked
        self._changed.set()

    def open(self) -> None:
        """Wake every waiter for good (the campaign stops: they drain without sending)."""
        self._open = True
        self._changed.set()


class Dispatcher:
    """Sends plans through ``client`` under ``throttle``; outcomes go to ``results``."""

    def __init__(
        self,
        client: GetuiClient,
        throttle: Throttle,
        settings: Settings,
        options: CampaignSettings,
        template: MessageTemplate,
        results: ResultsLog,
        observers: Observers,
        *,
        stopping: Callable[[], bool],
        request_stop: Callable[[StopReason, str], None],
        budget: LineBudget | None = None,
        pacing: Pacing | None = None,
        probe: Gate | None = None,
    ) -> None:
        self._client = client
        self._budget = budget
        self._results = results
        self._stopping = stopping
        self._is_async = options.is_async
        # a daily-quota reply may wait for the reset (--wait-quota)
        quota_gate = pacing.wait_quota if pacing is not None else None
        self._sender = Sender(
            throttle,
            settings.retry,
            observers,
            stopping=stopping,
            request_stop=request_stop,
            quota_gate=quota_gate,
        )
        self._settler = Settler(results, request_stop=request_stop, pacing=pacing, probe=probe)
        self._splitter = Splitter(client, self._sender, self._settler)
        self._list = ListTask(
            client,
            template,
            self._sender,
            self._settler,
            self._splitter,
            is_async=options.is_async,
            request_stop=request_stop,
        )

    @property
    def requests(self) -> int:
        """Requests sent (attempts included)."""
        return self._sender.requests

    @property
    def retries(self) -> int:
        return self._sender.retries

    @property
    def already_taken(self) -> int:
        """Recipients Getui answered as repeats of a request_id it already had (part of ``accepted``)."""
        return self._settler.already_taken

    async def worker(self, queue: asyncio.Queue[Plan[Job] | None]) -> None:
        """Take plans until the end marker; after a stop, plans are drained unsent (no line: resumable)."""
        while True:
            plan = await queue.get()
            if plan is None:
                return
            if self._stopping():
                continue
            budget, booked = self._budget, 0
            if budget is not None:
                booked = await budget.take(len(plan.items))
                if self._stopping():
                    continue
            try:
                await self.send(plan)
            except Abandoned:
                pass
            finally:
                self._results.commit()
                if budget is not None and self._results.error is None:
                    budget.give(booked)  # its lines reached the OS

    async def send(self, plan: Plan[Job]) -> None:
        if plan.endpoint is Endpoint.SINGLE:
            await self._single(plan.items[0])
        elif plan.endpoint is Endpoint.BATCH:
            await self._batch(plan.kind, plan.items)
        else:
            await self._list.send(plan.kind, plan.items)

    async def _single(self, job: Job, prior: int = 0) -> None:
        client, settler = self._client, self._settler
        push = client.push_single_cid if job.kind == "cid" else client.push_single_alias
        call = Call("single", 1, lambda: push(job.target, job.message, request_id=job.request_id), prior)
        try:
            result = await self._sender.call(call)
        except DuplicateRequestError as exc:
            settler.taken(job, exc.code, call.attempts)
            return
        except ApiError as exc:
            settler.fail_all((job,), exc, call.attempts)
            return
        statuses = result.statuses
        status = statuses.get(job.target) if job.kind == "cid" else best_status(statuses.values())
        if status is None and result.unconfirmed:
            settler.line(job, Status.ACCEPTED, 0, UNCONFIRMED, result.taskid, call.attempts)
        elif not statuses:
            settler.accept_all((job,), result.taskid, call.attempts, already_taken=not self._is_async)
        else:
            settler.status(job, status, result.taskid, call.attempts)

    async def _batch(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        client, settler, is_async = self._client, self._settler, self._is_async
        push = client.push_batch_cid if kind == "cid" else client.push_batch_alias
        call = Call("batch", len(jobs), lambda: push(jobs, is_async=is_async), prior)
        try:
            result = await self._sender.call(call)
        except RejectedError as exc:
            await self._splitter.split(kind, jobs, exc, call.attempts, self._batch)
            return
        except ApiError as exc:
            settler.fail_all(jobs, exc, call.attempts)
            return
        attempts = call.attempts
        if is_async or not (result.tasks or result.unconfirmed):
            # No per-cid detail at all: asked for (async), or every message was a request_id Getui
            # already had (a re-run of a sent campaign). Re-sending each alone would learn nothing more.
            settler.accept_all(jobs, None, attempts, already_taken=not is_async)
            return
        by_target = result.by_cid()
        unclear: list[Job] = []
        named: list[tuple[Job, Any, str | None]] = []
        for job in jobs:
            hit = by_target.get(job.target)
            if hit is not None:
                named.append((job, hit[1], hit[0]))
                continue
            settler.statuses(named, attempts)  # the lines stay in the request's order
            named = []
            if result.unconfirmed:
                # The reply was malformed, not silent: re-sending alone would learn nothing more.
                settler.line(job, Status.ACCEPTED, 0, UNCONFIRMED, None, attempts)
            elif kind == "alias":
                # Batch alias replies are keyed by cid and carry no request_id: the alias behind each
                # cid cannot be known (--mode batch's fast path; auto sends personalized aliases alone).
                settler.line(
                    job, Status.ACCEPTED, 0, "batch alias reply does not attribute cids", None, attempts
                )
            else:
                unclear.append(job)
        settler.statuses(named, attempts)
        if unclear:
            settler.commit()
            await together(*(self._single(job, attempts) for job in unclear))
