"""AiohttpTransport against a gzip bomb on 127.0.0.1: inflated in a stream, refused at the reply cap."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from collections.abc import AsyncIterator
from typing import Final

import pytest
from aiohttp import web

from getui_async.errors import TransportError
from getui_async.transport import AiohttpTransport
from tests.fakes import settings

MIB: Final = 1024 * 1024
CAP: Final = 4 * MIB


def gzip_bomb(inflated_mib: int) -> bytes:
    """``inflated_mib`` MiB of zeros, gzip-compressed a MiB at a time (about 1 KB compressed per MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    parts = [packer.compress(block) for _ in range(inflated_mib)]
    parts.append(packer.flush())
    return b"".join(parts)


BOMB: Final = gzip_bomb(100)


@pytest.fixture
async def bomb_url() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=BOMB, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    app = web.Application()
    app.router.add_post("/bomb", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bomb"
    finally:
        await runner.cleanup()


async def test_gzip_bomb_is_refused_at_the_cap(bomb_url: str) -> None:
    """A ~100 KB reply inflating to 100 MiB is refused as larger than the 4 MiB cap, not read whole."""
    assert len(BOMB) < 200_000
    transport = AiohttpTransport(settings(max_reply_bytes=CAP))
    try:
        with pytest.raises(TransportError) as caught:
            await transport.request("POST", bomb_url, headers={}, body=b"{}")
    finally:
        await transport.aclose()
    assert "reply larger than 4 MiB" in caught.value.msg
    assert caught.value.http_status == 200


async def test_reading_stops_one_byte_past_the_cap(bomb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The body is read in bounded chunks and reading stops once cap + 1 inflated bytes are in."""
    import aiohttp

    read_sizes: list[int] = []
    real_read = aiohttp.StreamReader.read

    async def spy(self: aiohttp.StreamReader, n: int = -1) -> bytes:
        data = await real_read(self, n)
        assert n > 0, "the body must be read in bounded chunks"
        read_sizes.append(len(data))
        return data

    monkeypatch.setattr(aiohttp.StreamReader, "read", spy)
    transport = AiohttpTransport(settings(max_reply_bytes=CAP))
    try:
        with pytest.raises(TransportError):
            await transport.request("POST", bomb_url, headers={}, body=b"{}")
    finally:
        await transport.aclose()
    assert sum(read_sizes) == CAP + 1


_PEAK_SCRIPT: Final = textwrap.dedent(
    """
    import asyncio, json, resource, sys, zlib
    from aiohttp import web
    from getui_async.config import Credentials, RetrySettings, Settings
    from getui_async.errors import TransportError
    from getui_async.transport import AiohttpTransport
    from tests.test_transport_bomb import BOMB

    CONCURRENCY = int(sys.argv[1])

    async def main():
        async def handler(request):
            return web.Response(body=BOMB, headers={"Content-Encoding": "gzip"})
        app = web.Application()
        app.router.add_post("/bomb", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/bomb"
        settings = Settings(
            credentials=Credentials(app_id="a", app_key="k", master_secret="s"),
            base_url="http://127.0.0.1:1/v2", max_reply_bytes=4 * 1024 * 1024,
            connector_limit=CONCURRENCY, retry=RetrySettings(zero_waits=True),
        )
        transport = AiohttpTransport(settings)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        async def one():
            try:
                await transport.request("POST", url, headers={}, body=b"{}")
            except TransportError as exc:
                return exc.msg
            return "read whole"
        texts = await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await transport.aclose()
        await runner.cleanup()
        print(json.dumps({"before_kb": before, "peak_kb": peak, "texts": sorted(set(texts))}))

    asyncio.run(main())
    """
)


def test_gzip_bombs_in_parallel_stay_within_concurrency_times_the_cap() -> None:
    """16 bombs at once: peak RSS grows by at most 16 x 4 MiB + 50 MB (whole bodies would be 1.6 GB)."""
    concurrency = 16
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(concurrency)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["texts"] == ["reply larger than 4 MiB refused (POST)"]
    grown_mb = (report["peak_kb"] - report["before_kb"]) / 1024
    assert grown_mb <= concurrency * 4 + 50, report
