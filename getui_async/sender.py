"""The request path: one logical request through its policies, each one short method that calls the next.

``call`` (retry) → ``_unless_stopped`` (stop; pacing's stops) → ``_through_quota`` (daily-quota wait) →
``_throttled`` (window gate, rate, in-flight slot) → ``_attempt`` (the client). Retry is the outer layer:
every attempt passes the stop check and the gate again, so a backoff never holds an in-flight slot and a
per-minute limit's shared pause is waited out at the gate, not in the retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from .config import RetrySettings
from .errors import ApiError, PaceStop, QuotaExceededError, RateLimitedError, TransportError
from .events import BatchSent, Observers, RequestStarted, RetryScheduled
from .outcome import StopReason
from .pacing import stop_reason
from .retry import RetryDetails, call_with_retry
from .throttle import Throttle
from .window import WindowGate

__all__ = ["Abandoned", "Call", "Sender", "together"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Abandoned(Exception):
    """A request not sent because the campaign is stopping: its records get no line (resumable)."""


@dataclass(slots=True, eq=False)
class Call(Generic[T]):
    """One logical request and what its attempts learned.

    ``attempts`` may start above 0 (a recipient re-sent alone after a batch keeps its count). ``unsure``
    is set once an attempt went out and its reply was lost: Getui may have delivered it, so the request
    is finished (retried until its fate is known) even while the campaign stops.
    """

    label: str
    recipients: int
    fn: Callable[[], Awaitable[T]]
    attempts: int = 0
    unsure: bool = False
    #: Retry at least this often, whatever ``--max-attempts`` says (a look-up that delivers nothing).
    min_attempts: int = 1
    #: When the last attempt went out, on the window gate's clock (for a stale quota refusal).
    sent_at: float = 0.0
    #: False for a request without a request_id (a list push): never retried after a lost reply.
    idempotent: bool = True


class Sender:
    """Runs :class:`Call` objects through retry, stop, quota wait and throttle; counts requests."""

    def __init__(
        self,
        throttle: Throttle,
        policy: RetrySettings,
        observers: Observers,
        *,
        stopping: Callable[[], bool],
        request_stop: Callable[[StopReason, str], None],
        quota_gate: WindowGate | None = None,
    ) -> None:
        self._throttle = throttle
        self._policy = policy
        self._observers = observers
        self._stopping = stopping
        self._request_stop = request_stop
        self._quota_gate = quota_gate
        self.requests = 0
        self.retries = 0

    async def call(self, call: Call[T]) -> T:
        """Retry layer: the policy (at least ``call.min_attempts``); each retry counted and reported."""
        policy = self._policy
        if policy.max_attempts < call.min_attempts:
            policy = replace(policy, max_attempts=call.min_attempts)

        def on_retry(retry: RetryDetails) -> None:
            self.retries += 1
            if self._observers:
                event = RetryScheduled(call.label, retry.attempt_number, repr(retry.error), retry.wait_s)
                self._observers.emit(event)

        return await call_with_retry(
            lambda: self._unless_stopped(call),
            policy,
            window_s=None,
            on_retry=on_retry,
            sleep=self._throttle.sleep,  # a stop ends a backoff at once
            idempotent=call.idempotent,
        )

    async def _unless_stopped(self, call: Call[T]) -> T:
        """Stop layer: after a stop nothing new goes out; a pacing stop stops the campaign.

        Only a request whose reply was lost is followed up, so a recipient Getui may already have gets
        its line now rather than at the resume.
        """
        while True:
            self._check_stop(call)
            try:
                outcome = await self._through_quota(call)
            except PaceStop as exc:  # outside the window with --no-wait, past --deadline, a signal
                self._request_stop(*stop_reason(exc))
                raise Abandoned from None
            if outcome is not None:
                return outcome[0]

    async def _through_quota(self, call: Call[T]) -> tuple[T] | None:
        """Quota layer: None after a daily-quota reply waited for its reset (``--wait-quota``)."""
        gate = self._quota_gate
        try:
            return (await self._throttled(call),)
        except QuotaExceededError as exc:
            if gate is None:
                raise
            log.warning("daily quota used up (%s, code %s): waiting for its reset", exc.msg, exc.code)
        await gate.wait_quota_reset(started_at=call.sent_at)  # then the same request again
        return None

    async def _throttled(self, call: Call[T]) -> T:
        """Throttle layer: the window gate, the rate and an in-flight slot around one attempt."""
        gate = self._quota_gate
        async with self._throttle:
            self._check_stop(call)  # stopped while this waited at the gate
            call.attempts += 1
            self.requests += 1
            call.sent_at = gate.now() if gate is not None else 0.0
            if self._observers:
                self._observers.emit(RequestStarted(call.label))
            return await self._attempt(call, time.monotonic())

    async def _attempt(self, call: Call[T], started: float) -> T:
        """Client layer: one attempt, and what its failure means for every other request."""
        code = "error"
        try:
            result = await call.fn()
            code = "0"
            return result
        except TransportError:
            call.unsure = True
            code = "transport"
            raise
        except RateLimitedError as exc:
            self._throttle.rate_limited(exc.code)
            code = _code(exc)
            raise
        except ApiError as exc:
            code = _code(exc)
            raise
        finally:
            self._sent(call, started, code)

    def _check_stop(self, call: Call[T]) -> None:
        if self._stopping() and not call.unsure:
            raise Abandoned

    def _sent(self, call: Call[T], started: float, code: str) -> None:
        if self._observers:
            latency_s = time.monotonic() - started
            self._observers.emit(BatchSent(call.label, call.recipients, latency_s, code == "0", code))


def _code(exc: ApiError) -> str:
    """How a request failed, as :class:`BatchSent` says it: Getui's code, else the HTTP status."""
    if exc.code is not None:
        return str(exc.code)
    return f"http_{exc.http_status}" if exc.http_status is not None else "error"


async def together(*sends: Awaitable[None]) -> None:
    """Run sends side by side and wait for every one of them.

    A plain ``gather`` returns at the first :class:`Abandoned` (the campaign is stopping) while a sibling
    may still be in flight; that orphan's reply would come after the results file closed, so recipients
    Getui already has would get no line, and a resume would send them again. Abandoned sends are
    expected; any other error is raised once all have finished.
    """
    outcomes = await asyncio.gather(*sends, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Abandoned):
            raise outcome
