"""Run ``getui-push`` exactly as the console script does, and measure it from inside.

``python bench/cli_probe.py PROBE.json send INPUT --out ...`` calls :func:`getui_async.cli.main` with the
rest of argv (the function the ``getui-push`` entry point calls), then writes PROBE.json with:

- ``cpu_s``: user + system CPU of the process while ``main`` ran (all threads, from ``resource``),
  so interpreter start-up and imports, which the raw loop does not count either, are left out;
- ``p50_ms`` / ``p99_ms``: the latency of every HTTP exchange, timed around
  ``AiohttpTransport.request`` (the only patch: one ``perf_counter`` pair per request);
- ``exit_code``.

Whole-process CPU and peak RSS are measured by ``bench.py`` from outside (``os.wait4``).
"""

from __future__ import annotations

import resource
import sys
import time
from array import array
from collections.abc import Mapping
from pathlib import Path

import orjson
from clients import percentiles_ms

from getui_async import cli, transport
from getui_async.transport import Response


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time_requests(latencies: array[float]) -> None:
    original = transport.AiohttpTransport.request

    async def timed(
        self: transport.AiohttpTransport,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> Response:
        t0 = time.perf_counter()
        try:
            return await original(self, method, url, headers=headers, body=body)
        finally:
            latencies.append(time.perf_counter() - t0)

    transport.AiohttpTransport.request = timed  # type: ignore[method-assign]


def main() -> int:
    probe, argv = Path(sys.argv[1]), sys.argv[2:]
    latencies: array[float] = array("d")
    _time_requests(latencies)
    cpu0 = _cpu_s()
    code = cli.main(argv)
    result = {"exit_code": code, "cpu_s": _cpu_s() - cpu0, **percentiles_ms(latencies)}
    probe.write_bytes(orjson.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
