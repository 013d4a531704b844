"""Output files: never one the command reads, written aside and renamed into place, owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from getui_async.config import UsageError
from getui_async.outputs import refuse_reads, write_aside
from tests.cli_harness import ThreadedMock, run_cli, write_recipients

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


def test_write_aside_renames_into_place_owner_only(tmp_path: Path) -> None:
    """The file appears only whole, created 0600, with no temporary left beside it."""
    target = tmp_path / "dead.txt"
    with write_aside(target) as handle:
        handle.write(b"cid-1\n")
        assert not target.exists()
    assert target.read_bytes() == b"cid-1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dead.txt"]


def test_write_aside_leaves_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    """An error inside the block keeps the previous file and removes the temporary."""
    target = tmp_path / "page.html"
    target.write_bytes(b"old")

    def fail() -> None:
        with write_aside(target) as handle:
            handle.write(b"new")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_refuse_reads_sees_a_symlink_to_an_input(tmp_path: Path) -> None:
    """A link to a file the command reads is that file: refused, naming both flags and paths."""
    data = tmp_path / "in.csv"
    data.write_text("cid\nx\n")
    link = tmp_path / "link.txt"
    link.symlink_to(data)
    with pytest.raises(UsageError) as caught:
        refuse_reads({"--dead-cids": str(link)}, {"INPUT": data})
    said = str(caught.value)
    assert "--dead-cids" in said
    assert "INPUT" in said
    assert str(link) in said
    assert str(data) in said


def test_refuse_reads_sees_a_not_yet_existing_sidecar_path(tmp_path: Path) -> None:
    """A path that does not exist yet is compared resolved (``a/../b`` is ``b``)."""
    (tmp_path / "sub").mkdir()
    with pytest.raises(UsageError):
        refuse_reads(
            {"--html": str(tmp_path / "sub" / ".." / "r.lock")}, {"RESULTS.lock": tmp_path / "r.lock"}
        )
    refuse_reads({"--html": str(tmp_path / "page.html")}, {"RESULTS": tmp_path / "r.jsonl"})


@pytest.fixture
def sent(tmp_path: Path) -> tuple[Path, Path]:
    """An input and the results of a send of it."""
    data = write_recipients(tmp_path / "in.csv", 6)
    results = tmp_path / "r.jsonl"
    with ThreadedMock() as served:
        done = run_cli("send", data, "--out", results, *SIMPLE, env=served.env)
    assert done.code == 0, done.err
    return data, results


@pytest.mark.parametrize(
    ("flag", "target"),
    [
        ("--html", "results"),
        ("--dead-cids", "results"),
        ("--retryable", "results"),
        ("--dead-cids", "sidecar"),
        ("--html", "lock"),
        ("--retryable", "input"),
    ],
)
def test_report_refuses_an_output_that_is_a_file_it_reads(
    sent: tuple[Path, Path], flag: str, target: str
) -> None:
    """report R --html R (and the like) exits 2 before writing, naming the flag and the file."""
    data, results = sent
    path = {
        "results": results,
        "sidecar": results.with_name(results.name + ".meta.json"),
        "lock": results.with_name(results.name + ".lock"),
        "input": data,
    }[target]
    before = {p: p.read_bytes() for p in (data, results) if p.exists()}
    done = run_cli("report", results, flag, path, "--input", data)
    assert done.code == 2, done.err
    assert flag in done.err
    assert str(path) in done.err
    assert {p: p.read_bytes() for p in before} == before


def test_report_outputs_are_owner_only(sent: tuple[Path, Path], tmp_path: Path) -> None:
    """--dead-cids and --html files hold recipients: created 0600."""
    _, results = sent
    done = run_cli("report", results, "--dead-cids", tmp_path / "d.txt", "--html", tmp_path / "p.html")
    assert done.code == 0, done.err
    for name in ("d.txt", "p.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_check_refuses_dead_cids_onto_its_input(tmp_path: Path) -> None:
    """check IN --dead-cids IN exits 2 and leaves the input whole."""
    data = write_recipients(tmp_path / "in.csv", 6)
    before = data.read_bytes()
    done = run_cli("check", data, "--dead-cids", data)
    assert done.code == 2, done.err
    assert "--dead-cids" in done.err
    assert "INPUT" in done.err
    assert data.read_bytes() == before


@pytest.mark.parametrize("target", ["input", "results", "sidecar", "exclude", "link"])
def test_send_refuses_a_summary_json_it_reads(served, tmp_path: Path, target: str) -> None:
    """send --summary-json naming the input, results, sidecar or an exclusion list: exit 2, no write."""
    data = write_recipients(tmp_path / "in.csv", 6)
    results = tmp_path / "r.jsonl"
    exclude = tmp_path / "ex.txt"
    exclude.write_text("nobody\n")
    link = tmp_path / "link.json"
    link.symlink_to(data)
    path = {
        "input": data,
        "results": results,
        "sidecar": results.with_name(results.name + ".meta.json"),
        "exclude": exclude,
        "link": link,
    }[target]
    before = data.read_bytes()
    done = run_cli(
        "send", data, "--out", results, *SIMPLE, "--exclude", exclude, "--summary-json", path, env=served.env
    )
    assert done.code == 2, done.err
    assert "--summary-json" in done.err
    assert data.read_bytes() == before
    assert exclude.read_text() == "nobody\n"
    assert not results.exists()
    assert sum(served.stats().requests.values()) == 0


def test_send_summary_json_is_owner_only(served, tmp_path: Path) -> None:
    """The summary file is created 0600 and holds the summary."""
    data = write_recipients(tmp_path / "in.csv", 3)
    summary = tmp_path / "s.json"
    done = run_cli(
        "send", data, "--out", tmp_path / "r.jsonl", *SIMPLE, "--summary-json", summary, env=served.env
    )
    assert done.code == 0, done.err
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600
    assert summary.read_bytes().startswith(b"{")
    assert os.listdir(tmp_path).count("s.json") == 1
