"""Receipt tests' helpers: signed lines built here (not by the code under test) and a served receiver.

``receiver(store)`` starts ``python -m getui_async.receipts serve`` on a free 127.0.0.1 port and waits
for its "listening on" line; every one started is stopped by PID at teardown.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from tests.components import stop_process

APP_ID = "receiptApp01"
APP_KEY = "receiptKey01"
MASTER_SECRET = "receiptMasterSecret01"
START_TIMEOUT_S = 20.0


def sign(cid: str, taskid: str, msgid: str, *, app_id: str = APP_ID, secret: str = MASTER_SECRET) -> str:
    """Getui's receipt sign, computed independently of getui_async.receipts."""
    return hashlib.md5((app_id + cid + taskid + msgid + secret).encode()).hexdigest()  # noqa: S324


def receipt(
    cid: str = "cid0001",
    taskid: str = "RASS_task01",
    msgid: str = "msg0001",
    action_id: int | None = 0,
    *,
    app_id: str = APP_ID,
    signed: str | None = "good",
    **extra: Any,
) -> dict[str, Any]:
    """One receipt object: ``signed`` is "good", "bad" (wrong secret) or None (no sign field)."""
    obj: dict[str, Any] = {"appid": app_id, "cid": cid, "taskid": taskid, "msgid": msgid, "code": 200}
    if action_id is not None:
        obj["actionId"] = action_id
    if signed == "good":
        obj["sign"] = sign(cid, taskid, msgid, app_id=app_id)
    elif signed == "bad":
        obj["sign"] = sign(cid, taskid, msgid, app_id=app_id, secret="not-the-secret")
    obj.update(extra)
    return obj


def body(*objs: dict[str, Any]) -> bytes:
    """Newline-delimited JSON, as Getui POSTs it."""
    return b"\n".join(_json.dumps(o) for o in objs) + b"\n"


def receipt_env() -> dict[str, str]:
    """The environment for a receiver subprocess: this app's credentials."""
    env = dict(os.environ)
    env.update(GETUI_APP_ID=APP_ID, GETUI_APP_KEY=APP_KEY, GETUI_MASTER_SECRET=MASTER_SECRET)
    return env


@dataclass
class Receiver:
    """A running ``receipts serve`` subprocess."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


_LISTENING = re.compile(r"listening on (http://\S+)")


def start_receiver(store: str, log: Path, *extra: str) -> Receiver:
    """Start a receiver on a free port and wait until it listens."""
    command = [sys.executable, "-m", "getui_async.receipts", "serve", "--listen", "127.0.0.1:0"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "--store", store, *extra], stderr=sink, stdout=sink, env=receipt_env()
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return Receiver(found.group(1), proc, log)
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"receiver did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Stop a receiver we started, by PID; its exit status."""
    return stop_process(proc, sig)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """``receiver(store, *flags)`` starts ``receipts serve``; all are stopped at teardown."""
    started: list[Receiver] = []

    def make(store: str, *extra: str) -> Receiver:
        found = start_receiver(store, tmp_path / f"receiver{len(started)}.log", *extra)
        started.append(found)
        return found

    yield make
    for one in started:
        stop(one.proc)
