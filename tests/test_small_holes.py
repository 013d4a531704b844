"""Small holes: a full temporary directory under --exclude, a failed pre-flight's leftovers, what
``report --retryable`` writes for each input shape, and ``report``'s count of unconfirmed list lines."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.results import lock_path, meta_path
from tests.cli_harness import ThreadedMock, run_cli, run_process, write_recipients
from tests.integration.test_local_faults import small_tmpfs
from tests.results_file import read_results

MESSAGE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


@pytest.fixture
def flaky() -> Iterator[ThreadedMock]:
    """The mock answering 5xx to a third of requests (seeded): a first run leaves retryable lines."""
    with ThreadedMock(http_5xx_rate=0.33, seed=11) as mock:
        yield mock


# -- --exclude with a full temporary directory ---------------------------------------------------------


def test_exclude_with_a_full_temporary_directory_is_exit_2_without_a_traceback(
    served: ThreadedMock, tmp_path: Path
) -> None:
    """The exclusion index spills to TMPDIR; a full one is a clear usage-level error, nothing sent."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    data = write_recipients(tmp_path / "in.csv", 5)
    exclude = tmp_path / "ex.txt"
    with exclude.open("w") as handle:  # ~10 MB of ids: indexed, more than the page cache
        handle.writelines(f"{i:032x}\n" for i in range(1_000, 300_000))
    with small_tmpfs(tmp_path / "tiny", "256k") as tiny:
        done = run_process(
            "send", data, "--out", tmp_path / "r.jsonl", "--exclude", exclude, *MESSAGE,
            env={**served.env, "TMPDIR": str(tiny), "SQLITE_TMPDIR": str(tiny)},
        )  # fmt: skip
    assert "Traceback" not in done.err, done.err
    assert done.code == 2, done.err
    assert "TMPDIR" in done.err
    assert "nothing was sent" in done.err
    assert served.deliveries() == {}


# -- a failed pre-flight -----------------------------------------------------------------------------------


def test_a_failed_preflight_leaves_no_results_file_and_no_sidecar(
    served: ThreadedMock, tmp_path: Path
) -> None:
    """Credentials Getui refuses: exit 2, and neither RESULTS nor its sidecar is left behind."""
    data = write_recipients(tmp_path / "in.csv", 5)
    out = tmp_path / "r.jsonl"
    env = {**served.env, "GETUI_MASTER_SECRET": "not-the-secret"}
    done = run_cli("send", data, "--out", out, *MESSAGE, env=env)
    assert done.code == 2, done.err
    assert not out.exists()
    assert not meta_path(out).exists()
    # And the same command with the right secret then starts afresh (no --resume needed).
    again = run_cli("send", data, "--out", out, *MESSAGE, env=served.env)
    assert again.code == 0, again.err
    assert len(read_results(out)) == 5


def test_a_failed_preflight_keeps_an_existing_results_file(served: ThreadedMock, tmp_path: Path) -> None:
    """A resume whose pre-flight fails leaves the earlier run's file and sidecar as they were."""
    data = write_recipients(tmp_path / "in.csv", 5)
    out = tmp_path / "r.jsonl"
    assert run_cli("send", data, "--out", out, *MESSAGE, env=served.env).code == 0
    before = out.read_bytes(), meta_path(out).read_bytes()
    env = {**served.env, "GETUI_MASTER_SECRET": "not-the-secret"}
    done = run_cli("send", data, "--out", out, "--resume", *MESSAGE, env=env)
    assert done.code == 2, done.err
    assert (out.read_bytes(), meta_path(out).read_bytes()) == before
    assert lock_path(out).exists()  # the lock file stays by design


# -- report --retryable: rows send can read back -----------------------------------------------------------


def _send_flaky(flaky: ThreadedMock, data: Path, out: Path, *extra: str) -> set[str]:
    """Send ``data`` against the flaky mock; returns the cids whose final line is retryable."""
    done = run_cli("send", data, "--out", out, "--mode", "single", "--max-attempts", "1", *extra, *MESSAGE,
                   env=flaky.env)  # fmt: skip
    assert done.code == 1, done.err
    final = {line["record"]: line for line in read_results(out)}
    retry = {x["cid"] for x in final.values() if x["status"] == "failed" and x.get("retryable")}
    assert retry
    return retry


