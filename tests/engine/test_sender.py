"""The request path's layers: retry record, stop, throttle hooks, events; and the Limits value."""

from __future__ import annotations

import asyncio

import pytest

from getui_async.config import RetrySettings
from getui_async.errors import RateLimitedError, ServerError, TransportError
from getui_async.events import BatchSent, Observers, RetryScheduled
from getui_async.limits import Limits
from getui_async.sender import Abandoned, Call, Sender
from getui_async.throttle import Throttle


def sender_for(events: list[object], *, stopping: bool = False, attempts: int = 3) -> Sender:
    stops: list[tuple[str, str]] = []
    return Sender(
        Throttle(concurrency=2),
        RetrySettings(max_attempts=attempts, zero_waits=True),
        Observers([events.append]),
        stopping=lambda: stopping,
        request_stop=lambda reason, text: stops.append((reason, text)),
    )


def failing(*errors: Exception) -> Call[str]:
    """A call whose attempts raise ``errors`` in turn, then return "ok"."""
    queue = list(errors)

    async def fn() -> str:
        if queue:
            raise queue.pop(0)
        return "ok"

    return Call("batch", 5, fn)


async def test_retries_are_counted_and_reported_in_the_projects_words() -> None:
    """Each retry emits RetryScheduled from the retry record; the call counts every attempt."""
    events: list[object] = []
    sender = sender_for(events)
    call = failing(ServerError("boom", http_status=502))
    assert await sender.call(call) == "ok"
    assert call.attempts == 2
    assert (sender.requests, sender.retries) == (2, 1)
    retry = next(e for e in events if isinstance(e, RetryScheduled))
    assert (retry.endpoint, retry.attempt, retry.wait_s) == ("batch", 1, 0.0)
    assert "boom" in retry.error
    sent = [e for e in events if isinstance(e, BatchSent)]
    assert [(e.ok, e.recipients) for e in sent] == [(False, 5), (True, 5)]


async def test_min_attempts_raise_the_policy() -> None:
    """A look-up retries at least min_attempts times whatever --max-attempts says."""
    sender = sender_for([], attempts=1)
    call = failing(ServerError("a", http_status=502), ServerError("b", http_status=502))
    call.min_attempts = 3
    assert await sender.call(call) == "ok"
    assert call.attempts == 3


async def test_nothing_new_goes_out_after_a_stop() -> None:
    """While stopping, a fresh call is abandoned before any attempt."""
    sender = sender_for([], stopping=True)
    call = failing()
    with pytest.raises(Abandoned):
        await sender.call(call)
    assert call.attempts == 0


async def test_a_lost_reply_is_followed_up_even_while_stopping() -> None:
    """Once an attempt's reply was lost (unsure), the call is retried to learn its fate during a stop."""
    sender = sender_for([], stopping=True)
    call = failing(TransportError("reset"))
    call.unsure = True  # as if the campaign stopped after the first attempt went out
    assert await sender.call(call) == "ok"
    assert call.attempts == 2


async def test_a_rate_limit_reply_pauses_the_throttle() -> None:
    """A per-minute limit reported by one attempt pauses every worker at the throttle."""
    throttle = Throttle(concurrency=2, window_s=60)
    sender = Sender(
        throttle,
        RetrySettings(max_attempts=1, zero_waits=True),
        Observers(),
        stopping=lambda: False,
        request_stop=lambda reason, text: None,
    )
    call = failing(RateLimitedError("slow down", code=10005))
    task = asyncio.create_task(sender.call(call))
    await asyncio.sleep(0.05)
    assert throttle.paused
    assert call.attempts == 1  # the retry waits at the throttle with every other worker
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_limits_say_what_concurrency_bounds() -> None:
    """Workers and in-flight slots equal --concurrency; sockets are never fewer."""
    assert Limits.of(64, connector_limit=100) == Limits(workers=64, in_flight=64, sockets=100)
    assert Limits.of(500, connector_limit=100) == Limits(workers=500, in_flight=500, sockets=500)
