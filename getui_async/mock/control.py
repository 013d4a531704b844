"""The mock's own endpoints under ``/_mock``: counters, deliveries, revocations, accepted bodies, reset,
runtime faults.

They let a test in another process (the CLI's, a benchmark's) see and steer what an in-process test
reaches through :class:`~getui_async.mock.MockGetui`'s methods, and answer in Getui's envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .config import MockConfig
from .routes import Handler, Route
from .state import Live, MockStats
from .wire import CONTROL_PREFIX, NO_DATA, Call, Refusal, Reply

__all__ = ["Controlled", "control_routes"]


class Controlled(Protocol):
    """What the control endpoints need of the server (its public methods)."""

    @property
    def deliveries(self) -> Mapping[str, int]: ...

    @property
    def revocations(self) -> Mapping[tuple[str, str], int]: ...

    def stats(self) -> MockStats: ...

    def reset(self) -> None: ...

    def configure(self, **changes: Any) -> MockConfig: ...


def control_routes(server: Controlled, live: Live) -> list[Route]:
    """``/_mock/*`` routes over ``server``; ``POST /_mock/faults`` alone has a body."""
    desk = _ControlDesk(server, live)
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/stats", desk.stats),
        ("POST", "/reset", desk.reset),
        ("GET", "/faults", desk.faults),
        ("POST", "/faults", desk.set_faults),
        ("GET", "/deliveries", desk.deliveries),
        ("GET", "/revocations", desk.revocations),
        ("GET", "/requests", desk.requests),
    ]
    return [
        Route(
            method, CONTROL_PREFIX + path, handler, "control", has_body=(method, path) == ("POST", "/faults")
        )
        for method, path, handler in table
    ]


class _ControlDesk:
    __slots__ = ("_live", "_server")

    def __init__(self, server: Controlled, live: Live) -> None:
        self._server = server
        self._live = live

    def stats(self, call: Call) -> Reply:
        return 0, "", self._server.stats().as_dict()

    def reset(self, call: Call) -> Reply:
        self._server.reset()
        return 0, "", NO_DATA

    def faults(self, call: Call) -> Reply:
        return 0, "", self._live.config.fault_settings()

    def set_faults(self, call: Call) -> Reply:
        """``POST /_mock/faults`` with ``{setting: value}``: checked like the constructor's arguments."""
        if not isinstance(call.body, dict):
            raise Refusal(20001, "body type error")
        try:
            new = self._server.configure(**call.body)
        except (TypeError, ValueError) as exc:
            raise Refusal(20001, str(exc)) from None
        return 0, "", new.fault_settings()

    def deliveries(self, call: Call) -> Reply:
        return 0, "", dict(self._server.deliveries)

    def revocations(self, call: Call) -> Reply:
        """``GET /_mock/revocations``: ``{taskid: {cid: revokes that named that delivery}}``."""
        out: dict[str, dict[str, int]] = {}
        for (taskid, cid), n in self._server.revocations.items():
            out.setdefault(taskid, {})[cid] = n
        return 0, "", out

    def requests(self, call: Call) -> Reply:
        """``GET /_mock/requests[?endpoint=push/single/cid]``: the last accepted bodies per endpoint."""
        endpoint = call.params.get("endpoint")
        if endpoint is not None:
            return 0, "", {endpoint: self._live.requests.bodies(endpoint)}
        return 0, "", self._live.requests.as_dict()
