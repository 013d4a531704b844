"""Issue #10's engine parts: personalized aliases get their own status in ``auto``; a list chunk's
unnamed cids are looked up with ``user/detail``, never re-sent as single pushes."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Final

import pytest

from getui_async import _json
from getui_async.config import Mode
from getui_async.engine import run_campaign
from tests.conftest import MakeMock

from .conftest import PERSONAL, SHARED, options_for, read_results, settings_for, write_recipients

pytestmark = [pytest.mark.integration]

BOUND_S: Final = 60.0


async def test_personalized_aliases_in_auto_each_get_their_own_status(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """500 alias records, 20 unknown: auto mode reports those 20 failed (20001) and exits 1."""
    mock = await make_mock(seed=61, batch_invalid_item="drop_item")
    path = tmp_path / "aliases.jsonl"
    unknown = set(range(25, 501, 25))
    rows = [
        {"alias": f"invalid-{i:04d}" if i in unknown else f"user-{i:04d}", "name": f"u{i}"}
        for i in range(1, 501)
    ]
    path.write_bytes(b"".join(_json.dumps_line(row) for row in rows))
    out = tmp_path / "results.jsonl"
    summary = await asyncio.wait_for(
        run_campaign(path, PERSONAL, settings_for(mock), options_for(Mode.AUTO), out=out), BOUND_S
    )
    lines = read_results(out)
    assert summary.exit_code == 1
    failed = {line["record"] for line in lines if line["status"] == "failed"}
    assert failed == unknown
    assert all(
        line["code"] == 20001 and line["retryable"] is False for line in lines if line["status"] == "failed"
    )
    assert Counter(line["status"] for line in lines)["accepted"] == 0


async def test_list_chunk_without_detail_is_looked_up_never_resent(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """Dead cids a list reply leaves out become failed 20001 via user/detail; no single push is sent."""
    mock = await make_mock(seed=62, list_invalid_cid="drop")
    people = write_recipients(tmp_path / "r.jsonl", 400, invalid_every=23)
    out = tmp_path / "results.jsonl"
    summary = await asyncio.wait_for(
        run_campaign(people.path, SHARED, settings_for(mock), options_for(Mode.LIST), out=out), BOUND_S
    )
    assert summary.exit_code == 1
    requests = mock.stats().requests
    assert not any("single" in endpoint for endpoint in requests), requests
    lines = read_results(out)
    failed = {line["record"] for line in lines if line["status"] == "failed"}
    assert failed == {r for r, e in people.expected.items() if e == "failed"}
    assert all(line["code"] == 20001 for line in lines if line["status"] == "failed")
    assert max(mock.deliveries.values()) == 1
