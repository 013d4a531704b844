"""Planted symbolic links are never followed: a link at a name the run writes is refused (exit 2, naming
it) and its target keeps every byte; temporaries get unpredictable names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from getui_async.errors import ResultsFileError
from getui_async.outputs import write_aside
from getui_async.results import RunLock, compact_results, write_meta
from getui_async.results.sidecar import RunMeta
from getui_async.safe_open import PlantedLink, open_private, replace_atomically, stale_temps
from tests.cli_harness import ThreadedMock, run_cli, write_recipients

MESSAGE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
VICTIM_BYTES = b"precious bytes that must survive\n" * 4


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file elsewhere whose bytes a planted link must never change."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    path = other / "victim.txt"
    path.write_bytes(VICTIM_BYTES)
    return path


@pytest.fixture
def flaky() -> Iterator[ThreadedMock]:
    """The mock answering 5xx to a third of requests (seeded), so a first run leaves retryable lines."""
    with ThreadedMock(http_5xx_rate=0.33, seed=11) as mock:
        yield mock


def _plant(link: Path, target: Path) -> None:
    link.symlink_to(target)


@pytest.mark.parametrize(
    "name", ["r.jsonl", "r.jsonl.lock", "r.jsonl.meta.json", "r.jsonl.meta.json.tmp", "r.jsonl.tmp"]
)
def test_send_refuses_a_link_planted_beside_its_results(
    served: ThreadedMock, tmp_path: Path, victim: Path, name: str
) -> None:
    """A link at RESULTS, its lock, its sidecar or a temporary name: exit 2 naming it, target untouched."""
    data = write_recipients(tmp_path / "in.csv", 5)
    link = tmp_path / name
    _plant(link, victim)
    done = run_cli("send", data, "--out", tmp_path / "r.jsonl", *MESSAGE, env=served.env)
    done.assert_clean()
    assert done.code == 2, done.err
    assert str(link) in done.err
    assert "symbolic link" in done.err
    assert victim.read_bytes() == VICTIM_BYTES
    assert link.is_symlink()
    assert served.deliveries() == {}


def test_retry_failed_refuses_a_link_at_the_compaction_tmp(
    flaky: ThreadedMock, tmp_path: Path, victim: Path
) -> None:
    """A link planted at RESULTS.tmp before --retry-failed: refused; the target keeps its bytes and
    RESULTS stays a regular file."""
    data = write_recipients(tmp_path / "in.csv", 60)
    out = tmp_path / "r.jsonl"
    first = run_cli(
        "send", data, "--out", out, "--mode", "single", "--max-attempts", "1", *MESSAGE, env=flaky.env
    )
    assert first.code == 1, first.err
    flaky.call(flaky.mock.configure, http_5xx_rate=0.0)
    link = tmp_path / "r.jsonl.tmp"
    _plant(link, victim)
    again = run_cli(
        "send", data, "--out", out, "--resume", "--retry-failed", "--mode", "single", *MESSAGE, env=flaky.env
    )
    again.assert_clean()
    assert again.code == 2, again.err
    assert str(link) in again.err
    assert victim.read_bytes() == VICTIM_BYTES
    assert not out.is_symlink()


def test_compaction_writes_an_unpredictable_temporary(tmp_path: Path, victim: Path) -> None:
    """Compaction never opens a fixed name: a link at the old RESULTS.tmp is not followed."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(
        b'{"record":1,"status":"failed","retryable":true}\n{"record":1,"status":"successed_online"}\n'
    )
    _plant(tmp_path / "r.jsonl.tmp", victim)
    assert compact_results(out) == 1
    assert victim.read_bytes() == VICTIM_BYTES
    assert not out.is_symlink()
    assert out.read_bytes() == b'{"record":1,"status":"successed_online"}\n'
    assert stale_temps(out) == []


def test_sidecar_write_never_follows_the_old_tmp_name(tmp_path: Path, victim: Path) -> None:
    """The sidecar is written through an unpredictable temporary: a link at RESULTS.meta.json.tmp stays."""
    out = tmp_path / "r.jsonl"
    _plant(tmp_path / "r.jsonl.meta.json.tmp", victim)
    write_meta(out, RunMeta("c1", "t", {"name": "in.csv"}))
    assert victim.read_bytes() == VICTIM_BYTES
    assert (tmp_path / "r.jsonl.meta.json").is_file()


def test_open_private_refuses_a_link_and_creates_owner_only(tmp_path: Path, victim: Path) -> None:
    """The one helper: a link is PlantedLink naming it; a new file is 0600 under umask 022."""
    link = tmp_path / "x.lock"
    _plant(link, victim)
    with pytest.raises(PlantedLink, match=r"x\.lock"):
        open_private(link, os.O_RDWR | os.O_CREAT)
    assert victim.read_bytes() == VICTIM_BYTES
    old = os.umask(0o022)
    try:
        os.close(open_private(tmp_path / "new", os.O_WRONLY | os.O_CREAT))
        replace_atomically(tmp_path / "replaced", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "replaced").stat().st_mode & 0o777 == 0o600


def test_write_aside_replaces_a_link_instead_of_writing_through_it(tmp_path: Path, victim: Path) -> None:
    """An export whose path is a link: the link is replaced by the new file; its target keeps its bytes."""
    link = tmp_path / "page.html"
    _plant(link, victim)
    with write_aside(link) as handle:
        handle.write(b"<html></html>")
    assert victim.read_bytes() == VICTIM_BYTES
    assert not link.is_symlink()
    assert link.read_bytes() == b"<html></html>"


def test_a_hard_link_at_the_lock_is_refused(tmp_path: Path, victim: Path) -> None:
    """A hard link to someone's file at RESULTS.lock: refused, never truncated."""
    out = tmp_path / "r.jsonl"
    os.link(victim, tmp_path / "r.jsonl.lock")
    with pytest.raises(ResultsFileError, match="hard links"):
        RunLock(out).acquire()
    assert victim.read_bytes() == VICTIM_BYTES
