"""The mock's ``/auth``: signed sign-in, token expiry and revocation, and the token check of each API call."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .state import Live
from .validate import Invalid
from .wire import NO_DATA, Call, Refusal, Reply

__all__ = ["TokenDesk"]


class TokenDesk:
    """Issues tokens on a signed ``POST /auth``, drops them on ``DELETE /auth/{token}``, checks each use."""

    __slots__ = ("_auth_window", "_live", "_revoke_epoch", "_tokens")

    def __init__(self, live: Live) -> None:
        self._live = live
        self._tokens: dict[str, float] = {}  # token -> expiry (clock seconds)
        self._auth_window = (0, 0)  # (minute index, calls)
        self._revoke_epoch: int | None = None

    def forget_rate(self) -> None:
        """Start the per-minute ``/auth`` count afresh (tokens stay)."""
        self._auth_window = (0, 0)

    def restart_revocations(self) -> None:
        """``revoke_tokens_every_s`` changed: its periods count from the next check."""
        self._revoke_epoch = None

    def check(self, token: str | None, now: float) -> None:
        """Refuse with 10001 unless ``token`` was issued and has not expired or been revoked."""
        self._sweep_revocations(now)
        expiry = self._tokens.get(token) if token else None
        if expiry is None or now >= expiry:
            if token:
                self._tokens.pop(token, None)
            raise Refusal(10001)

    def sign_in(self, call: Call) -> Reply:
        """``POST /auth``: ``sign = sha256(appkey + timestamp + master_secret)``, timestamp within skew."""
        live, now = self._live, call.now
        cfg = live.config
        live.counters.auth_calls += 1
        minute = int(now // 60)
        index, calls = self._auth_window
        calls = calls + 1 if index == minute else 1
        self._auth_window = (minute, calls)
        if calls > cfg.auth_per_minute:
            raise Refusal(10003)
        body = call.body
        if not isinstance(body, dict):
            raise Invalid("body type error")
        for key in body:
            if key not in ("sign", "timestamp", "appkey"):
                raise Invalid(f"{key} is invalid")
        timestamp = body.get("timestamp")
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not isinstance(timestamp, str) or len(timestamp) != 13 or not timestamp.isdigit():
            raise Invalid("timestamp is invalid")
        appkey, sign = body.get("appkey"), body.get("sign")
        if not isinstance(appkey, str) or not hmac.compare_digest(appkey.encode(), cfg.app_key.encode()):
            raise Invalid("appkey is invalid")
        expected = hashlib.sha256((cfg.app_key + timestamp + cfg.master_secret).encode()).hexdigest()
        if not isinstance(sign, str) or not hmac.compare_digest(sign.encode(), expected.encode()):
            raise Invalid("sign is invalid")
        if abs(now * 1000 - int(timestamp)) > cfg.auth_max_skew_s * 1000:
            raise Invalid("timestamp is invalid")
        self._sweep_revocations(now)
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = secrets.token_hex(32)
        expires = now + cfg.token_lifetime_s
        self._tokens[token] = expires
        live.counters.tokens_issued += 1
        return 0, "success", {"expire_time": str(int(expires * 1000)), "token": token}

    def sign_out(self, call: Call) -> Reply:
        """``DELETE /auth/{token}``: the token is dead at once (an unknown one is no error)."""
        self._tokens.pop(call.params["token"], None)
        return 0, "", NO_DATA

    def _sweep_revocations(self, now: float) -> None:
        """``revoke_tokens_every_s``: every token dies at each period boundary (checked lazily)."""
        period = self._live.config.revoke_tokens_every_s
        if period is None:
            return
        epoch = int(now // period)
        if self._revoke_epoch is not None and epoch != self._revoke_epoch and self._tokens:
            self._tokens.clear()
            self._live.counters.faults["tokens_revoked"] += 1
        self._revoke_epoch = epoch
