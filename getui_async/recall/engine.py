"""The recall itself: stop the send's list tasks, then revoke (and override) its delivered recipients in
batches of up to 200, one line each, stopping cleanly between batches.

A recipient missing from a batch reply is sent again alone with the same request_id to learn its fate
(Getui drops a repeat: an empty success means the revoke was taken before). A batch refused for one bad
item goes item by item. A daily quota, a fatal error or a signal stops the run between batches; what was
done has its lines, and ``--resume`` goes on without acting on anyone twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from getui_async.client import MAX_BATCH, GetuiClient, Push
from getui_async.errors import Action, ApiError, DuplicateRequestError, RejectedError
from getui_async.messages import Rendered
from getui_async.outcome import Kind, RecallStatus, StopReason

from .lines import RecallFile
from .pushes import OVERRIDE, REVOKE, recall_push, revoke_message
from .source import Delivered, SendResults
from .summary import RecallSummary

__all__ = ["Recall", "RecallStopped"]

#: Actions after which going on would only fail the same way: stop, leaving the rest to --resume.
_STOP_ACTIONS = {Action.STOP_QUOTA: StopReason.QUOTA, Action.STOP_FATAL: StopReason.FATAL}
#: The summary's count of list tasks an earlier run of this recall stopped.
_ALREADY_STOPPED = "already stopped"


class RecallStopped(Exception):
    """Getui's answer means no later push can pass now (a spent daily quota, a fatal error)."""

    def __init__(self, reason: StopReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    """Getui's answer to one push of one recipient."""

    ok: bool
    code: int | None = None
    msg: str = ""


_TAKEN = Answer(ok=True, msg="taken before (a repeated request_id)")


class Recall:
    """One recall run over ``send``, writing to ``file``; ``override`` is the replacement, if any."""

    def __init__(
        self,
        send: SendResults,
        file: RecallFile,
        summary: RecallSummary,
        *,
        override: Rendered | None,
        stop: asyncio.Event,
    ) -> None:
        self._send = send
        self._file = file
        self._summary = summary
        self._override = override
        self._harmony = send.replace_ids.fixed("harmony")
        self._stop = stop

    def planned(self, who: Delivered) -> RecallStatus:
        """What this recall does to ``who`` when every push is taken."""
        if self._override is not None:
            return RecallStatus.OVERRIDDEN
        return RecallStatus.REVOKED if who.taskid else RecallStatus.SKIPPED

    def count_planned(self) -> None:
        """Count what the run would do, sending nothing (``--dry-run``)."""
        for taskid in self._summary.census.list_tasks:
            word = _ALREADY_STOPPED if taskid in self._file.stopped else RecallStatus.STOPPED.value
            self._summary.tasks[word] += 1
        for who in self._send.delivered():
            if self._file.done.done(who.record):
                self._summary.already += 1
            else:
                self._summary.count(who.channel, self.planned(who))

    async def run(self, client: GetuiClient) -> None:
        """Stop the list tasks, then revoke batch by batch until done or stopped."""
        try:
            await self._stop_tasks(client)
            batch: list[Delivered] = []
            for who in self._send.delivered():
                if self._stop.is_set():
                    break
                if self._file.done.done(who.record):
                    self._summary.already += 1
                    continue
                batch.append(who)
                if len(batch) == MAX_BATCH:
                    await self._settle(client, batch)
                    batch = []
            if batch and not self._stop.is_set():
                await self._settle(client, batch)
        except RecallStopped as exc:
            self._summary.stopped, self._summary.detail = exc.reason, str(exc)
        finally:
            self._file.flush()
        if self._stop.is_set() and self._summary.stopped is None:
            self._summary.stopped, self._summary.detail = StopReason.SIGNAL, "stopped by a signal"

    async def _stop_tasks(self, client: GetuiClient) -> None:
        for taskid in self._summary.census.list_tasks:
            if self._stop.is_set():
                return
            if taskid in self._file.stopped:
                self._summary.tasks[_ALREADY_STOPPED] += 1
                continue
            try:
                await client.stop_task(taskid)
            except ApiError as exc:
                _raise_if_stop(exc)
                status, code, msg = RecallStatus.FAILED, exc.code, exc.msg
            else:
                status, code, msg = RecallStatus.STOPPED, 0, ""
            self._file.add_stop(taskid, status, code, msg)
            self._summary.tasks[status.value] += 1

    async def _settle(self, client: GetuiClient, batch: Sequence[Delivered]) -> None:
        """Revoke (and override) one batch of recipients of one kind at a time; write their lines."""
        for kind in ("cid", "alias"):
            group = [who for who in batch if who.kind == kind]
            if not group:
                continue
            campaign = self._send.campaign_id
            with_task = [who for who in group if who.taskid]
            revokes = [
                recall_push(campaign, REVOKE, who, revoke_message(str(who.taskid), harmony=self._harmony))
                for who in with_task
            ]
            revoked = await self._push(client, kind, revokes) if revokes else {}
            overridden: dict[str, Answer] = {}
            if self._override is not None:
                pushes = [recall_push(campaign, OVERRIDE, who, self._override) for who in group]
                overridden = await self._push(client, kind, pushes)
            for who, push in zip(group, _revokes_by(group, revokes), strict=True):
                self._record(who, push, revoked.get(who.target), overridden.get(who.target))
            self._file.flush()

    def _record(
        self, who: Delivered, push: Push | None, revoke: Answer | None, override: Answer | None
    ) -> None:
        failed = next((a for a in (revoke, override) if a is not None and not a.ok), None)
        if failed is not None:
            what = "revoke" if failed is revoke else "override"
            status, code, msg = RecallStatus.FAILED, failed.code, f"{what}: {failed.msg}"
        elif override is not None:
            status, code, msg = RecallStatus.OVERRIDDEN, 0, override.msg
        elif revoke is not None:
            status, code, msg = RecallStatus.REVOKED, 0, revoke.msg
        else:
            status, code, msg = (
                RecallStatus.SKIPPED,
                None,
                "no taskid on its line: nothing names what to revoke",
            )
        request_id = push.request_id if push is not None else None
        self._file.add(who, status, request_id=request_id, code=code, msg=msg)
        self._summary.count(who.channel, status)

    async def _push(self, client: GetuiClient, kind: Kind, pushes: Sequence[Push]) -> dict[str, Answer]:
        """Send one batch; each target's answer (missing ones asked alone, a refused batch item by item)."""
        send = client.push_batch_alias if kind == "alias" else client.push_batch_cid
        try:
            reply = await send(pushes)
        except RejectedError as exc:
            if isinstance(exc, DuplicateRequestError):
                return {push.target: _TAKEN for push in pushes}
            return {push.target: await self._alone(client, kind, push) for push in pushes}
        except ApiError as exc:
            _raise_if_stop(exc)
            return {push.target: Answer(ok=False, code=exc.code, msg=exc.msg) for push in pushes}
        if kind == "alias":
            return {push.target: Answer(ok=True) for push in pushes}  # aliases map to cids: no per-item key
        named = reply.by_cid()
        answers = {push.target: Answer(ok=True) for push in pushes if push.target in named}
        for push in pushes:
            if push.target not in answers:
                answers[push.target] = await self._alone(client, kind, push)
        return answers

    async def _alone(self, client: GetuiClient, kind: Kind, push: Push) -> Answer:
        """One recipient's push sent alone, with its same request_id."""
        send = client.push_single_alias if kind == "alias" else client.push_single_cid
        try:
            result = await send(push.target, push.message, request_id=push.request_id)
        except DuplicateRequestError:
            return _TAKEN
        except ApiError as exc:
            _raise_if_stop(exc)
            return Answer(ok=False, code=exc.code, msg=exc.msg)
        return Answer(ok=True) if result.statuses else _TAKEN


def _revokes_by(group: Sequence[Delivered], revokes: Sequence[Push]) -> list[Push | None]:
    """Each recipient's revoke push, or None for one without a taskid (same order as ``group``)."""
    by_target = {push.target: push for push in revokes}
    return [by_target.get(who.target) if who.taskid else None for who in group]


def _raise_if_stop(exc: ApiError) -> None:
    reason = _STOP_ACTIONS.get(exc.action)
    if reason is not None:
        raise RecallStopped(reason, str(exc)) from exc