def test_retryable_of_a_tsv_keeps_its_header(flaky: ThreadedMock, tmp_path: Path) -> None:
    """A .tsv input: the retry file starts with the header, then the retryable rows as they were."""
    data = tmp_path / "in.tsv"
    data.write_text("cid\tname\n" + "".join(f"{i:032x}\tUser {i}\n" for i in range(40)))
    out = tmp_path / "r.jsonl"
    retry = _send_flaky(flaky, data, out)
    target = tmp_path / "again.tsv"
    done = run_cli("report", out, "--retryable", target)
    assert done.code == 0, done.err
    rows = target.read_text().splitlines()
    assert rows[0] == "cid\tname"
    assert {row.split("\t")[0] for row in rows[1:]} == retry


def test_retryable_uses_the_cid_column_the_send_used(flaky: ThreadedMock, tmp_path: Path) -> None:
    """send --cid-column device: report --retryable reads the input the same way, no flag needed."""
    data = tmp_path / "in.csv"
    data.write_text("device,name\n" + "".join(f"{i:032x},User {i}\n" for i in range(40)))
    out = tmp_path / "r.jsonl"
    retry = _send_flaky(flaky, data, out, "--cid-column", "device")
    target = tmp_path / "again.csv"
    done = run_cli("report", out, "--retryable", target)
    assert done.code == 0, done.err
    rows = target.read_text().splitlines()
    assert rows[0] == "device,name"
    assert {row.split(",")[0] for row in rows[1:]} == retry


def test_retryable_of_an_xlsx_is_a_utf8_csv_with_its_header(flaky: ThreadedMock, tmp_path: Path) -> None:
    """An .xlsx input: the retry file is a UTF-8 CSV with a header (said on stderr), which send reads."""
    openpyxl = pytest.importorskip("openpyxl")
    data = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["cid", "name"])
    for i in range(40):
        sheet.append([f"{i:032x}", f"Usér {i}"])
    book.save(data)
    out = tmp_path / "r.jsonl"
    retry = _send_flaky(flaky, data, out)
    target = tmp_path / "again.csv"
    done = run_cli("report", out, "--retryable", target)
    assert done.code == 0, done.err
    assert "CSV" in done.err
    raw = target.read_bytes()
    assert not raw.startswith(b"PK")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert rows[0] == ["cid", "name"]
    assert {row[0] for row in rows[1:]} == retry
    assert all(row[1].startswith("Usér ") for row in rows[1:])
    flaky.call(flaky.mock.configure, http_5xx_rate=0.0)
    resent = run_cli(
        "send", target, "--out", tmp_path / "r2.jsonl", "--mode", "single", *MESSAGE, env=flaky.env
    )
    assert resent.code == 0, resent.err
    assert {x["cid"] for x in read_results(tmp_path / "r2.jsonl")} == retry


# -- report counts unconfirmed list lines ------------------------------------------------------------------


def _line(record: int, status: str, **extra: Any) -> dict[str, Any]:
    base = {"line": record + 1, "record": record, "cid": f"{record:032x}", "request_id": f"r{record:09d}",
            "status": status, "code": 0, "msg": "", "taskid": "RASL-1", "attempts": 1,
            "ts": "2026-12-07T10:00:00.000Z"}  # fmt: skip
    return base | extra


def test_report_counts_unconfirmed_list_lines_and_never_offers_them_again(tmp_path: Path) -> None:
    """failed + unconfirmed lines: their own 'unconfirmed' count (text and JSON), not retryable."""
    data = write_recipients(tmp_path / "in.csv", 6)
    out = tmp_path / "r.jsonl"
    lost = "Getui's reply to this list chunk was lost; it may have delivered"
    lines = [
        _line(1, "successed_online"),
        _line(2, "failed", code=None, msg=lost, retryable=False, unconfirmed=True),
        _line(3, "failed", code=None, msg=lost, retryable=False, unconfirmed=True),
        _line(4, "failed", code=None, msg="HTTP 503", http_status=503, retryable=True),
    ]
    out.write_bytes(b"".join(_json.dumps_line(x) for x in lines))
    meta_path(out).write_bytes(
        _json.dumps({"campaign_id": "c1", "input": {"name": "in.csv", "format": "csv"}})
    )
    done = run_cli("report", out, "--json")
    assert done.code == 0, done.err
    counts = _json.loads(done.out)
    assert counts["unconfirmed"] == 2
    assert counts["groups"]["unconfirmed"] == 2
    assert counts["retryable"] == 1
    assert counts["failed"] == 0
    text = run_cli("report", out)
    assert text.code == 0, text.err
    assert any(row.split()[:2] == ["unconfirmed", "2"] for row in text.out.splitlines())
    target = tmp_path / "again.csv"
    assert run_cli("report", out, "--retryable", target, "--input", data).code == 0
    assert target.read_text().splitlines() == ["cid,name", f"{3:032x},User 3"]
