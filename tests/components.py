"""Real servers the tests start on 127.0.0.1 in temporary directories, and stop by PID: never mocks.

PostgreSQL (Debian's ``postgresql`` package: ``initdb`` + ``postgres``) backs the shared ledger and the
receipt store; a Prometheus Pushgateway (Debian's ``prometheus-pushgateway``) takes the metrics of a batch
run. PostgreSQL refuses to run as root, so under root (CI) the server runs as ``nobody`` in a directory
made for it. A missing component is a skip that says how to get it; ``.ci/run`` installs them all
(``.ci/components``) and turns any skip into a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HOST = "127.0.0.1"
#: The PostgreSQL superuser the test server is made with (trust auth: no password on 127.0.0.1).
USER = "getui"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: object, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():  # type: ignore[operator]
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Stop a server we started, by its PID: a signal, then a bounded wait, then SIGKILL; its status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
    return proc.returncode


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server: its URL (no password, trust auth on 127.0.0.1 only) and PID."""

    url: str
    host: str
    port: int
    user: str
    pid: int

    def database_url(self, name: str) -> str:
        """The URL of another database of the same server (created with :meth:`create_database`)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{name}"


def _connectable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start Debian's PostgreSQL in a temporary directory on a free port; stop it by PID afterwards."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("needs PostgreSQL: run `bash .ci/components` as root (or apt-get install postgresql)")
    as_root = os.geteuid() == 0
    run_as = "nobody" if as_root else None
    top = Path(tempfile.mkdtemp(prefix="getui-pg-"))
    data, log = top / "data", top / "server.log"
    try:
        if as_root:
            shutil.chown(top, user="nobody")
            top.chmod(0o700)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": str(top)}
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "getui",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user=run_as,
            env=env,
            cwd=top,
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        with log.open("wb") as sink:
            if as_root:
                shutil.chown(log, user="nobody")
            proc = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(top),
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                user=run_as,
                env=env,
                cwd=top,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for(lambda: _connectable(port), "postgres", proc, log)
            yield Postgres(
                f"postgresql://getui@127.0.0.1:{port}/postgres", "127.0.0.1", port, "getui", proc.pid
            )
        finally:
            stop_process(proc, signal.SIGINT)  # PostgreSQL's "fast shutdown"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@dataclass(frozen=True)
class Pushgateway:
    """A running Prometheus Pushgateway: its base URL and PID."""

    url: str
    pid: int

    def metrics_text(self) -> str:
        """What the gateway exposes now (the pushed groups' samples, in Prometheus' text format)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as reply:  # noqa: S310 (our 127.0.0.1)
            return str(reply.read().decode())


@contextlib.contextmanager
def pushgateway_server() -> Iterator[Pushgateway]:
    """Start Debian's prometheus-pushgateway on a free 127.0.0.1 port; stop it by PID afterwards."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        pytest.skip(
            "needs a Prometheus Pushgateway: run `bash .ci/components` as root "
            "(or apt-get install prometheus-pushgateway)"
        )
    top = Path(tempfile.mkdtemp(prefix="getui-pgw-"))
    port = free_port()
    log = top / "pushgateway.log"
    try:
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [binary, f"--web.listen-address=127.0.0.1:{port}"],
                cwd=top,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for(lambda: _connectable(port), "prometheus-pushgateway", proc, log)
            yield Pushgateway(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            stop_process(proc)
    finally:
        shutil.rmtree(top, ignore_errors=True)
