"""Text from outside (Getui's replies, files, results lines) reaches a terminal or a log escaped.

``ESC [2J`` clears the screen and ``ESC ]0;...BEL`` retitles the window: such sequences in a server's
``msg`` or a results file are shown as the characters ``\\x1b``, never written as the byte.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from getui_async import _json
from getui_async.config import ENV_APP_ID, ENV_APP_KEY, ENV_BASE_URL, ENV_MASTER_SECRET
from getui_async.engine import Summary
from getui_async.errors import ApiError
from getui_async.progress import ProgressBar
from getui_async.safetext import printable
from getui_async.summary_text import format_summary
from tests.cli_harness import run_cli, write_recipients

HOSTILE = "\x1b[2J\x1b[31mPWNED\x1b]0;owned-title\x07"
SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


# -- printable -------------------------------------------------------------------------------------------


def test_escape_sequences_are_shown_as_visible_escapes() -> None:
    """ESC becomes the four characters \\x1b; BEL, DEL and C1 controls too; the rest is kept."""
    assert printable(HOSTILE) == "\\x1b[2J\\x1b[31mPWNED\\x1b]0;owned-title\\x07"
    assert printable("a\x7fb\x9bc\x00") == "a\\x7fb\\x9bc\\x00"
    assert printable("张伟 é\u3000ok") == "张伟 é\u3000ok"


def test_newline_and_tab_are_kept_only_for_multi_line_text() -> None:
    """One field stays one line; a message or a table keeps its lines and columns."""
    assert printable("a\nb\tc") == "a\\x0ab\\x09c"
    assert printable("a\nb\tc\r", multiline=True) == "a\nb\tc\\x0d"


def test_bidi_overrides_are_escaped() -> None:
    """A right-to-left override cannot make a line read differently than it is."""
    assert printable("cid\u202egpj.exe\u2066x\u2069") == "cid\\u202egpj.exe\\u2066x\\u2069"


def test_printable_text_is_returned_as_is() -> None:
    """The usual case costs no copy."""
    text = "plain text: 12 records"
    assert printable(text) is text


def test_an_api_error_text_escapes_getui_msg_and_keeps_the_raw_msg() -> None:
    """What callers log (str) is safe; ``msg`` stays as Getui sent it, for the results line."""
    error = ApiError(HOSTILE, code=20001)
    assert "\x1b" not in str(error)
    assert "\\x1b[2J" in str(error)
    assert error.msg == HOSTILE


def test_the_summary_shows_a_stop_detail_quoting_getui_escaped() -> None:
    """A stop whose detail quotes Getui's msg: the summary keeps its lines, the msg's ESC is escaped."""
    summary = Summary("camp-1", "r.jsonl", stopped="fatal", stop_detail=f"could not create: {HOSTILE}")
    text = format_summary(summary)
    assert "PWNED" in text
    assert "\n" in text
    assert "\x1b" not in text


def test_the_progress_line_shows_a_wait_reason_escaped() -> None:
    """A repeated warning shown on the progress line (it may quote Getui's msg) is escaped."""
    bar = ProgressBar(total=None, enabled=False)
    bar.set_wait(f"retrying: {HOSTILE}")
    shown = " ".join(field.text for field in bar.fields(now=0.0))
    assert "PWNED" in shown
    assert "\x1b" not in shown


# -- through the commands --------------------------------------------------------------------------------


class _RefusingGetui:
    """A Getui stand-in on 127.0.0.1 whose answers carry ``HOSTILE`` as their msg: first a passing
    fault (code 2: retried, and logged as a warning), then a refusal (code 10002: the run ends)."""

    def __init__(self) -> None:
        self.answers = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _start(self) -> None:
        async def refuse(request: web.Request) -> web.Response:
            self.answers += 1
            return web.json_response({"code": 2 if self.answers == 1 else 10002, "msg": HOSTILE})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def __enter__(self) -> _RefusingGetui:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    @property
    def env(self) -> dict[str, str]:
        return {
            ENV_APP_ID: "app",
            ENV_APP_KEY: "key",
            ENV_MASTER_SECRET: "secret",
            ENV_BASE_URL: f"http://127.0.0.1:{self.port}/v2",
        }


@pytest.fixture
def refusing() -> Iterator[_RefusingGetui]:
    with _RefusingGetui() as server:
        yield server


def test_send_shows_an_auth_refusal_without_its_escape_sequences(refusing, tmp_path: Path) -> None:
    """/auth failing with a msg full of escape sequences: the retry's log line and the error (exit 2)
    show the msg, and stderr holds no ESC or BEL byte."""
    path = write_recipients(tmp_path / "r.csv", 3)
    result = run_cli("send", path, "--out", tmp_path / "out.jsonl", *SIMPLE, env=refusing.env)
    assert result.code == 2, result.err
    assert "retrying" in result.err
    assert result.err.count("PWNED") == 2
    assert "\x1b" not in result.err + result.out
    assert "\x07" not in result.err + result.out


def test_check_shows_an_auth_refusal_without_its_escape_sequences(refusing, tmp_path: Path) -> None:
    """``check`` with credentials, Getui refusing: the msg is shown, its control bytes are not sent."""
    path = write_recipients(tmp_path / "r.csv", 3)
    result = run_cli("check", path, env=refusing.env)
    assert result.code == 2, result.err
    assert "PWNED" in result.err
    assert "\x1b" not in result.err + result.out


def test_report_text_escapes_a_msg_from_the_results_file(tmp_path: Path) -> None:
    """A results line whose msg holds escape sequences: ``report`` prints it escaped."""
    line = {
        "line": 2,
        "record": 1,
        "cid": "c1",
        "request_id": "req0000000001",
        "status": "failed",
        "code": 20001,
        "msg": f"bad {HOSTILE}",
        "taskid": None,
        "attempts": 1,
        "ts": "2026-12-01T10:00:00.000Z",
    }
    results = tmp_path / "r.jsonl"
    results.write_bytes(_json.dumps_line(line))
    result = run_cli("report", results, env={})
    assert result.code == 0, result.err
    assert "PWNED" in result.out
    assert "\x1b" not in result.out + result.err
