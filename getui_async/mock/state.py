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

__all__ = [
    "Counters",
    "Delivery",
    "DeliveryEvent",
    "DeliveryHook",
    "DeliveryStore",
    "Live",
    "MockStats",
    "RequestLog",
    "pack_delivery",
]


class Delivery(NamedTuple):
    """One accepted push to one cid; ``notify_id`` / ``collapse_id`` (iOS) are its override ids."""

    taskid: str
    request_id: str | None
    notify_id: int | None
    title: str | None
    endpoint: str
    collapse_id: str | None = None


def pack_delivery(
    taskid: str,
    request_id: str | None,
    notify_id: int | None,
    title: str | None,
    endpoint: str,
    collapse_id: str | None = None,
) -> bytes:
    """The compact stored form of a :class:`Delivery`."""
    return marshal.dumps((taskid, request_id, notify_id, title, endpoint, collapse_id))


def _unpack(record: bytes) -> Delivery:
    return Delivery(*marshal.loads(record))  # noqa: S302 (records we packed ourselves)


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One delivery as the mock decided it, for observers such as a receipt sender.

    ``status`` is Getui's answer for the cid; ``channel`` is ``gt`` (Getui's own) or the vendor an offline
    delivery went through (``hw``, ``xm``, ``op``, ``vv``, ``ios``); ``displayed`` and ``clicked`` are the
    seeded fates the reports count. ``msgid`` is fixed per (taskid, cid); ``at`` is the mock's clock at
    delivery (seconds since the epoch).
    """

    appid: str
    cid: str
    taskid: str
    msgid: str
    status: str
    channel: str
    displayed: bool
    clicked: bool
    at: float


#: An observer of deliveries (``MockGetui.on_delivery``): called synchronously, so keep it cheap.
DeliveryHook = Callable[[DeliveryEvent], None]


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
    """Every delivery, by cid, in arrival order, and which (taskid, cid) deliveries were revoked.

    ``overrides`` counts deliveries that replaced an earlier one on the device: the same ``notify_id``
    or ``apns-collapse-id`` as a delivery the cid already had (checked on redeliveries only, so cheap).
    """

    __slots__ = ("_by_cid", "_revoked", "overrides", "redeliveries", "total")

    def __init__(self) -> None:
        self._by_cid: dict[str, bytes | list[bytes]] = {}
        self._revoked: dict[tuple[str, str], int] = {}  # (taskid, cid) -> revokes that named it
        self.total = 0
        self.redeliveries = 0
        self.overrides = 0

    def add(self, cid: str, record: bytes) -> None:
        self.total += 1
        entry = self._by_cid.get(cid)
        if entry is None:
            self._by_cid[cid] = record
            return
        self.redeliveries += 1
        earlier = [entry] if isinstance(entry, bytes) else entry
        if _overrides(_unpack(record), earlier):
            self.overrides += 1
        if isinstance(entry, bytes):
            self._by_cid[cid] = [entry, record]
        else:
            entry.append(record)

    def delivered(self, cid: str, taskid: str) -> bool:
        """Whether task ``taskid`` delivered to ``cid``."""
        return any(d.taskid == taskid for d in self.log(cid))

    def revoke(self, cid: str, taskids: list[str]) -> None:
        """Mark each (taskid, cid) revoked once more."""
        for taskid in taskids:
            key = (taskid, cid)
            self._revoked[key] = self._revoked.get(key, 0) + 1

    def revocations(self) -> Mapping[tuple[str, str], int]:
        """``(taskid, cid) -> revokes that named it`` (a live read-only view)."""
        return MappingProxyType(self._revoked)

    def counts(self) -> Mapping[str, int]:
        return _CountView(self._by_cid)

    def log(self, cid: str) -> list[Delivery]:
        entry = self._by_cid.get(cid)
        if entry is None:
            return []
        records = [entry] if isinstance(entry, bytes) else entry
        return [_unpack(r) for r in records]

    def clear(self) -> None:
        self._by_cid.clear()
        self._revoked.clear()
        self.total = 0
        self.redeliveries = 0
        self.overrides = 0


def _overrides(new: Delivery, earlier: list[bytes]) -> bool:
    if new.notify_id is None and new.collapse_id is None:
        return False
    for old in map(_unpack, earlier):
        if new.notify_id is not None and old.notify_id == new.notify_id:
            return True
        if new.collapse_id is not None and old.collapse_id == new.collapse_id:
            return True
    return False


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
    """A snapshot of the mock's counters; ``redeliveries`` counts deliveries beyond a cid's first.

    Recall: ``tasks_stopped`` list tasks stopped; ``revoke_pushes`` revoke messages that reached a cid;
    ``revoked`` distinct (taskid, cid) deliveries revoked, ``revoked_cids`` the cids they reached;
    ``revokes_repeated`` revokes of a delivery already revoked; ``revokes_unreachable`` revokes of a
    delivery whose channel they cannot act on (Huawei, OPPO, iOS; Xiaomi/vivo without the vendor revoke;
    Getui's own without ``push_message.revoke``); ``revokes_unmatched`` revokes naming a
    task that never delivered to that cid; ``force_revokes`` revokes carrying ``force: true``, and
    ``force_revokes_all`` those that hit an unknown task, so the device deleted every notification of
    the app; ``overrides`` deliveries that replaced an earlier one by notify_id / apns-collapse-id.
    """

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
    tasks_stopped: int
    revoke_pushes: int
    revoked: int
    revoked_cids: int
    revokes_repeated: int
    revokes_unreachable: int
    revokes_unmatched: int
    force_revokes: int
    force_revokes_all: int
    overrides: int
    hook_errors: int

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
        self.tasks_stopped = 0
        self.revoke_pushes = 0
        self.revokes_repeated = 0
        self.revokes_unreachable = 0
        self.revokes_unmatched = 0
        self.force_revokes = 0
        self.force_revokes_all = 0
        self.hook_errors = 0

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
            tasks_stopped=self.tasks_stopped,
            revoke_pushes=self.revoke_pushes,
            revoked=len(store.revocations()),
            revoked_cids=len({cid for _, cid in store.revocations()}),
            revokes_repeated=self.revokes_repeated,
            revokes_unreachable=self.revokes_unreachable,
            revokes_unmatched=self.revokes_unmatched,
            force_revokes=self.force_revokes,
            force_revokes_all=self.force_revokes_all,
            overrides=store.overrides,
            hook_errors=self.hook_errors,
        )


@dataclass(slots=True)
class Live:
    """The state every part of the server reads and ``configure``/``reset`` replace as a whole.

    The parts hold this one object, never its fields, so a new config or fresh counters reach them all.
    ``clock`` (seconds since the epoch) is every time rule's clock; ``on_delivery`` the observers called
    for every delivery (``reset`` keeps them).
    """

    config: MockConfig
    clock: Callable[[], float]
    counters: Counters = field(default_factory=Counters)
    requests: RequestLog = field(init=False)
    on_delivery: list[DeliveryHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.requests = RequestLog(self.config.record_bodies)
