"""What the mock remembers: every delivery per cid (compactly), the counters behind ``stats()``, and
:class:`Live`, the settings and counters every part of the server reads.

A run may deliver a million cids, so one delivery is one packed ``bytes`` record (~150 bytes) and a cid
delivered once holds that record directly; only a redelivered cid gets a list. List pushes share one
record object among all cids of a task. Records are packed with ``marshal`` (exact-size, in memory
only): an orjson result keeps a 4 KiB buffer per object, which would cost 4 GB at a million cids.
"""

from __future__ import annotations

import marshal
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, NamedTuple

from .config import MockConfig

__all__ = ["Counters", "Delivery", "DeliveryStore", "Live", "MockStats", "RequestLog", "pack_delivery"]


class Delivery(NamedTuple):
    """One accepted push to one cid."""

    taskid: str
    request_id: str | None
    notify_id: int | None
    title: str | None
    endpoint: str


def pack_delivery(
    taskid: str, request_id: str | None, notify_id: int | None, title: str | None, endpoint: str
) -> bytes:
    """The compact stored form of a :class:`Delivery`."""
    return marshal.dumps((taskid, request_id, notify_id, title, endpoint))


class _CountView(Mapping[str, int]):
    """A read-only ``cid -> deliveries`` view over the store, without copying it."""

    __slots__ = ("_by_cid",)

    def __init__(self, by_cid: dict[str, bytes | list[bytes]]) -> None:
        self._by_cid = by_cid

    def __getitem__(self, cid: str) -> int:
        entry = self._by_cid[cid]
        return 1 if isinstance(entry, bytes) else len(entry)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_cid)

    def __len__(self) -> int:
        return len(self._by_cid)


class DeliveryStore:
    """Every delivery, by cid, in arrival order."""

    __slots__ = ("_by_cid", "redeliveries", "total")

    def __init__(self) -> None:
        self._by_cid: dict[str, bytes | list[bytes]] = {}
        self.total = 0
        self.redeliveries = 0

    def add(self, cid: str, record: bytes) -> None:
        self.total += 1
        entry = self._by_cid.get(cid)
        if entry is None:
            self._by_cid[cid] = record
            return
        self.redeliveries += 1
        if isinstance(entry, bytes):
            self._by_cid[cid] = [entry, record]
        else:
            entry.append(record)

    def counts(self) -> Mapping[str, int]:
        return _CountView(self._by_cid)

    def log(self, cid: str) -> list[Delivery]:
        entry = self._by_cid.get(cid)
        if entry is None:
            return []
        records = [entry] if isinstance(entry, bytes) else entry
        return [Delivery(*marshal.loads(r)) for r in records]  # noqa: S302 (records we packed ourselves)

    def clear(self) -> None:
        self._by_cid.clear()
        self.total = 0
        self.redeliveries = 0


class RequestLog:
    """The last ``per_endpoint`` accepted bodies of each endpoint (bounded), for tests to inspect the wire."""

    __slots__ = ("_by_endpoint", "_per_endpoint")

    def __init__(self, per_endpoint: int) -> None:
        self._per_endpoint = per_endpoint
        self._by_endpoint: dict[str, deque[Any]] = {}

    def add(self, endpoint: str, body: Any) -> None:
        if self._per_endpoint <= 0:
            return
        kept = self._by_endpoint.get(endpoint)
        if kept is None:
            kept = self._by_endpoint[endpoint] = deque(maxlen=self._per_endpoint)
        kept.append(body)

    def bodies(self, endpoint: str) -> list[Any]:
        return list(self._by_endpoint.get(endpoint, ()))

    def as_dict(self) -> dict[str, list[Any]]:
        return {endpoint: list(kept) for endpoint, kept in self._by_endpoint.items()}


@dataclass(frozen=True)
class MockStats:
    """A snapshot of the mock's counters; ``redeliveries`` counts deliveries beyond a cid's first."""

    requests: Mapping[str, int]
    auth_calls: int
    tokens_issued: int
    deliveries: int
    distinct_cids: int
    duplicates_dropped: int
    redeliveries: int
    invalid_items_dropped: int
    rejections: Mapping[int, int]
    faults: Mapping[str, int]
    throttled: int
    quota_refusals: int
    quota_used: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``GET /_mock/stats``); rejection codes become string keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["requests"] = dict(self.requests)
        out["faults"] = dict(self.faults)
        out["rejections"] = {str(code): n for code, n in self.rejections.items()}
        return out


class Counters:
    """The mutable counters the handlers bump (single event loop: no locking needed)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.rejections: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.auth_calls = 0
        self.tokens_issued = 0
        self.duplicates_dropped = 0
        self.invalid_items_dropped = 0
        self.throttled = 0
        self.quota_refusals = 0

    def snapshot(self, store: DeliveryStore, quota_used: int) -> MockStats:
        return MockStats(
            requests=MappingProxyType(dict(self.requests)),
            auth_calls=self.auth_calls,
            tokens_issued=self.tokens_issued,
            deliveries=store.total,
            distinct_cids=len(store.counts()),
            duplicates_dropped=self.duplicates_dropped,
            redeliveries=store.redeliveries,
            invalid_items_dropped=self.invalid_items_dropped,
            rejections=MappingProxyType(dict(self.rejections)),
            faults=MappingProxyType(dict(self.faults)),
            throttled=self.throttled,
            quota_refusals=self.quota_refusals,
            quota_used=quota_used,
        )


@dataclass(slots=True)
class Live:
    """The state every part of the server reads and ``configure``/``reset`` replace as a whole.

    The parts hold this one object, never its fields, so a new config or fresh counters reach them all.
    ``clock`` (seconds since the epoch) is every time rule's clock.
    """

    config: MockConfig
    clock: Callable[[], float]
    counters: Counters = field(default_factory=Counters)
    requests: RequestLog = field(init=False)

    def __post_init__(self) -> None:
        self.requests = RequestLog(self.config.record_bodies)
