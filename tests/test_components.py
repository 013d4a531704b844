"""The real servers the tests start (tests/components.py) really run, answer, and stop by PID."""

from __future__ import annotations

import os
import urllib.request

import asyncpg

from tests.components import Postgres, Pushgateway


async def test_postgres_answers_a_query(postgres: Postgres) -> None:
    """The session's PostgreSQL accepts a connection on 127.0.0.1 and runs SQL."""
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT 40 + 2") == 42
    finally:
        await conn.close()
    os.kill(postgres.pid, 0)  # the server we started is alive (raises if not)


def test_pushgateway_takes_a_pushed_metric(pushgateway: Pushgateway) -> None:
    """A metric PUT to the gateway's job group is exposed on its /metrics page."""
    body = b"# TYPE getui_components_probe gauge\ngetui_components_probe 7\n"
    request = urllib.request.Request(  # noqa: S310 (our own 127.0.0.1 server)
        f"{pushgateway.url}/metrics/job/components_probe", data=body, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
        assert reply.status in (200, 202)
    assert 'getui_components_probe{instance="",job="components_probe"} 7' in pushgateway.metrics_text()
