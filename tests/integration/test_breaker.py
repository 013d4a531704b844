"""The breaker: a file of mostly dead cids (the wrong app, or development cids in production) halts the
run after its probe, before any later record is sent, in every mode; a ratio of 0 turns it off.

Two witnesses: the results file, and the recipients the client actually put in push requests (a
counting transport), so "nothing after the probe" is checked on the wire, not only in the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pytest

from getui_async import _json
from getui_async.config import Mode, ProbeSettings, Settings
from getui_async.engine import run_campaign
from getui_async.outcome import StopReason
from getui_async.transport import AiohttpTransport, Response
from tests.conftest import MakeMock

from .conftest import options_for, read_results, settings_for, template_for

pytestmark = [pytest.mark.integration]

BOUND_S: Final = 120.0
RECORDS: Final = 5000
PROBE: Final = 1000


class CountingTransport:
    """The real transport, noting every cid the client put in a push request, in order."""

    def __init__(self, settings: Settings) -> None:
        self._inner = AiohttpTransport(settings)
        self.attempted: list[str] = []

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        if "/push/" in url and body:
            self.attempted.extend(_cids(_json.loads(body)))
        return await self._inner.request(method, url, headers=headers, body=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _cids(node: Any) -> list[str]:
    """Every cid named anywhere in a request body (single, batch or list push)."""
    if isinstance(node, dict):
        found = [c for c in node.get("cid", []) if isinstance(c, str)] if "cid" in node else []
        return found + [c for key, value in node.items() if key != "cid" for c in _cids(value)]
    if isinstance(node, list):
        return [c for item in node for c in _cids(item)]
    return []


def mostly_dead(path: Path, count: int = RECORDS) -> tuple[Path, list[str]]:
    """``count`` records whose cids are 90% dead (every 10th one lives)."""
    cids = [f"{i:032x}" if i % 10 == 0 else f"invalid{i:025d}" for i in range(1, count + 1)]
    path.write_bytes(b"".join(_json.dumps_line({"cid": cid, "name": f"u{i}"}) for i, cid in enumerate(cids)))
    return path, cids


async def _run(
    mock: Any, path: Path, out: Path, mode: Mode, *, resume: bool = False, **probe: Any
) -> tuple[Any, CountingTransport]:
    settings = settings_for(mock)
    transport = CountingTransport(settings)
    options = replace(options_for(mode, batch_size=100, list_chunk=100), probe=ProbeSettings(**probe))
    summary = await asyncio.wait_for(
        run_campaign(
            path, template_for(mode), settings, options, out=out, resume=resume, transport=transport
        ),
        BOUND_S,
    )
    return summary, transport


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.LIST])
async def test_mostly_dead_cids_halt_after_the_probe(make_mock: MakeMock, tmp_path: Path, mode: Mode) -> None:
    """5,000 records, 90% dead: exit 3 'halted' with only the probe's 1,000 attempted; a resume with
    --halt-dead-ratio 0 sends the other 4,000, each once."""
    mock = await make_mock(seed=7)
    path, cids = mostly_dead(tmp_path / "in.jsonl")
    out = tmp_path / "results.jsonl"
    summary, wire = await _run(mock, path, out, mode)
    assert summary.stopped is StopReason.HALTED
    assert summary.exit_code == 3
    assert "90%" in summary.stop_detail
    assert "--halt-dead-ratio 0" not in summary.stop_detail
    assert "halt_dead_ratio=0" in summary.stop_detail  # said in the library's words
    probe = set(cids[:PROBE])
    assert set(wire.attempted) <= probe, "a record after the probe was sent"
    assert len(set(wire.attempted)) < 1500
    lines = read_results(out)
    assert len(lines) == PROBE
    assert {line["record"] for line in lines} == set(range(1, PROBE + 1))

    summary, wire = await _run(mock, path, out, mode, resume=True, halt_dead_ratio=0)
    assert summary.stopped is None
    assert summary.exit_code == 1
    assert set(wire.attempted) == set(cids[PROBE:])
    live = [cid for cid in cids if not cid.startswith("invalid")]
    assert dict(mock.deliveries) == dict.fromkeys(live, 1)
    assert len({line["record"] for line in read_results(out)}) == RECORDS


async def test_a_resume_with_the_breaker_on_probes_again(make_mock: MakeMock, tmp_path: Path) -> None:
    """Each run probes its own first recipients: resuming a halted run unchanged halts again."""
    mock = await make_mock(seed=7)
    path, cids = mostly_dead(tmp_path / "in.jsonl", 2500)
    out = tmp_path / "results.jsonl"
    await _run(mock, path, out, Mode.BATCH)
    summary, wire = await _run(mock, path, out, Mode.BATCH, resume=True)
    assert summary.stopped is StopReason.HALTED
    assert set(wire.attempted) == set(cids[PROBE : 2 * PROBE])


async def test_ratio_zero_sends_everything(make_mock: MakeMock, tmp_path: Path) -> None:
    """--halt-dead-ratio 0: no probe pause decides anything; every record gets its line."""
    mock = await make_mock(seed=7)
    path, cids = mostly_dead(tmp_path / "in.jsonl", 2000)
    out = tmp_path / "results.jsonl"
    summary, wire = await _run(mock, path, out, Mode.BATCH, halt_dead_ratio=0)
    assert summary.stopped is None
    assert summary.exit_code == 1
    assert set(wire.attempted) == set(cids)
    assert len(read_results(out)) == 2000


async def test_a_healthy_file_passes_the_probe(make_mock: MakeMock, tmp_path: Path) -> None:
    """10% dead is far below the ratio: the run pauses once at the probe, then sends everything."""
    mock = await make_mock(seed=7)
    cids = [f"invalid{i:025d}" if i % 10 == 0 else f"{i:032x}" for i in range(1, 2501)]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(_json.dumps_line({"cid": c, "name": "u"}) for c in cids))
    out = tmp_path / "results.jsonl"
    summary, wire = await _run(mock, path, out, Mode.LIST)
    assert summary.stopped is None
    assert sorted(wire.attempted) == sorted(cids)


async def test_an_app_refusal_in_the_probe_halts(make_mock: MakeMock, tmp_path: Path) -> None:
    """Getui refusing the app itself (10002, blacklisted) during the probe: 'halted', nothing more sent."""
    mock = await make_mock(seed=7, throttle_per_window=2, throttle_code=10002)
    path, cids = mostly_dead(tmp_path / "in.jsonl", 3000)
    out = tmp_path / "results.jsonl"
    summary, wire = await _run(mock, path, out, Mode.BATCH, halt_dead_ratio=0.99)
    assert summary.stopped is StopReason.HALTED
    assert summary.exit_code == 3
    assert "refused the app" in summary.stop_detail
    assert "10002" in summary.stop_detail
    assert set(wire.attempted) <= set(cids[:PROBE])
