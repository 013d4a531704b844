"""The planner: endpoint per mode and content, request sizes, kinds never mixed."""

from __future__ import annotations

import pytest

from getui_async.config import Mode
from getui_async.planner import Endpoint, Planner


@pytest.mark.parametrize(
    ("mode", "shared", "endpoint"),
    [
        (Mode.AUTO, True, Endpoint.LIST),
        (Mode.AUTO, False, Endpoint.BATCH),
        (Mode.SINGLE, True, Endpoint.SINGLE),
        (Mode.BATCH, True, Endpoint.BATCH),
        (Mode.LIST, True, Endpoint.LIST),
        (Mode.LIST, False, None),
    ],
)
def test_endpoint_choice(mode: Mode, shared: bool, endpoint: Endpoint | None) -> None:
    """auto: identical content -> list, personalized -> batch; forced modes force; list refuses personal."""
    assert Planner[int](mode).endpoint_for(shared) is endpoint


def test_chunks_fill_to_the_limit_and_flush_the_rest() -> None:
    """Batches close at batch_size; flush returns the partial ones; nothing is lost or repeated."""
    planner = Planner[int](Mode.BATCH, batch_size=3)
    plans = [p for i in range(8) if (p := planner.add(i, "cid", Endpoint.BATCH))]
    plans += planner.flush()
    assert [p.items for p in plans] == [(0, 1, 2), (3, 4, 5), (6, 7)]
    assert planner.pending == 0


def test_kinds_and_endpoints_are_never_mixed() -> None:
    """cids and aliases, list and batch each get their own requests."""
    planner = Planner[str](Mode.AUTO, batch_size=2, list_chunk=2)
    out = [
        planner.add("c1", "cid", Endpoint.LIST),
        planner.add("a1", "alias", Endpoint.LIST),
        planner.add("c2", "cid", Endpoint.BATCH),
        planner.add("c3", "cid", Endpoint.LIST),
    ]
    full = [p for p in out if p]
    assert [(p.endpoint, p.kind, p.items) for p in full] == [(Endpoint.LIST, "cid", ("c1", "c3"))]
    rest = {(p.endpoint, p.kind): p.items for p in planner.flush()}
    assert rest == {(Endpoint.LIST, "alias"): ("a1",), (Endpoint.BATCH, "cid"): ("c2",)}


def test_single_is_one_per_request() -> None:
    """Single mode hands back a plan per item at once."""
    planner = Planner[int](Mode.SINGLE)
    plan = planner.add(7, "cid", Endpoint.SINGLE)
    assert plan is not None
    assert plan.items == (7,)


@pytest.mark.parametrize(("batch", "chunk"), [(0, 200), (201, 200), (200, 0), (200, 1001)])
def test_limits_are_enforced(batch: int, chunk: int) -> None:
    """Sizes beyond Getui's limits are refused."""
    with pytest.raises(ValueError, match="must be"):
        Planner[int](Mode.AUTO, batch_size=batch, list_chunk=chunk)
