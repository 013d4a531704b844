"""The push endpoints: single, batch, list message, list push and task stop, each validated, deduplicated
by request_id (single and batch), charged to the quota, then delivered (or, for a revoke message,
applied by :mod:`.revokes`: a revoke shows nothing and is no delivery).
"""

from __future__ import annotations

import functools
import itertools
import secrets
import time
from dataclasses import dataclass, field

from .quota import Quota
from .recipients import Recipients
from .reports import Figures
from .revokes import Revoker
from .state import Live, pack_delivery
from .validate import (
    Invalid,
    ListPush,
    Message,
    validate_batch,
    validate_list_message,
    validate_list_push,
    validate_single,
)
from .wire import BEIJING_OFFSET_S, NO_DATA, Call, Reply

__all__ = ["ListTask", "Pushes"]


@dataclass(slots=True)
class ListTask:
    """A list message (``/push/list/message``) reusable until ``expires_at`` or a stop."""

    message: Message
    expires_at: float
    stopped: bool = False
    records: dict[str, bytes] = field(default_factory=dict)  # endpoint -> shared delivery record
    figures: Figures = field(default_factory=Figures)


class Pushes:
    """Handlers of ``/push/*`` and ``DELETE /task/{taskid}``; keeps list tasks, seen request_ids, groups."""

    __slots__ = (
        "_groups",
        "_live",
        "_nonce",
        "_quota",
        "_recipients",
        "_revoker",
        "_seen_request_ids",
        "_seq",
        "_tasks",
    )

    def __init__(self, live: Live, recipients: Recipients, quota: Quota, revoker: Revoker) -> None:
        self._live = live
        self._recipients = recipients
        self._quota = quota
        self._revoker = revoker
        self._nonce = secrets.token_hex(4)
        self._seq = itertools.count(1)
        self._tasks: dict[str, ListTask] = {}
        self._seen_request_ids: set[str] = set()
        self._groups: dict[str, Figures] = {}  # group_name -> figures of every push in it

    def task_figures(self, taskid: str) -> Figures | None:
        """The report figures of a list task (single pushes have none)."""
        task = self._tasks.get(taskid)
        return None if task is None else task.figures

    def group_figures(self, name: str) -> Figures | None:
        """The report figures of every push sent in group ``name``."""
        return self._groups.get(name)

    def clear(self) -> None:
        """Forget seen request_ids, groups and task figures (list tasks stay usable)."""
        self._seen_request_ids.clear()
        self._groups.clear()
        for task in self._tasks.values():
            task.figures.clear()

    # --- single and batch pushes ----------------------------------------------------------------

    def single_cid(self, call: Call) -> Reply:
        return self._single(call, "cid")

    def single_alias(self, call: Call) -> Reply:
        return self._single(call, "alias")

    def batch_cid(self, call: Call) -> Reply:
        return self._batch(call, "cid")

    def batch_alias(self, call: Call) -> Reply:
        return self._batch(call, "alias")

    def _single(self, call: Call, target_key: str) -> Reply:
        cfg = self._live.config
        push = validate_single(call.body, target_key)
        cids = self._recipients.resolve(push.target, target_key)
        if self._is_duplicate(push.request_id):
            if cfg.duplicate_reply == "error":
                raise Invalid("request_id cannot be repeat.")
            return 0, "", {}
        if push.message.revoke is not None:
            self._revoker.check(push.message.revoke, cids)
        self._quota.take(len(cids), cfg.quota_code, call.now, "app")
        taskid, statuses = self._deliver_single(push.request_id, push.message, cids, call)
        return 0, "", {taskid: statuses}

    def _batch(self, call: Call, target_key: str) -> Reply:
        cfg = self._live.config
        is_async, items = validate_batch(call.body)
        accepted: list[tuple[str, Message, list[str]]] = []
        in_this_batch: set[str] = set()
        for item in items:
            try:
                push = validate_single(item, target_key)
                cids = self._recipients.resolve(push.target, target_key)
                if self._is_duplicate(push.request_id, in_this_batch):
                    if cfg.duplicate_reply == "error":
                        raise Invalid("request_id cannot be repeat.")
                    continue
                if push.message.revoke is not None:
                    self._revoker.check(push.message.revoke, cids)
            except Invalid:
                if cfg.batch_invalid_item == "fail_batch":
                    raise
                self._live.counters.invalid_items_dropped += 1
                continue
            in_this_batch.add(push.request_id)
            accepted.append((push.request_id, push.message, cids))
        self._quota.take(sum(len(cids) for _, _, cids in accepted), cfg.quota_code, call.now, "app")
        data: dict[str, dict[str, str]] = {}
        for request_id, message, cids in accepted:
            taskid, statuses = self._deliver_single(request_id, message, cids, call)
            data[taskid] = statuses
        return (0, "", NO_DATA) if is_async else (0, "", data)

    def _is_duplicate(self, request_id: str, pending: set[str] | None = None) -> bool:
        """A request_id seen in an accepted single/batch push is dropped: Getui loses the repeat."""
        if request_id in self._seen_request_ids or (pending is not None and request_id in pending):
            self._live.counters.duplicates_dropped += 1
            return True
        return False

    def _deliver_single(
        self, request_id: str, message: Message, cids: list[str], call: Call
    ) -> tuple[str, dict[str, str]]:
        self._seen_request_ids.add(request_id)
        taskid = self._taskid("RASS_", call.now)
        if message.revoke is not None:
            self._revoker.apply(message.revoke, cids)
            return taskid, self._recipients.statuses(cids)
        record = pack_delivery(
            taskid, request_id, message.notify_id, message.title, call.endpoint, message.collapse_id
        )
        reports = [] if message.group_name is None else [self._group(message.group_name)]
        return taskid, self._recipients.deliver(cids, record, reports)

    # --- list pushes ----------------------------------------------------------------------------

    def list_message(self, call: Call) -> Reply:
        created = validate_list_message(call.body)
        ttl_s = (
            created.ttl_ms / 1000
            if created.ttl_ms and created.ttl_ms > 0
            else self._live.config.list_task_ttl_s
        )
        taskid = self._taskid("RASL-", call.now)
        self._tasks[taskid] = ListTask(created.message, call.now + ttl_s)
        return 0, "", {"taskid": taskid}

    def list_cid(self, call: Call) -> Reply:
        return self._list_push(call, "cid")

    def list_alias(self, call: Call) -> Reply:
        return self._list_push(call, "alias")

    def task_stop(self, call: Call) -> Reply:
        """Stop a list task: later list pushes naming it are refused, so it delivers nothing further.

        Only list tasks can be stopped: a single or batch taskid (``RASS_``), like an unknown or expired
        one, is 20001 "taskid is invalid" (UNCERTAIN: the docs say single pushes cannot be stopped but
        not with which code). Stopping a stopped task again answers 0 (UNCERTAIN), counted once.
        """
        taskid = call.params["taskid"]
        task = self._tasks.get(taskid)
        if task is not None and task.stopped:
            return 0, "", NO_DATA
        self._live_task(taskid, call.now).stopped = True
        self._live.counters.tasks_stopped += 1
        return 0, "", NO_DATA

    def _list_push(self, call: Call, target_key: str) -> Reply:
        """No request_id here: a cid sent twice is delivered twice (at-least-once), and recorded so."""
        cfg = self._live.config
        push = validate_list_push(call.body, target_key, cfg.list_chunk_limit)
        task = self._live_task(push.taskid, call.now)
        resolve = self._recipients.resolve_listed
        resolved = [(target, resolve(target, target_key)) for target in push.targets]
        resolved = [(target, cids) for target, cids in resolved if cids]
        revoke = task.message.revoke
        if revoke is not None:
            self._revoker.check(revoke, [cid for _, cids in resolved for cid in cids])
        self._quota.take(sum(len(cids) for _, cids in resolved), cfg.list_quota_code, call.now, "list")
        if revoke is None:
            detail = self._deliver_listed(task, push, resolved, call.endpoint)
        else:
            detail = {target: self._recipients.statuses(cids) for target, cids in resolved}
            for _, cids in resolved:
                self._revoker.apply(revoke, cids)
        return self._list_reply(push, target_key, detail)

    def _deliver_listed(
        self, task: ListTask, push: ListPush, resolved: list[tuple[str, list[str]]], endpoint: str
    ) -> dict[str, dict[str, str]]:
        """``{target: {cid: status}}``: one shared record per task and endpoint, counted in its reports."""
        record = task.records.get(endpoint)
        if record is None:
            message = task.message
            record = pack_delivery(
                push.taskid, None, message.notify_id, message.title, endpoint, message.collapse_id
            )
            task.records[endpoint] = record
        reports = [task.figures]
        if task.message.group_name is not None:
            reports.append(self._group(task.message.group_name))
        for figures in reports:
            figures.targeted_invalid(len(push.targets) - len(resolved))
        return {target: self._recipients.deliver(cids, record, reports) for target, cids in resolved}

    @staticmethod
    def _list_reply(push: ListPush, target_key: str, detail: dict[str, dict[str, str]]) -> Reply:
        if push.is_async:
            return 0, "", NO_DATA
        if target_key == "alias" and push.need_alias_detail:
            return 0, "", {push.taskid: detail}
        flat = {cid: status for statuses in detail.values() for cid, status in statuses.items()}
        return 0, "", {push.taskid: flat}

    def _live_task(self, taskid: str, now: float) -> ListTask:
        task = self._tasks.get(taskid)
        if task is None or task.stopped or now >= task.expires_at:
            raise Invalid("taskid is invalid")
        return task

    def _group(self, name: str) -> Figures:
        figures = self._groups.get(name)
        if figures is None:
            figures = self._groups[name] = Figures()
        return figures

    def _taskid(self, prefix: str, now: float) -> str:
        """``RASS_MMdd_<32 hex>`` / ``RASL-MMdd_<32 hex>``: unique per server, dated in Beijing time."""
        return f"{prefix}{_mmdd(int((now + BEIJING_OFFSET_S) // 86_400))}_{self._nonce}{next(self._seq):024x}"


@functools.lru_cache(maxsize=4)
def _mmdd(day: int) -> str:
    return time.strftime("%m%d", time.gmtime(day * 86_400))
