"""The campaign's list task: one stored message (``push/list/message``), its cids sent in chunks.

A *list* push carries no request_id, so a list recipient is never re-sent: a cid the reply did not name
is looked up with ``user/detail`` (invalid -> ``failed`` 20001), else ``accepted``; a chunk whose reply
was lost is not retried (only a refusal from before Getui took it is) and its recipients are ``failed``
and ``unconfirmed``, left out of ``--retry-failed``. A stored message Getui no longer knows (its ttl
passed, or it was stopped) is created again, once. With variants, each variant is its own list task
(its own stored message and group_name), made on the variant's first chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

from .client import GetuiClient
from .errors import ApiError, InvalidTargetError, RejectedError
from .intake import Job
from .messages import MessageTemplate, Rendered
from .outcome import Kind, Status, StopReason
from .retry import reply_lost
from .sender import Call, Sender
from .settle import UNCONFIRMED, UNNAMED, Settler
from .split import Splitter

__all__ = ["ListTask"]

_UNKNOWN_VALIDITY: Final = "; user/detail could not tell whether the cid is valid"


class ListTask:
    """Sends list chunks under the campaign's one list task, created on first use."""

    def __init__(
        self,
        client: GetuiClient,
        template: MessageTemplate,
        sender: Sender,
        settler: Settler,
        splitter: Splitter,
        *,
        is_async: bool,
        request_stop: Callable[[StopReason, str], None],
    ) -> None:
        self._client = client
        self._template = template
        self._sender = sender
        self._settler = settler
        self._splitter = splitter
        self._is_async = is_async
        self._request_stop = request_stop
        self._taskid: str | None = None
        self._lock = asyncio.Lock()
        #: The stored message's content: the template's, or a variant's (see :meth:`_variant`).
        self._message: Callable[[], Rendered] = template.shared
        self._variants: dict[str, ListTask] = {}

    def _variant(self, name: str, message: Rendered) -> ListTask:
        """The list task of variant ``name`` (whose recipients all share ``message``), made once."""
        task = self._variants.get(name)
        if task is None:
            task = ListTask(
                self._client,
                self._template,
                self._sender,
                self._settler,
                self._splitter,
                is_async=self._is_async,
                request_stop=self._request_stop,
            )
            task._message = lambda: message
            self._variants[name] = task
        return task

    async def send(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        """Push ``jobs`` to the list task (their variant's, with variants) and settle each recipient."""
        variant = jobs[0].variant if jobs else None
        if variant is not None:
            await self._variant(variant, jobs[0].message)._send(kind, jobs, prior)
        else:
            await self._send(kind, jobs, prior)

    async def _send(self, kind: Kind, jobs: Sequence[Job], prior: int = 0) -> None:
        taskid = await self._taskid_for()
        if taskid is None:
            return
        client, settler, is_async = self._client, self._settler, self._is_async
        targets = [job.target for job in jobs]
        push = client.push_list_cid if kind == "cid" else client.push_list_alias
        call = Call(
            "list",
            len(jobs),
            partial(push, targets, taskid=taskid, is_async=is_async),
            prior,
            idempotent=False,
        )
        for recreated in (False, True):
            try:
                result = await self._sender.call(call)
                break
            except RejectedError as exc:
                if not recreated and "taskid" in exc.msg.lower():
                    # The stored message expired (its ttl) or was stopped: create it again, once.
                    new_taskid = await self._taskid_for(stale=taskid)
                    if new_taskid is None:
                        return
                    taskid = new_taskid
                    call.fn = partial(push, targets, taskid=taskid, is_async=is_async)
                    continue
                await self._splitter.split(kind, jobs, exc, call.attempts, self._send)
                return
            except ApiError as exc:
                if reply_lost(exc):
                    settler.maybe_delivered(jobs, exc, call.attempts)
                else:
                    settler.fail_all(jobs, exc, call.attempts)
                return
        if is_async:
            settler.accept_all(jobs, taskid, call.attempts)
            return
        unclear = settler.list_reply(jobs, result.statuses, taskid, result.unconfirmed, call.attempts)
        if unclear:
            msg = UNCONFIRMED if result.unconfirmed else UNNAMED
            await self._unnamed(kind, unclear, taskid, call.attempts, msg)

    async def _taskid_for(self, stale: str | None = None) -> str | None:
        """The campaign's list task, created once (again only if ``stale`` was refused)."""
        async with self._lock:
            if self._taskid is not None and self._taskid != stale:
                return self._taskid
            message = self._message()
            create = Call("list_message", 0, partial(self._client.create_list_message, message))
            try:
                self._taskid = await self._sender.call(create)
            except ApiError as exc:
                if not self._settler.stop_for(exc):
                    self._request_stop(StopReason.FATAL, f"could not create the list message: {exc}")
                return None
            return self._taskid

    async def _unnamed(self, kind: Kind, jobs: Sequence[Job], taskid: str, attempts: int, msg: str) -> None:
        """List recipients Getui took but did not name: never re-sent (a list push has no request_id).

        ``user/detail`` tells a dead cid (``failed`` 20001) from one the reply merely left out (``msg``).
        """
        settler = self._settler
        settler.commit()  # what is known goes to the file before the look-up
        invalid = await self._splitter.invalid_cids(jobs, settling=True) if kind == "cid" else None
        dead = InvalidTargetError("target user is invalid (said by user/detail)", code=20001)
        if invalid is None and kind == "cid":
            msg += _UNKNOWN_VALIDITY
        for job in jobs:
            if invalid and job.target in invalid:
                settler.failed(job, dead, attempts)
            else:
                settler.line(job, Status.ACCEPTED, 0, msg, taskid, attempts)
