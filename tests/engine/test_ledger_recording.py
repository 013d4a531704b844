"""Ledger recording: deliveries are held until a flush, written in one go, and a failure never stops a run."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pytest

from getui_async.config import PaceSettings
from getui_async.ledger import Key, Ledger
from getui_async.ledger_recording import LedgerRecorder
from getui_async.outcome import Status
from getui_async.pace_flags import schedule_of


class FakeLedger:
    """Records what it was asked to record; ``fail`` makes the next write raise."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, date, list[Key]]] = []
        self.fail = False

    def record(self, campaign_id: str, day: date, keys: list[Key]) -> None:
        if self.fail:
            raise OSError("disk I/O error")
        self.writes.append((campaign_id, day, list(keys)))


def recorder_of(ledger: FakeLedger) -> LedgerRecorder:
    return LedgerRecorder(cast(Ledger, ledger), "camp-1", schedule_of(PaceSettings()), where="l.sqlite")


async def test_only_deliveries_are_held_and_a_flush_writes_them_once() -> None:
    """Delivered and accepted lines go to the ledger at the flush; failed ones never do."""
    ledger = FakeLedger()
    recorder = recorder_of(ledger)
    recorder.delivered(Status.SUCCESSED_ONLINE.value, "cid", "a")
    recorder.delivered(Status.FAILED.value, "cid", "b")
    recorder.delivered(Status.ACCEPTED.value, "alias", "c")
    assert ledger.writes == []
    await recorder.flush()
    await recorder.flush()  # nothing new: no empty transaction
    assert [(campaign, keys) for campaign, _, keys in ledger.writes] == [
        ("camp-1", [("cid", "a"), ("alias", "c")])
    ]


async def test_a_failed_ledger_write_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """The results file is the truth: a ledger error is logged and the run goes on."""
    ledger: Any = FakeLedger()
    ledger.fail = True
    recorder = recorder_of(ledger)
    recorder.delivered(Status.SUCCESSED_OFFLINE.value, "cid", "a")
    await recorder.flush()
    assert "could not record 1 deliveries" in caplog.text
