"""The mock's push reports: delivery figures per channel, shaped as Getui's ``report/push/*`` answer them.

Getui reports a task (``/report/push/task/{taskids}``) or a group (``/report/push/task_group/{name}``) as
``{id: {"total": F, "gt": F, "<vendor>": F, ...}}`` where ``F`` is the SDK's ``StatisticDTO``:
``msg_num`` (可下发, deliverable), ``target_num`` (targeted), ``receive_num``, ``display_num`` and
``click_num``. The mock fills them from what it really delivered, so a report agrees with its state.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FIGURES", "VENDOR_CHANNELS", "Figures"]

FIGURES: Final = ("msg_num", "target_num", "receive_num", "display_num", "click_num")
#: Where an offline delivery goes: a vendor channel (Huawei, Xiaomi, OPPO, vivo) or APNs.
VENDOR_CHANNELS: Final = ("hw", "xm", "op", "vv", "ios")
_TARGET: Final = 1  # the index of target_num in a row of FIGURES


class Figures:
    """The counts of one list task or one group, by channel; targets that were invalid count in total only."""

    __slots__ = ("_channels", "_unsendable")

    def __init__(self) -> None:
        self._channels: dict[str, list[int]] = {}
        self._unsendable = 0

    def targeted_invalid(self, n: int) -> None:
        """``n`` targets Getui could not send to (invalid cids or aliases)."""
        self._unsendable += n

    def merge(self, rows: dict[str, list[int]]) -> None:
        """Add ``{channel: [msg, target, receive, display, click]}`` counted for one request."""
        for channel, row in rows.items():
            mine = self._channels.get(channel)
            if mine is None:
                self._channels[channel] = list(row)
            else:
                for i, n in enumerate(row):
                    mine[i] += n

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{"total": {...}, channel: {...}}`` with every figure named as Getui names it."""
        total = [sum(row[i] for row in self._channels.values()) for i in range(len(FIGURES))]
        total[_TARGET] += self._unsendable
        out = {"total": dict(zip(FIGURES, total, strict=True))}
        for channel in sorted(self._channels):
            out[channel] = dict(zip(FIGURES, self._channels[channel], strict=True))
        return out

    def clear(self) -> None:
        self._channels.clear()
        self._unsendable = 0
