"""Getui's own delivery figures for a campaign (``report --fetch``): a funnel per channel.

``GET /report/push/task/{taskids}`` (at most 200 ids a call) covers the list tasks named in the results;
``GET /report/push/task_group/{group_name}`` covers everything sent under the campaign's group name.
Getui keeps no task statistics for single pushes (``push/single/*``): for those records the funnel says
so instead of showing zeros. A figure Getui did not return is ``None`` (shown "n/a"), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final
from urllib.parse import quote

from getui_async.client import MAX_REPORT_TASKS, GetuiClient
from getui_async.config import RetrySettings, Settings
from getui_async.errors import ApiError
from getui_async.retry import call_with_retry

from .outcomes import Outcomes

__all__ = ["CHANNELS", "FUNNEL", "fetch_funnel", "funnel_from_reply"]


#: Getui's keys in a task report, and the names shown for them.
CHANNELS: Final[Mapping[str, str]] = {
    "total": "all",
    "gt": "getui",
    "hw": "huawei",
    "ho": "honor",
    "xm": "xiaomi",
    "op": "oppo",
    "vv": "vivo",
    "mz": "meizu",
    "fcm": "fcm",
    "apn": "ios",
    "ios": "ios",
}
#: Funnel step -> Getui's field.
FUNNEL: Final[Mapping[str, str]] = {
    "target": "target_num",
    "received": "receive_num",
    "displayed": "display_num",
    "clicked": "click_num",
}
NO_SINGLE_STATS: Final = (
    "{n:,} records went out as single pushes: Getui keeps no task statistics for single pushes, "
    "so they have no funnel here (their per-cid status in the results is the figure)"
)


def funnel_from_reply(tasks: Mapping[str, Any]) -> dict[str, dict[str, int | None]]:
    """Sum ``{taskid: {channel: {target_num, ...}}}`` into ``{channel: {target, received, ...}}``."""
    channels: dict[str, dict[str, int | None]] = {}
    for stats in tasks.values():
        if not isinstance(stats, Mapping):
            continue
        for key, figures in stats.items():
            if not isinstance(figures, Mapping):
                continue
            name = CHANNELS.get(key, key)
            row = channels.setdefault(name, dict.fromkeys(FUNNEL))
            for step, field_name in FUNNEL.items():
                value = figures.get(field_name)
                if isinstance(value, int) and not isinstance(value, bool):
                    row[step] = (row[step] or 0) + value
    return dict(sorted(channels.items(), key=lambda kv: (kv[0] != "all", kv[0])))


def _group_tasks(name: str, data: Any) -> Mapping[str, Any]:
    """A task_group reply as ``{key: {channel: figures}}``: either the figures directly or keyed by name."""
    if not isinstance(data, Mapping):
        return {}
    if any(key in CHANNELS for key in data):
        return {name: data}
    return data


async def fetch_funnel(
    settings: Settings,
    out: Outcomes,
    *,
    client: GetuiClient | None = None,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Query Getui for the campaign in ``out``; failures become ``unavailable`` reasons, not exceptions.

    ``groups`` (``{variant: group_name}``): also each variant's group funnel, as ``variants``.
    """
    notes: list[str] = []
    if out.single_push_records:
        notes.append(NO_SINGLE_STATS.format(n=out.single_push_records))
    result: dict[str, Any] = {"notes": notes}
    own = client is None
    api = client or GetuiClient(settings)
    try:
        if own:
            await api.__aenter__()
        result["tasks"] = await _tasks(api, sorted(out.list_taskids), settings.retry)
        if out.group_name:
            result["group"] = await _group(api, out.group_name, settings.retry)
        else:
            result["group"] = {"name": None, "unavailable": "no campaign id in the sidecar, so no group name"}
        if groups:
            result["variants"] = {v: await _group(api, name, settings.retry) for v, name in groups.items()}
    finally:
        if own:
            await api.aclose()
    return result


async def _tasks(api: GetuiClient, taskids: Sequence[str], policy: RetrySettings) -> dict[str, Any]:
    if not taskids:
        return {"taskids": [], "unavailable": "the results name no list task (RASL-...): nothing to ask for"}
    replies: dict[str, Any] = {}
    try:
        for i in range(0, len(taskids), MAX_REPORT_TASKS):
            chunk = list(taskids[i : i + MAX_REPORT_TASKS])
            replies.update(await call_with_retry(partial(api.report_push_task, chunk), policy))
    except ApiError as exc:
        return {"taskids": list(taskids), "unavailable": f"Getui answered: {exc}"}
    missing = [t for t in taskids if t not in replies]
    block: dict[str, Any] = {"taskids": list(taskids), "channels": funnel_from_reply(replies)}
    if missing:
        block["missing"] = missing
    return block


async def _group(api: GetuiClient, name: str, policy: RetrySettings) -> dict[str, Any]:
    # The client's own method where this tree has it; else the same GET through its generic path.
    method = getattr(api, "report_push_task_group", None)
    path = f"/report/push/task_group/{quote(name, safe='')}"

    async def ask() -> Any:
        return await method(name) if method is not None else await api.call("GET", path)

    try:
        data = await call_with_retry(ask, policy)
    except ApiError as exc:
        if exc.http_status == 404:
            return {"name": name, "unavailable": "this server has no group report (HTTP 404)"}
        return {"name": name, "unavailable": f"Getui answered: {exc}"}
    channels = funnel_from_reply(_group_tasks(name, data))
    if not channels:
        return {"name": name, "unavailable": "Getui returned no figures for this group name"}
    return {"name": name, "channels": channels}
