"""Which endpoint carries each recipient, and how recipients are grouped into requests (pure).

``--mode auto`` sends content that is identical for everyone as one list task (the message is stored
once with ``push/list/message``, then cids go in chunks through ``push/list/cid``) and personalized
content through ``push/single/batch/cid`` in chunks of up to 200 (personalized aliases one by one
through ``push/single/alias``, so each gets its own status). ``single``, ``batch`` and ``list``
force an endpoint. Aliases use the alias twin of each endpoint and are never mixed with cids in a
request. No I/O here: the planner is fed items and hands back full requests, so it is property-tested.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from .config import MAX_BATCH_SIZE, MAX_LIST_CHUNK, Mode
from .outcome import Kind

__all__ = ["Endpoint", "Plan", "Planner"]

T = TypeVar("T")


class Endpoint(str, enum.Enum):
    """The request shapes the engine sends."""

    SINGLE = "single"  # push/single/{kind}
    BATCH = "batch"  # push/single/batch/{kind}
    LIST = "list"  # push/list/{kind} with a stored message


#: Per mode: the endpoint for personalized content, then for content identical for everyone.
_ROUTES: Final[dict[Mode, tuple[Endpoint | None, Endpoint]]] = {
    Mode.AUTO: (Endpoint.BATCH, Endpoint.LIST),
    Mode.SINGLE: (Endpoint.SINGLE, Endpoint.SINGLE),
    Mode.BATCH: (Endpoint.BATCH, Endpoint.BATCH),
    Mode.LIST: (None, Endpoint.LIST),  # personalized content cannot go as a list task
}


@dataclass(frozen=True, slots=True)
class Plan(Generic[T]):
    """One request to make: an endpoint, the audience kind, and its items (in input order).

    With variants every plan holds one variant's items, so a list plan is one variant's list task.
    """

    endpoint: Endpoint
    kind: Kind
    items: tuple[T, ...]
    variant: str | None = None


class Planner(Generic[T]):
    """Groups items into plans: ``add`` returns a plan when one fills up; ``flush`` returns the rest."""

    def __init__(self, mode: Mode, *, batch_size: int = MAX_BATCH_SIZE, list_chunk: int = 200) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_SIZE}")
        if not 1 <= list_chunk <= MAX_LIST_CHUNK:
            raise ValueError(f"list_chunk must be 1..{MAX_LIST_CHUNK}")
        self.mode = mode
        self._limits = {Endpoint.SINGLE: 1, Endpoint.BATCH: batch_size, Endpoint.LIST: list_chunk}
        self._open: dict[tuple[Endpoint, Kind, str | None], list[T]] = {}
        personal, shared = _ROUTES[mode]
        self._routes: dict[bool, Endpoint | None] = {False: personal, True: shared}

    def endpoint_for(self, shared: bool, kind: Kind = "cid") -> Endpoint | None:
        """The endpoint for an item; ``None`` when the mode cannot carry it (personalized in list mode).

        In ``auto``, personalized alias items go one by one: a batch alias reply is keyed by cid, so
        only a single alias push tells each alias its own status (an unknown alias is reported).
        """
        if not shared and kind == "alias" and self.mode is Mode.AUTO:
            return Endpoint.SINGLE
        return self._routes[shared]

    def add(self, item: T, kind: Kind, endpoint: Endpoint, variant: str | None = None) -> Plan[T] | None:
        """Queue ``item`` (of ``variant``, if any); return a full plan when its request reaches the limit."""
        key = (endpoint, kind, variant)
        bucket = self._open.get(key)
        if bucket is None:
            bucket = self._open[key] = []
        bucket.append(item)
        if len(bucket) < self._limits[endpoint]:
            return None
        del self._open[key]
        return Plan(endpoint, kind, tuple(bucket), variant)

    def flush(self) -> list[Plan[T]]:
        """Every partly filled request, in a stable order; the planner is empty afterwards."""
        plans = [Plan(end, kind, tuple(items), var) for (end, kind, var), items in self._open.items()]
        self._open.clear()
        return plans

    @property
    def pending(self) -> int:
        """Items waiting in partly filled requests."""
        return sum(len(items) for items in self._open.values())
