"""``check`` as sturdy as ``send``: retried look-ups, any rate send takes, Ctrl-C, dead cids only as asked."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from getui_async.check import check_input
from getui_async.client import GetuiClient
from getui_async.transport import Response

from .cli_harness import Terminal, ThreadedMock, clean_environ, command, run_cli, wait_until
from .fakes import Call, FakeGetui, reply, settings

ASKED = ("c-1", "c-2")


def write_input(path: Path) -> Path:
    path.write_text("cid\n" + "".join(f"{cid}\n" for cid in ASKED), encoding="utf-8")
    return path


def failing_first(times: int, then: Callable[[Call], Response]) -> Callable[[Call], Response]:
    """A route that answers HTTP 503 ``times`` times, then as ``then`` does."""
    left = [times]

    def route(call: Call) -> Response:
        if left[0] > 0:
            left[0] -= 1
            return Response(503, b"busy")
        return then(call)

    return route


def fake_getui(invalid: list[str], *, failures: int = 0) -> FakeGetui:
    fake = FakeGetui()
    detail = lambda call: reply(data={"invalidCids": invalid, "validCids": {}})  # noqa: E731
    count = lambda call: reply(data={"gt": {"app": {"remain_num": 10, "limit": True}}})  # noqa: E731
    fake.routes[("GET", "/user/detail/" + ",".join(ASKED))] = failing_first(failures, detail)
    fake.routes[("GET", "/report/push/count")] = failing_first(failures, count)
    return fake


async def test_user_detail_and_quota_5xx_are_retried(tmp_path: Path) -> None:
    """A 503 from user/detail or report/push/count is retried by send's policy, not fatal."""
    fake = fake_getui(["c-2"], failures=2)
    async with GetuiClient(settings(), transport=fake.transport()) as client:
        report = await check_input(write_input(tmp_path / "in.csv"), settings=None, client=client)
    assert report.dead_cids == 1
    assert report.remaining == 10
    assert len(fake.path_calls("/user/detail/c-1,c-2")) == 3


async def test_dead_cids_are_only_those_asked(tmp_path: Path) -> None:
    """A cid the server calls invalid but that was never asked is neither counted nor written."""
    fake = fake_getui(["c-2", '=HYPERLINK("x")', "never-asked"])
    dead = tmp_path / "dead.txt"
    async with GetuiClient(settings(), transport=fake.transport()) as client:
        report = await check_input(
            write_input(tmp_path / "in.csv"), settings=None, client=client, dead_cids=dead
        )
    assert report.dead_cids == 1
    assert report.cost == 1
    assert dead.read_text(encoding="utf-8") == "c-2\n"


async def test_a_rate_below_one_per_second_is_taken(tmp_path: Path) -> None:
    """``rate_per_s=0.5`` (which send accepts) paces look-ups instead of raising ValueError."""
    fake = fake_getui([])
    async with GetuiClient(settings(), transport=fake.transport()) as client:
        report = await check_input(
            write_input(tmp_path / "in.csv"), settings=None, client=client, rate_per_s=0.5
        )
    assert report.dead_cids == 0


def test_check_command_takes_rate_below_one(served: ThreadedMock, tmp_path: Path) -> None:
    """``check --rate 0.5`` exits 0 with no traceback."""
    result = run_cli("check", write_input(tmp_path / "in.csv"), "--rate", "0.5", env=served.env)
    result.assert_clean()
    assert result.code == 0, result.err


def test_ctrl_c_during_check_exits_3_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT while user/detail hangs: exit 3, one line on stderr, no traceback, no dead-cid file."""
    dead = tmp_path / "dead.txt"
    with ThreadedMock(hang_rate=1.0, hang_s=30.0) as served:
        process = subprocess.Popen(
            command("check", write_input(tmp_path / "in.csv"), "--dead-cids", dead),
            env=clean_environ(served.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(lambda: any("/user/detail/" in r for r in served.stats().requests))
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 3, err.decode()
    assert b"Traceback" not in err
    assert not dead.exists()


def test_a_slow_check_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    """While user/detail is slow, stderr on a terminal shows how many records were read and cids asked."""
    data = tmp_path / "big.csv"
    data.write_text("cid\n" + "".join(f"c-{i}\n" for i in range(2500)), encoding="utf-8")
    with ThreadedMock(latency_ms=1500) as served, Terminal(["check", data], served.env, columns=100) as term:
        lines = term.wait_for(lambda lines: any("1000 cids asked" in line for line in lines))
        assert term.proc.poll() is None, "the progress line came only at the end"
    assert any("records read" in line for line in lines), lines
