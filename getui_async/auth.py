"""The token manager: one valid Getui token, refreshed exactly once however many requests see it expire.

Every request asks :meth:`TokenManager.get` for the current :class:`Token` (a lock-free fast path) and
sends it. When Getui answers ``10001``, the caller hands back the token it used to :meth:`refresh`;
under an ``asyncio.Lock``, the first caller fetches a new token and every later caller holding the same
stale *generation* gets the new one without another ``/auth`` call. Tokens are also refreshed ahead of
their ``expire_time`` by a margin. ``/auth`` calls are spaced to stay within Getui's 100 a minute.

The token value lives in a :class:`~getui_async.config.Secret` and is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Credentials, Secret
from .errors import ApiError, FatalApiError
from .events import Observers, TokenRefreshed
from .messages import auth_body

__all__ = ["Token", "TokenManager", "wall_clock_ms"]

log = logging.getLogger(__name__)

#: When /auth omits or garbles ``expire_time``, assume this lifetime (shorter than the documented day).
FALLBACK_LIFETIME_MS = 3_600_000
#: After a failed proactive refresh, keep using the still-valid token and try again this much later.
PROACTIVE_RETRY_MS = 30_000
#: A new token is used for at least this long before a proactive refresh, whatever its expire_time says.
MIN_USABLE_MS = 60_000
_WINDOW_MS = 60_000

AuthPost = Callable[[Mapping[str, Any]], Awaitable[Any]]


def wall_clock_ms() -> int:
    """Milliseconds since the epoch: Getui's ``timestamp`` and ``expire_time`` are wall-clock ms."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Token:
    """A token and its generation (1, 2, ...): which refresh produced it."""

    value: Secret
    generation: int
    expires_at_ms: int = field(repr=False)


class TokenManager:
    """Keeps one valid token for one app; safe to share by any number of coroutines.

    ``post_auth(body)`` performs ``POST /auth`` and returns the envelope's ``data`` (raising the mapped
    :class:`~getui_async.errors.ApiError` on a non-zero code). ``clock_ms`` and ``sleep`` are injectable
    so tests control time instead of sleeping.
    """

    def __init__(
        self,
        credentials: Credentials,
        post_auth: AuthPost,
        *,
        refresh_margin_s: float = 600.0,
        calls_per_min: int = 100,
        clock_ms: Callable[[], int] = wall_clock_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observers: Observers | None = None,
    ) -> None:
        self._credentials = credentials
        self._post_auth = post_auth
        self._margin_ms = int(refresh_margin_s * 1000)
        self._calls_per_min = calls_per_min
        self._clock_ms = clock_ms
        self._sleep = sleep
        self._observers = observers or Observers()
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._auth_times: deque[int] = deque(maxlen=calls_per_min)
        self._next_proactive_ms = 0
        self.auth_calls = 0

    @property
    def current(self) -> Token | None:
        """The token in hand (possibly stale), without any I/O."""
        return self._token

    async def get(self) -> Token:
        """A token that is valid now and not inside the refresh margin (refreshing if needed)."""
        token = self._token
        if token is None:
            return await self.refresh(None)
        now = self._clock_ms()
        if now < token.expires_at_ms - self._margin_ms:
            return token
        still_valid = now < token.expires_at_ms
        if still_valid and now < self._next_proactive_ms:
            return token  # a proactive refresh failed recently: keep the valid token a while
        return await self.refresh(token, proactive=still_valid)

    async def refresh(self, stale: Token | None, *, proactive: bool = False) -> Token:
        """Replace ``stale`` (the token a request was refused with) by a new one, exactly once.

        If another coroutine already replaced that generation, its token is returned with no
        ``/auth`` call: this is what turns a burst of N ``10001`` replies into one refresh.
        """
        async with self._lock:
            current = self._token
            if current is not None:
                now = self._clock_ms()
                replaced = stale is None or current.generation != stale.generation
                if replaced and now < current.expires_at_ms - self._margin_ms:
                    return current
                if proactive and now < min(self._next_proactive_ms, current.expires_at_ms):
                    return current
            try:
                token = await self._fetch(current)
            except ApiError:
                if proactive and current is not None and self._clock_ms() < current.expires_at_ms:
                    # The old token still works: keep it, warn, and try again a little later.
                    self._next_proactive_ms = self._clock_ms() + PROACTIVE_RETRY_MS
                    log.warning("proactive token refresh failed; keeping the current token for now")
                    return current
                raise
            self._token = token
            self._next_proactive_ms = 0
        self._observers.emit(TokenRefreshed(token.generation, proactive))
        log.debug("token refreshed (generation %d)", token.generation)
        return token

    async def _fetch(self, current: Token | None) -> Token:
        await self._respect_auth_rate()
        now = self._clock_ms()
        body = auth_body(self._credentials.app_key.reveal(), self._credentials.master_secret.reveal(), now)
        self._auth_times.append(now)
        self.auth_calls += 1
        try:
            data = await self._post_auth(body)
        except FatalApiError:
            raise
        except ApiError as exc:
            if exc.code == 20001:
                # A wrong sign or app key: no retry will fix it. Say which settings to check.
                raise FatalApiError(
                    f"Getui refused the credentials for app {self._credentials.app_id!r}: {exc.msg} "
                    "(check GETUI_APP_KEY and GETUI_MASTER_SECRET, and the clock)",
                    code=exc.code,
                    http_status=exc.http_status,
                ) from None
            raise
        return self._parse(data, current, now)

    def _parse(self, data: Any, current: Token | None, now: int) -> Token:
        value = data.get("token") if isinstance(data, Mapping) else None
        if not isinstance(value, str) or not value:
            raise FatalApiError("Getui /auth replied without a token")
        try:
            expires = int(data.get("expire_time"))
        except (TypeError, ValueError):
            expires = now + FALLBACK_LIFETIME_MS
            log.warning("Getui /auth reply has no usable expire_time; assuming one hour")
        if expires <= now + self._margin_ms + MIN_USABLE_MS:
            # Getui's clock and ours disagree (or the lifetime is tiny): use the token for a while
            # anyway rather than refreshing on every request.
            log.warning("Getui /auth returned a token that expires within the refresh margin")
            expires = now + self._margin_ms + MIN_USABLE_MS
        generation = 1 if current is None else current.generation + 1
        return Token(Secret(value), generation, expires)

    async def _respect_auth_rate(self) -> None:
        """Wait until one more ``/auth`` call stays within ``calls_per_min`` in any 60 s window."""
        if len(self._auth_times) < self._calls_per_min:
            return
        wait_ms = self._auth_times[0] + _WINDOW_MS - self._clock_ms()
        if wait_ms > 0:
            log.warning("pausing %.1f s to stay within Getui's /auth rate limit", wait_ms / 1000)
            await self._sleep(wait_ms / 1000)

    def invalidate(self) -> None:
        """Forget the token (after a revocation we caused); the next ``get`` fetches a new one."""
        self._token = None
