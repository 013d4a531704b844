"""What ``--concurrency`` bounds, said once: workers, in-flight slots and sockets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The three limits one ``--concurrency`` value sets (style: three limits, three tools).

    ``workers`` take plans off the queue; ``in_flight`` is the throttle's semaphore; ``sockets`` is the
    connector's pool, never below ``in_flight``: aiohttp's total timeout also counts a wait for a free
    pooled socket, so a smaller pool would time requests out that were merely queued.
    """

    workers: int
    in_flight: int
    sockets: int

    @classmethod
    def of(cls, concurrency: int, *, connector_limit: int) -> Limits:
        """The limits of ``concurrency`` requests at once, with a pool of at least ``connector_limit``."""
        return cls(workers=concurrency, in_flight=concurrency, sockets=max(connector_limit, concurrency))
