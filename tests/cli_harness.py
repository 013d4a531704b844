"""Helpers for the command-line tests: a mock served from its own thread, in-process and subprocess runs
of ``getui-push`` (results files are read with :mod:`tests.results_file`). Shared by test_cli*.py,
test_security.py and conftest."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from getui_async.cli import main
from getui_async.config import ENV_APP_ID, ENV_APP_KEY, ENV_BASE_URL, ENV_MASTER_SECRET
from getui_async.mock import MockConfig, MockGetui, MockStats
from tests.results_file import read_results  # noqa: F401 - re-exported: tests import it from here too

T = TypeVar("T")
DATA = Path(__file__).parent / "data"
#: Every field the contract promises on each result line.
RESULT_FIELDS = ("line", "request_id", "status", "code", "msg", "taskid", "attempts", "ts")
SUBPROCESS_TIMEOUT_S = 60.0


class ThreadedMock:
    """The bundled mock on 127.0.0.1, served by its own thread and loop, so the CLI can run its own loop."""

    def __init__(self, mock: MockGetui | None = None, **config: Any) -> None:
        self.mock = mock if mock is not None else MockGetui(MockConfig(**config))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mock-getui", daemon=True)

    def __enter__(self) -> ThreadedMock:
        self._thread.start()
        self.call(self.mock.start)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.mock.stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the mock's loop (awaiting it if it is a coroutine function) and return its result."""

        async def invoke() -> Any:
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    @property
    def env(self) -> dict[str, str]:
        """The ``GETUI_*`` variables that point the CLI at this mock."""
        m = self.mock
        return {
            ENV_APP_ID: m.app_id,
            ENV_APP_KEY: m.app_key,
            ENV_MASTER_SECRET: m.master_secret,
            ENV_BASE_URL: m.base_url,
        }

    def stats(self) -> MockStats:
        return self.call(self.mock.stats)  # type: ignore[no-any-return]

    def deliveries(self) -> dict[str, int]:
        return self.call(lambda: dict(self.mock.deliveries))  # type: ignore[no-any-return]

    def pushes(self) -> Counter[str]:
        """Requests per push route (``POST /push/...``), auth and control calls left out."""
        return Counter({k: n for k, n in self.stats().requests.items() if "/push/" in k})


@dataclass
class CliResult:
    """What one ``getui-push`` run produced."""

    code: int | str | None
    out: str
    err: str

    def assert_clean(self) -> None:
        """No Python traceback leaked to the user."""
        assert "Traceback" not in self.err, self.err
        assert "Traceback" not in self.out, self.out


@contextlib.contextmanager
def _restored_logging() -> Iterator[None]:
    """``main`` installs its own root handler; give pytest its handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def run_cli(*argv: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> CliResult:
    """``getui-push ARGV`` in-process with ``env`` as its whole environment; argparse exits are caught."""
    out, err = io.StringIO(), io.StringIO()
    with _restored_logging(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str | None = main([os.fspath(a) for a in argv], environ=dict(env or {}))
        except SystemExit as exc:
            code = exc.code
    return CliResult(code, out.getvalue(), err.getvalue())


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``GETUI_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GETUI_")}
    env.update(extra or {})
    return env


def command(*argv: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "getui_async", *(os.fspath(a) for a in argv)]


def run_process(
    *argv: str | os.PathLike[str], env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> CliResult:
    """``python -m getui_async ARGV`` as a real process (for stdin, signals and the entry points)."""
    done = subprocess.run(
        command(*argv),
        input=stdin,
        capture_output=True,
        env=clean_environ(env),
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())


def write_recipients(path: Path, count: int, *, start: int = 0, kind: str = "cid") -> Path:
    """A CSV of ``count`` recipients ``{kind},name``; cids are 32 hex digits, names ``User i``."""
    rows = [f"{kind},name"] + [f"{i:032x},User {i}" for i in range(start, start + count)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def closed_port_url() -> str:
    """An http base URL on 127.0.0.1 where nothing listens: any connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v2"


def wait_until(predicate: Callable[[], bool], *, timeout_s: float = 20.0) -> None:
    """Poll another process's progress (there is no clock to drive across processes); bounded."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


class Terminal:
    """``python -m getui_async ARGV`` with stderr on a pseudo-terminal of ``columns`` x ``rows``, read
    through the ``pyte`` emulator, so a test sees the screen a person would (not the raw bytes)."""

    def __init__(self, argv: Sequence[str | os.PathLike[str]], env: Mapping[str, str], *, columns: int,
                 rows: int = 24) -> None:  # fmt: skip
        import fcntl
        import pty
        import struct
        import termios

        import pyte

        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environ = {k: v for k, v in clean_environ(env).items() if k not in ("COLUMNS", "LINES")}
        self.proc = subprocess.Popen(
            command(*argv),
            env={**environ, "TERM": "xterm-256color"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
        os.close(slave)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        os.close(self._master)

    def _pump(self, timeout_s: float) -> bool:
        """Feed what the child wrote within ``timeout_s`` to the emulator; False at end of output."""
        import select

        ready, _, _ = select.select([self._master], [], [], timeout_s)
        if not ready:
            return True
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.raw += chunk
        self._stream.feed(chunk)
        return True

    def lines(self) -> list[str]:
        """The screen's non-blank lines, right-trimmed."""
        return [line.rstrip() for line in self.screen.display if line.strip()]

    def wait_for(self, predicate: Callable[[list[str]], bool], *, timeout_s: float = 20.0) -> list[str]:
        """Read until the screen satisfies ``predicate``; bounded in time."""
        deadline = time.monotonic() + timeout_s
        while not predicate(self.lines()):
            assert time.monotonic() < deadline, f"timed out; screen: {self.lines()}"
            if not self._pump(0.05):
                assert predicate(self.lines()), f"the program ended; screen: {self.lines()}"
        return self.lines()

    def finish(self) -> tuple[int, list[str]]:
        """Read to the end; the exit status and the final screen."""
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
        while self._pump(0.05):
            assert time.monotonic() < deadline, "timed out waiting for the end"
            if self.proc.poll() is not None:
                while self._pump(0.05) and time.monotonic() < deadline:
                    pass
                break
        return self.proc.wait(timeout=SUBPROCESS_TIMEOUT_S), self.lines()
