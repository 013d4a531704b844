"""The network seam: one small interface, one aiohttp implementation, one test double.

The client speaks only :class:`Transport`: ``request(method, url, headers, body) -> Response``. The
default :class:`AiohttpTransport` owns the single pooled ``aiohttp.ClientSession`` (created inside the
running loop, never in ``__init__``) and translates every aiohttp/network error into
:class:`~getui_async.errors.TransportError` here, in one place. :class:`MockTransport` answers from a
handler function so unit tests can script replies without sockets.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import aiohttp

from ._version import __version__
from .config import Settings
from .errors import ConnectError, FatalApiError, TransportError

__all__ = ["AiohttpTransport", "MockTransport", "Request", "Response", "Transport"]

USER_AGENT = f"getui-async/{__version__} aiohttp/{aiohttp.__version__}"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the transport sees it (``headers`` may hold the token: never log them)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Response:
    """The status and raw body of an HTTP reply; decoding the Getui envelope is the client's job."""

    status: int
    body: bytes


@runtime_checkable
class Transport(Protocol):
    """What the client needs from the network."""

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """The production transport: one ``ClientSession`` with a bounded, keep-alive connection pool.

    TLS verification is always on (aiohttp's default SSL context); plain http is only ever used for
    loopback base URLs, which :func:`~getui_async.config.check_base_url` enforces.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        """The one session; created on first use inside the running event loop."""
        if self._session is None:
            if self._closed:
                raise RuntimeError("transport is closed")
            s = self._settings
            connector = aiohttp.TCPConnector(
                limit=s.connector_limit,
                limit_per_host=0,
                keepalive_timeout=s.keepalive_timeout_s,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # sock_read restarts with every byte, so a 1 byte/s drip would never end it: ``total``
                # bounds the whole attempt (connect, send, the reply's last byte). It also counts a wait
                # for a free pooled socket, which is why the engine keeps connector_limit >= concurrency.
                timeout=aiohttp.ClientTimeout(
                    total=s.attempt_deadline_s,
                    sock_connect=s.connect_timeout_s,
                    sock_read=s.request_timeout_s,
                ),
                # Headers come whole with each request (the client caches them per token): merging
                # session defaults into every request cost ~7% of a single push's client CPU.
                skip_auto_headers=("User-Agent",),
                auto_decompress=True,
                raise_for_status=False,
            )
        return self._session

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        try:
            # Never follow a redirect: it would carry the token header to whatever host the reply names.
            # Getui's own host switch is the 301 *code* in a JSON body, which the client handles.
            async with self.session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                if 300 <= resp.status < 400 and "Location" in resp.headers:
                    resp.close()
                    raise TransportError(
                        f"refused to follow an HTTP {resp.status} redirect ({method}); "
                        "Getui moves an app only by a code 301 reply",
                        http_status=resp.status,
                    )
                return Response(resp.status, await self._read_capped(resp, method))
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FatalApiError(f"TLS certificate verification failed for {exc.host}") from None
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
            raise FatalApiError(f"TLS handshake failed: {type(exc).__name__}") from None
        except aiohttp.ConnectionTimeoutError:
            raise ConnectError(
                f"no connection within {self._settings.connect_timeout_s:g} s ({method})"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # Refused, unreachable, DNS: the request was never written, so sending it again is always safe.
            raise ConnectError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        except asyncio.TimeoutError:
            # No URL in the text: DELETE /auth/{token} carries the token in its path.
            raise TransportError(self._timeout_text(method)) from None
        except (aiohttp.ClientError, OSError) as exc:
            # str(exc) of aiohttp errors names host/port and the OS reason, never headers or bodies.
            raise TransportError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    async def _read_capped(self, resp: aiohttp.ClientResponse, method: str) -> bytes:
        """The reply body, refused once it exceeds ``max_reply_bytes`` (counted after decompression).

        A compressed body is inflated as it streams (aiohttp's decompressor yields bounded pieces), and
        read in chunks until at most cap + 1 bytes are in: a gzip bomb costs the cap, never its size.
        """
        cap = self._settings.max_reply_bytes
        length = resp.content_length
        if length is not None and length > cap:
            resp.close()
            raise self._too_large(method, resp.status)
        if length is not None and "Content-Encoding" not in resp.headers:
            return await resp.read()  # the usual small, sized reply: one read
        chunks: list[bytes] = []
        size = 0
        while chunk := await resp.content.read(min(_CHUNK, cap + 1 - size)):
            size += len(chunk)
            if size > cap:
                resp.close()  # drop the connection: the rest of the reply is never read or inflated
                raise self._too_large(method, resp.status)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, method: str, status: int) -> TransportError:
        cap_mib = self._settings.max_reply_bytes / (1024 * 1024)
        return TransportError(f"reply larger than {cap_mib:g} MiB refused ({method})", http_status=status)

    def _timeout_text(self, method: str) -> str:
        s = self._settings
        return (
            f"no complete reply within {s.attempt_deadline_s:g} s "
            f"(or no byte for {s.request_timeout_s:g} s) ({method})"
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport that answers from ``handler(request)``: for unit tests (sync or async handler).

    It records every request in :attr:`requests`, so a test can assert the exact bodies sent.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        request = Request(method, url, dict(headers), body)
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        assert isinstance(reply, Response)
        return reply

    async def aclose(self) -> None:
        self.closed = True
