"""The retry policy: what retries, how many times, how long it waits."""

from __future__ import annotations

import pytest

from getui_async.config import RetrySettings
from getui_async.errors import (
    ApiError,
    DuplicateRequestError,
    HostChangedError,
    InvalidTargetError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    ServerBusyError,
    ServerError,
    TokenExpiredError,
    TransportError,
)
from getui_async.retry import call_with_retry, is_retryable, next_window_delay_s, retrying


class Flaky:
    """Raises the given errors in order, then returns 'ok'; counts calls."""

    def __init__(self, *errors: ApiError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, s: float) -> None:
        self.waits.append(s)


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (TransportError("reset"), True),
        (ServerError("502", http_status=502), True),
        (ServerBusyError("busy", code=30019), True),
        (TokenExpiredError("expired", code=10001), True),
        (HostChangedError("moved", code=301), True),
        (RateLimitedError("slow", code=10005), True),
        (RejectedError("bad", code=20001), False),
        (InvalidTargetError("target user is invalid", code=20001), False),
        (DuplicateRequestError("repeat", code=20001), False),
        (QuotaExceededError("quota", code=30009), False),
        (ValueError("not ours"), False),
    ],
)
def test_what_retries(exc: BaseException, retry: bool) -> None:
    """Only errors whose action is retry/refresh/switch/wait are retried."""
    assert is_retryable(exc) is retry


async def test_success_first_time_calls_once() -> None:
    """No retry machinery on the happy path: one call."""
    fn = Flaky()
    assert await call_with_retry(fn, RetrySettings(zero_waits=True)) == "ok"
    assert fn.calls == 1


async def test_transient_errors_are_retried_with_backoff() -> None:
    """Two transient errors, then success: three calls and two jittered, growing-window waits."""
    sleeps = Sleeps()
    fn = Flaky(TransportError("reset"), ServerError("500", http_status=500))
    policy = RetrySettings(backoff_initial_s=1.0, backoff_max_s=8.0)
    assert await call_with_retry(fn, policy, sleep=sleeps) == "ok"
    assert fn.calls == 3
    assert len(sleeps.waits) == 2
    assert 0 <= sleeps.waits[0] <= 2.0
    assert 0 <= sleeps.waits[1] <= 4.0


async def test_attempts_are_bounded_and_last_error_reraised() -> None:
    """After max_attempts the last error is raised unchanged."""
    last = TransportError("third")
    fn = Flaky(TransportError("first"), TransportError("second"), last, TransportError("never"))
    with pytest.raises(TransportError) as info:
        await call_with_retry(fn, RetrySettings(max_attempts=3, zero_waits=True))
    assert info.value is last
    assert fn.calls == 3


async def test_final_errors_are_not_retried() -> None:
    """A rejection is raised after one call."""
    fn = Flaky(RejectedError("bad", code=20001))
    with pytest.raises(RejectedError):
        await call_with_retry(fn, RetrySettings(zero_waits=True))
    assert fn.calls == 1


async def test_rate_limits_do_not_use_attempts() -> None:
    """Five rate-limited replies do not exhaust a 2-attempt budget."""
    fn = Flaky(*(RateLimitedError("slow", code=10005) for _ in range(5)), TransportError("once"))
    assert await call_with_retry(fn, RetrySettings(max_attempts=2, zero_waits=True)) == "ok"
    assert fn.calls == 7


async def test_rate_limit_waits_for_the_next_window() -> None:
    """Without a shared gate, a rate-limited request waits until the next window edge."""
    sleeps = Sleeps()
    fn = Flaky(RateLimitedError("slow", code=10005))
    await call_with_retry(fn, RetrySettings(), window_s=60.0, sleep=sleeps)
    assert 0 < sleeps.waits[0] <= 60.25


async def test_token_and_host_retries_do_not_wait() -> None:
    """A token or host problem left over from the client's own replay is retried at once."""
    sleeps = Sleeps()
    fn = Flaky(TokenExpiredError("x", code=10001), HostChangedError("y", code=301))
    await call_with_retry(fn, RetrySettings(backoff_initial_s=5), sleep=sleeps)
    assert sleeps.waits == [0.0, 0.0]


async def test_deadline_stops_retries() -> None:
    """A policy whose deadline has passed stops after the current attempt."""
    fn = Flaky(*(TransportError("x") for _ in range(10)))
    policy = RetrySettings(max_attempts=100, deadline_s=1e-9, zero_waits=True)
    with pytest.raises(TransportError):
        await call_with_retry(fn, policy)
    assert fn.calls <= 2


async def test_on_retry_hook_sees_each_retry() -> None:
    """before_sleep is called once per retry with the attempt's state."""
    seen: list[int] = []
    fn = Flaky(TransportError("a"), TransportError("b"))
    await call_with_retry(
        fn, RetrySettings(zero_waits=True), on_retry=lambda s: seen.append(s.attempt_number)
    )
    assert seen == [1, 2]


def test_next_window_delay() -> None:
    """The delay reaches the next epoch-aligned window edge plus a small grace."""
    assert next_window_delay_s(60, now_s=120.0) == pytest.approx(60.25)
    assert next_window_delay_s(60, now_s=179.5) == pytest.approx(0.75)


def test_retrying_controller_is_reusable_per_call() -> None:
    """retrying() returns a fresh tenacity controller each time."""
    policy = RetrySettings()
    assert retrying(policy) is not retrying(policy)
