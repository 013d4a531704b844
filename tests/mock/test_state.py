"""The mock's delivery store, stats snapshot and config validation (no server needed)."""

from __future__ import annotations

import dataclasses
import tracemalloc

import pytest

from getui_async.mock import Delivery, MockConfig
from getui_async.mock.state import Counters, DeliveryStore, pack_delivery


def test_store_counts_logs_and_redeliveries():
    """Deliveries are kept per cid in order; a cid's second delivery counts as a redelivery."""
    store = DeliveryStore()
    first = pack_delivery("RASS_1", "req-1", 3, "Hi", "push/single/cid")
    second = pack_delivery("RASL-2", None, None, None, "push/list/cid")
    store.add("a", first)
    store.add("b", first)
    store.add("a", second)
    store.add("a", second)
    assert dict(store.counts()) == {"a": 3, "b": 1}
    assert store.log("a") == [
        Delivery("RASS_1", "req-1", 3, "Hi", "push/single/cid"),
        Delivery("RASL-2", None, None, None, "push/list/cid"),
        Delivery("RASL-2", None, None, None, "push/list/cid"),
    ]
    assert store.log("nobody") == []
    assert (store.total, store.redeliveries) == (4, 2)
    store.clear()
    assert (len(store.counts()), store.total, store.redeliveries) == (0, 0, 0)


def test_a_delivered_cid_costs_little_memory():
    """A single-push delivery (taskid, request_id, title) costs well under 400 bytes per cid."""
    cids = [f"cid-{n:028d}" for n in range(20_000)]  # made before tracing: cids come from the request
    store = DeliveryStore()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n, cid in enumerate(cids):
            store.add(
                cid, pack_delivery(f"RASS_1128_{n:032x}", f"{n:032x}", n, "Flash sale", "push/single/cid")
            )
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (after - before) / len(cids) < 400


def test_stats_snapshot_is_frozen():
    """A stats snapshot does not change with later counting, and cannot be mutated."""
    counters = Counters()
    counters.requests["POST /auth"] += 1
    snapshot = counters.snapshot(DeliveryStore(), quota_used=0)
    counters.requests["POST /auth"] += 1
    assert snapshot.requests == {"POST /auth": 1}
    with pytest.raises(TypeError):
        snapshot.requests["POST /auth"] = 5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.deliveries = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"http_5xx_rate": 1.5}, "http_5xx_rate"),
        ({"online_ratio": 0.9, "ignore_ratio": 0.2}, "online_ratio"),
        ({"reset_phase": "during"}, "reset_phase"),
        ({"duplicate_reply": "ignore"}, "duplicate_reply"),
        ({"list_chunk_limit": 0}, "list_chunk_limit"),
        ({"daily_quota": 0}, "daily_quota"),
        ({"latency_ms": -1}, "latency_ms"),
    ],
)
def test_config_refuses_bad_values(changes, field):
    """Out-of-range rates, unknown policies and non-positive limits are refused, naming the field."""
    with pytest.raises(ValueError, match=field):
        MockConfig(**changes)


def test_config_freezes_json_shaped_values():
    """Lists and dicts from a JSON patch become a frozenset and an immutable alias map."""
    config = MockConfig(invalid_cids=["x", "x"], aliases={"al": ["c1"]})
    assert config.invalid_cids == frozenset({"x"})
    assert dict(config.aliases) == {"al": ("c1",)}
    with pytest.raises(TypeError):
        config.aliases["new"] = ("c",)  # type: ignore[index]
    assert config.fault_settings()["aliases"] == {"al": ["c1"]}


def test_config_repr_hides_credentials():
    """The app key and master secret are left out of the repr."""
    config = MockConfig(app_key="k-123456789", master_secret="s-987654321")
    assert "k-123456789" not in repr(config)
    assert "s-987654321" not in repr(config)
