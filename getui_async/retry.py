"""The retry policy, declared once with tenacity.

What retries is decided by the error's :class:`~getui_async.errors.Action`, never by ad-hoc code checks:
network failures, 5xx and "busy" back off with full-jitter exponential waits; a token refresh or host
switch the client could not settle in its own single replay is retried at once; a per-minute rate
limit waits for the next window (or for the engine's shared throttle gate, which pauses every worker).
Rate-limit waits do not use up attempts: they are bounded by the deadline instead. Everything else is
final. The last error is re-raised unchanged. ``RetrySettings.zero_waits`` keeps every decision but
sleeps 0 s, for tests.

A request that carries no request_id (a list push) is *not idempotent*: after a lost reply (a reset, a
timeout, a 5xx that is not Getui's envelope) Getui may already have delivered it, so it is never sent
again blindly; only failures from before the request was written, or Getui's own refusals, are retried.

One retry layer per request: a call made inside :func:`call_with_retry` (the engine's request path, or
``check``) is not retried again by the client's own default policy.

Usage::

    result = await call_with_retry(lambda: client.push_single_cid(...), settings.retry)
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential
from tenacity.stop import stop_base

from .config import RetrySettings
from .errors import Action, ApiError, ConnectError, RateLimitedError, ServerError, TransportError
from .outcome import RETRYABLE_ACTIONS

__all__ = [
    "RetryDetails",
    "call_with_retry",
    "in_retry_layer",
    "is_retryable",
    "next_window_delay_s",
    "reply_lost",
    "retrying",
]

T = TypeVar("T")

#: Actions after which the same request is sent again.

_IMMEDIATE: Final = frozenset({Action.REFRESH_TOKEN, Action.SWITCH_HOST})
#: A little past the window boundary, so the server's window has surely rolled over.
WINDOW_GRACE_S: Final = 0.25
#: Set while a :func:`call_with_retry` runs in this task: the calls inside it are its attempts.
_RETRY_LAYER: Final = contextvars.ContextVar("getui_retry_layer", default=False)


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """A retry about to happen, in the project's words: callers never see tenacity's state."""

    #: Attempts made so far (the one that just failed included).
    attempt_number: int
    #: What the failed attempt raised.
    error: BaseException | None
    #: How long the policy waits before the next attempt.
    wait_s: float


def _details(state: RetryCallState) -> RetryDetails:
    """The one place tenacity's ``RetryCallState`` is read for callers."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None and outcome.failed else None
    return RetryDetails(state.attempt_number, error, state.upcoming_sleep or 0.0)


def _reporting(on_retry: Callable[[RetryDetails], None]) -> Callable[[RetryCallState], None]:
    """Tenacity's ``before_sleep`` hook, handing ``on_retry`` the project's record."""

    def before_sleep(state: RetryCallState) -> None:
        on_retry(_details(state))

    return before_sleep


def is_retryable(exc: BaseException, *, idempotent: bool = True) -> bool:
    """True when sending the same request again may succeed (and, if not ``idempotent``, cannot repeat it)."""
    if not (isinstance(exc, ApiError) and exc.action in RETRYABLE_ACTIONS):
        return False
    return idempotent or not reply_lost(exc)


def reply_lost(exc: BaseException) -> bool:
    """True when the request may have reached Getui but no Getui answer came back.

    A reset, a timeout, an oversized or garbled reply, or an HTTP error that is not Getui's envelope
    (a proxy's 502 may come after Getui took the request). False for a connection that was never made
    (:class:`~getui_async.errors.ConnectError`) and for any reply Getui answered with its own code.
    """
    if isinstance(exc, ConnectError):
        return False
    return isinstance(exc, (TransportError, ServerError)) and exc.code is None


def in_retry_layer() -> bool:
    """True inside :func:`call_with_retry`: a call made here is one attempt of that layer's policy."""
    return _RETRY_LAYER.get()


def next_window_delay_s(window_s: float, now_s: float | None = None) -> float:
    """Seconds until the next fixed window of ``window_s`` (aligned to the epoch) starts, plus grace."""
    now = time.time() if now_s is None else now_s
    return window_s - (now % window_s) + WINDOW_GRACE_S


class _StopAfter(stop_base):
    """Stop after ``max_attempts`` counted attempts or ``deadline_s``; rate-limited ones don't count."""

    def __init__(self, max_attempts: int, deadline_s: float) -> None:
        self.max_attempts = max_attempts
        self.deadline_s = deadline_s
        self.uncounted = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), RateLimitedError):
            self.uncounted += 1
        counted = retry_state.attempt_number - self.uncounted
        elapsed = retry_state.seconds_since_start or 0.0
        return counted >= self.max_attempts or elapsed >= self.deadline_s


class _Wait:
    """Full-jitter exponential backoff; the window edge for rate limits; no wait for token/host fixes."""

    def __init__(self, policy: RetrySettings, window_s: float | None) -> None:
        self._zero = policy.zero_waits
        self._window_s = window_s
        self._backoff = wait_random_exponential(multiplier=policy.backoff_initial_s, max=policy.backoff_max_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        if self._zero:
            return 0.0
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ApiError) and exc.action in _IMMEDIATE:
            return 0.0
        if isinstance(exc, RateLimitedError):
            return next_window_delay_s(self._window_s) if self._window_s else 0.0
        return float(self._backoff(retry_state))


def retrying(
    policy: RetrySettings,
    *,
    window_s: float | None = 60.0,
    on_retry: Callable[[RetryDetails], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    idempotent: bool = True,
) -> AsyncRetrying:
    """A fresh tenacity controller for one logical request.

    ``window_s=None`` means "someone else waits out rate-limit windows" (the engine's throttle gate),
    so a rate-limited attempt is retried as soon as the caller is let through again.
    ``idempotent=False`` (a list push): a lost reply is final, never sent again.
    """
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: is_retryable(exc, idempotent=idempotent)),
        stop=_StopAfter(policy.max_attempts, policy.deadline_s),
        wait=_Wait(policy, window_s),
        before_sleep=None if on_retry is None else _reporting(on_retry),
        sleep=sleep,
        reraise=True,
    )


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetrySettings,
    *,
    window_s: float | None = 60.0,
    on_retry: Callable[[RetryDetails], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    idempotent: bool = True,
) -> T:
    """Await ``fn()``, retrying per ``policy`` (a non-``idempotent`` request never after a lost reply).

    The first attempt runs outside tenacity (nothing is allocated on the success path, which is almost
    every call); only a retryable failure enters the tenacity loop, with that failure as attempt 1.
    """
    layer = _RETRY_LAYER.set(True)
    try:
        return await _with_retry(fn, policy, window_s, on_retry, sleep, idempotent)
    finally:
        _RETRY_LAYER.reset(layer)


async def _with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetrySettings,
    window_s: float | None,
    on_retry: Callable[[RetryDetails], None] | None,
    sleep: Callable[[float], Awaitable[None]],
    idempotent: bool,
) -> T:
    try:
        return await fn()
    except ApiError as exc:
        if not is_retryable(exc, idempotent=idempotent):
            raise
        first: ApiError | None = exc

    async def replay() -> T:
        nonlocal first
        if first is not None:
            exc, first = first, None
            raise exc
        return await fn()

    controller = retrying(policy, window_s=window_s, on_retry=on_retry, sleep=sleep, idempotent=idempotent)
    return await controller(replay)
