"""What Getui's replies mean: the envelope, and the typed results of the push and look-up endpoints.

:func:`envelope_data` turns ``{code, msg, data}`` into ``data`` or the mapped :mod:`~getui_async.errors`
exception; the ``*_result`` functions read a push reply's ``data`` without trusting its shape: anything
unexpected is kept as far as it is sound and flagged ``unconfirmed``, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from . import _json
from .errors import error_for_reply, error_for_status
from .messages import Rendered
from .outcome import DELIVERY_STATUSES

__all__ = [
    "STATUSES",
    "BatchResult",
    "CidCheck",
    "ListResult",
    "Push",
    "PushLike",
    "PushResult",
    "batch_result",
    "envelope_data",
    "list_result",
    "push_result",
]


def envelope_data(http_status: int, body: bytes) -> Any:
    """The ``data`` of a ``code: 0`` envelope; any other reply raises its mapped error."""
    try:
        envelope = _json.loads(body)
    except _json.JSONDecodeError:
        raise error_for_status(http_status) from None
    code = envelope.get("code") if isinstance(envelope, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise error_for_status(http_status)
    if code == 0:
        return envelope.get("data")
    msg = envelope.get("msg")
    raise error_for_reply(
        code, msg if isinstance(msg, str) else "", http_status=http_status, data=envelope.get("data")
    )


#: Getui's own per-cid delivery statuses (docs/getui-api.md §4), named once in :mod:`results`.
STATUSES: Final = frozenset(status.value for status in DELIVERY_STATUSES)


class Push(NamedTuple):
    """One message to one recipient, as an item of a batch push."""

    target: str
    request_id: str
    message: Rendered


class PushLike(Protocol):
    """Anything with a push's three fields (the engine passes its own per-recipient jobs)."""

    @property
    def target(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def message(self) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class PushResult:
    """Reply to a single push: the task id and Getui's status per cid.

    ``statuses`` is empty when Getui answered a repeated request_id with an empty success (no
    ``data``, or ``{}``): the message was taken earlier, don't send it again.

    ``unconfirmed`` is True when the reply was code 0 but its ``data`` had another shape than
    ``{taskid: {cid: status}}`` (a string, a list, a number, non-string statuses): it neither confirms
    the recipient nor says "already taken". Treat the push as accepted, saying the reply did not
    confirm the recipient; never re-send it under a new request_id.
    """

    taskid: str | None
    statuses: Mapping[str, str]
    unconfirmed: bool = False


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Reply to a batch push: ``{taskid: {cid: status}}``, one task per delivered message.

    The reply carries no request_id; results are matched back by cid. Items missing from a sync reply
    are not known to be delivered or failed: the engine re-sends them alone to learn their fate.
    ``unconfirmed`` is True when a code-0 reply's ``data`` (or part of it) had the wrong shape: the
    recipients it does not name with a string status were not confirmed by it.
    """

    tasks: Mapping[str, Mapping[str, Any]]
    unconfirmed: bool = False

    def by_cid(self) -> dict[str, tuple[str, str]]:
        """``{cid: (taskid, status)}`` flattened from :attr:`tasks`."""
        return {
            cid: (taskid, status)
            for taskid, per_cid in self.tasks.items()
            for cid, status in per_cid.items()
            if isinstance(status, str)
        }


@dataclass(frozen=True, slots=True)
class ListResult:
    """Reply to a list push: ``{cid: status}``; for aliases with detail ``{alias: {cid: status}}``.

    ``unconfirmed`` is True when a code-0 sync reply's ``data`` had the wrong shape (not
    ``{taskid: {...}}``): recipients it does not name were accepted by Getui but not confirmed.
    A list push has no request_id: such a recipient must never be re-sent.
    """

    taskid: str
    statuses: Mapping[str, Any]
    unconfirmed: bool = False


@dataclass(frozen=True, slots=True)
class CidCheck:
    """``user/detail``: which cids Getui knows (with their details) and which are invalid."""

    valid: Mapping[str, Any]
    invalid: Sequence[str]


def _mapping_of_mappings(data: Any) -> tuple[dict[str, Mapping[str, Any]], bool]:
    """``({taskid: {...}}, well_formed)``: entries that are not mappings are dropped and reported."""
    if type(data) is dict and all(type(value) is dict for value in data.values()):
        return data, True  # decoded JSON (keys are strings): the usual reply needs no filtering copy
    if not isinstance(data, Mapping):
        return {}, False
    kept = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, Mapping)}
    return kept, len(kept) == len(data)


def _is_empty(data: Any) -> bool:
    """No ``data`` or an empty object: Getui's answer to a repeated request_id (or an async push)."""
    return data is None or (isinstance(data, Mapping) and not data)


def _str_statuses(per_cid: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    kept = {c: v for c, v in per_cid.items() if isinstance(c, str) and isinstance(v, str)}
    return kept, len(kept) == len(per_cid) and bool(per_cid)


def _all_str_statuses(tasks: Mapping[str, Mapping[str, Any]]) -> bool:
    """Every task names at least one cid, each with a string status (decoded JSON: keys are strings).

    A loop without copies: building a checked dict per task, as :func:`_str_statuses` does, cost about
    3 µs per batched recipient (cProfile, 100k recipients: 0.31 s).
    """
    for per_cid in tasks.values():
        if not per_cid:
            return False
        for status in per_cid.values():
            if type(status) is not str:
                return False
    return True


def push_result(data: Any) -> PushResult:
    if type(data) is dict and len(data) == 1:  # the usual reply, {taskid: {cid: status}}: no copies
        ((taskid, per_cid),) = data.items()
        if type(per_cid) is dict and per_cid and all(type(status) is str for status in per_cid.values()):
            return PushResult(taskid, per_cid)
    if _is_empty(data):
        return PushResult(None, {})
    tasks, well_formed = _mapping_of_mappings(data)
    if not tasks:
        return PushResult(None, {}, unconfirmed=True)
    taskid, per_cid = next(iter(tasks.items()))
    statuses, clean = _str_statuses(per_cid)
    return PushResult(taskid, statuses, unconfirmed=not (well_formed and clean and len(tasks) == 1))


def batch_result(data: Any, is_async: bool) -> BatchResult:
    if is_async or _is_empty(data):
        return BatchResult({}, unconfirmed=False)
    tasks, well_formed = _mapping_of_mappings(data)
    return BatchResult(tasks, unconfirmed=not (well_formed and _all_str_statuses(tasks)))


def list_result(taskid: str, data: Any, is_async: bool) -> ListResult:
    if is_async:
        return ListResult(taskid, {})
    tasks, _well_formed = _mapping_of_mappings(data)
    per_target = tasks.get(taskid)
    if per_target is None:
        return ListResult(taskid, {}, unconfirmed=True)
    clean = bool(per_target) and all(
        isinstance(v, str) or (isinstance(v, Mapping) and all(isinstance(x, str) for x in v.values()))
        for v in per_target.values()
    )
    return ListResult(taskid, dict(per_target), unconfirmed=not clean)
