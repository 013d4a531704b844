"""The read-only endpoints: ``/user/status``, ``/user/detail`` and ``/report/push/*``.

They answer from the same state the pushes wrote (seeded per-cid fates, task and group figures, the
quota), so a look-up agrees with what the mock delivered.
"""

from __future__ import annotations

from typing import Any, Final

from .pushes import Pushes
from .quota import Quota
from .recipients import Recipients
from .state import Live
from .validate import Invalid
from .wire import Call, Reply

__all__ = ["Queries"]

USER_QUERY_LIMIT: Final = 1000
REPORT_QUERY_LIMIT: Final = 200


class Queries:
    """Handlers of ``GET /user/*`` and ``GET /report/push/*``."""

    __slots__ = ("_live", "_pushes", "_quota", "_recipients")

    def __init__(self, live: Live, recipients: Recipients, pushes: Pushes, quota: Quota) -> None:
        self._live = live
        self._recipients = recipients
        self._pushes = pushes
        self._quota = quota

    def user_status(self, call: Call) -> Reply:
        """Online or offline by each cid's seeded share, with a last login to match; invalid cids left out."""
        now_ms = int(call.now * 1000)
        online_ratio = self._live.config.online_ratio
        data: dict[str, dict[str, Any]] = {}
        for cid in _path_list(call.params["cids"], "cid", USER_QUERY_LIMIT):
            if self._recipients.is_invalid(cid):
                continue
            share = self._recipients.share(cid)
            online = share < online_ratio
            ago_ms = int(share * 3_600_000) if online else 86_400_000 + int(share * 2_592_000_000)
            data[cid] = {"last_login_time": now_ms - ago_ms, "status": "online" if online else "offline"}
        return 0, "", data

    def user_detail(self, call: Call) -> Reply:
        """``validCids`` with their device details and ``invalidCids``: how a client tells a dead cid."""
        is_invalid = self._recipients.is_invalid
        cids = _path_list(call.params["cids"], "cid", USER_QUERY_LIMIT)
        valid = [cid for cid in cids if not is_invalid(cid)]
        detail = {
            "client_app_id": self._live.config.app_id,
            "package_name": "com.getui.mock",
            "device_token": "",
        }
        data = {
            "validCids": {cid: {**detail, "phone_type": 1, "notification_switch": True} for cid in valid},
            "invalidCids": [cid for cid in cids if is_invalid(cid)],
        }
        return 0, "", data

    def report_tasks(self, call: Call) -> Reply:
        """``{taskid: {"total": F, "gt": F, vendor: F}}`` of list tasks; single pushes have no task report."""
        data: dict[str, Any] = {}
        for taskid in _path_list(call.params["taskids"], "taskid", REPORT_QUERY_LIMIT):
            figures = self._pushes.task_figures(taskid)
            if figures is not None:
                data[taskid] = figures.as_dict()
        return 0, "", data

    def report_group(self, call: Call) -> Reply:
        """``{group_name: {"total": F, ...}}`` over every push (single, batch, list) sent in that group."""
        name = call.params["group_name"]
        figures = self._pushes.group_figures(name)
        return 0, "", {} if figures is None else {name: figures.as_dict()}

    def report_count(self, call: Call) -> Reply:
        """Today's quota as the SDK's ``PushCountDTO``; the mock has one pool for every kind of push."""
        quota, used = self._live.config.daily_quota, self._quota.used(call.now)
        remain = -1 if quota is None else max(quota - used, 0)

        def entry(kind: str) -> dict[str, Any]:
            return {
                "total_num": -1 if quota is None else quota,
                "remain_num": remain,
                "push_num": self._quota.pushed(kind),
                "limit": quota is not None,
            }

        return 0, "", {"gt": {"app": entry("app"), "list": entry("list")}}


def _path_list(value: str, name: str, limit: int) -> list[str]:
    """A comma-separated path parameter (``/user/detail/{cids}``), refused when empty or over ``limit``."""
    items = [item for item in value.split(",") if item]
    if not items:
        raise Invalid(f"{name} can not be empty")
    if len(items) > limit:
        raise Invalid(f"{name} size over limit")
    return items
