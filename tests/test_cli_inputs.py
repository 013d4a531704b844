"""Bad input through the CLI: every case gets a clear message naming file, line and field, the
documented exit status, and never a traceback.

Record-level problems become ``rejected`` lines (with ``line`` and ``field``) and exit 1; whole-file
problems, bad flags, missing credentials and unusable paths exit 2 with ``getui-push: error: ...`` on
stderr and send nothing. The corpus in tests/data/ is run file by file; bigger or odder inputs are
generated here (tests/data/README.md explains why they are not committed).
"""

from __future__ import annotations

import builtins
import errno
import gzip
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from getui_async.config import ENV_APP_ID, ENV_APP_KEY, ENV_MASTER_SECRET
from getui_async.results import sidecar as results_module
from getui_async.sources import MAX_LINE_BYTES, MAX_RECORD_BYTES, MAX_RECORD_LINES
from getui_async.sources import opening as sources_opening
from tests.cli_harness import (
    DATA,
    SUBPROCESS_TIMEOUT_S,
    CliResult,
    ThreadedMock,
    clean_environ,
    command,
    run_cli,
    wait_until,
    write_recipients,
)
from tests.results_file import read_results

#: A message every corpus record fits: JSONL records may override title, body and payload.
FLAGS = ("--title", "T", "--body", "B", "--click-type", "payload", "--payload", "p", "--no-progress")

#: Files read to the end: exit status and ``{line: field}`` of the rejected lines (None: no field).
RECORD_LEVEL: dict[str, tuple[int, dict[int, str | None]]] = {
    "csv_valid.csv": (0, {}),
    "csv_valid.csv.gz": (0, {}),
    "csv_bom.csv": (0, {}),
    "csv_crlf.csv": (0, {}),
    "csv_header_only.csv": (0, {}),
    "jsonl_valid.jsonl": (0, {}),
    "jsonl_valid.ndjson": (0, {}),
    "jsonl_valid.jsonl.gz": (0, {}),
    "jsonl_blank_lines.jsonl": (0, {}),
    "csv_unbalanced_quote.csv": (1, {3: None, 7: None}),
    "csv_quote_closed_later.csv": (1, {2: None}),
    "csv_wrong_columns.csv": (1, {3: None, 4: None}),
    "csv_invalid_utf8.csv": (1, {2: "name", 3: "cid"}),
    "csv_identifiers.csv": (1, {2: "cid", 3: "alias", 4: "cid", 5: "cid", 6: "cid", 7: "alias"}),
    "jsonl_syntax_errors.jsonl": (1, dict.fromkeys(range(2, 6))),
    "jsonl_non_object.jsonl": (1, dict.fromkeys(range(1, 6))),
    "jsonl_nested_values.jsonl": (1, {1: "payload", 2: "tags", 3: "cid", 4: "n"}),
    "jsonl_invalid_utf8.jsonl": (1, {1: None, 2: None}),
    "jsonl_identifiers.jsonl": (1, {1: "cid", 2: "alias", 3: "cid", 4: "alias", 6: "cid", 7: "alias"}),
    "csv_empty_column_name.csv": (1, {2: None}),
    "csv_trailing_empty_columns.csv": (1, {4: None}),
    "csv_gbk.csv": (0, {}),
    "csv_gb18030.csv": (0, {}),
    "tsv_utf16.tsv": (0, {}),
    "csv_semicolon.csv": (0, {}),
    "csv_tabs.csv": (0, {}),
    "csv_clientid_header.csv": (0, {}),
}

#: Files refused before anything is sent (exit 2): the line named in the message, and a fragment of it.
WHOLE_FILE: dict[str, tuple[int | None, str]] = {
    "csv_empty.csv": (1, "empty file: no header row"),
    "csv_no_id_column.csv": (1, "columns found: 'id', 'name'"),
    "csv_two_id_columns.csv": (1, "both name the cid"),
    "csv_duplicate_columns.csv": (1, "duplicate column name 'name'"),
    "csv_invalid_utf8_header.csv": (1, "invalid UTF-8 (byte 0xe9 at column 8)"),
    "csv_not_gzip.csv.gz": (1, "corrupt gzip stream"),
    # Corrupt within the first chunk of records the engine reads before its first request.
    "csv_truncated.csv.gz": (98, "corrupt gzip stream"),
    "jsonl_bad_crc.jsonl.gz": (6, "CRC check failed"),
    "jsonl_blank_only.jsonl": (1, "empty file: no JSON lines"),
    "recipients.txt": (None, "unknown format"),
}


def send(served: ThreadedMock | None, path: Path, out: Path, *flags: str) -> CliResult:
    """``send PATH --out OUT`` (a real run against ``served``, or a dry run without it)."""
    extra = flags or FLAGS
    if served is None:
        return run_cli("send", path, "--out", out, *extra, "--dry-run")
    return run_cli("send", path, "--out", out, *extra, env=served.env)


def rejected(out: Path) -> dict[int, dict[str, Any]]:
    return {line["line"]: line for line in read_results(out) if line["status"] == "rejected"}


def test_every_corpus_file_has_an_expectation():
    """Each file in tests/data/ is run through the CLI below (a new file needs a row here)."""
    files = {p.name for p in DATA.iterdir() if p.is_file() and p.name != "README.md"}
    assert files == set(RECORD_LEVEL) | set(WHOLE_FILE)


@pytest.mark.parametrize("name", sorted(RECORD_LEVEL))
def test_corpus_record_problems_become_rejected_lines(served, out, name):
    """Bad records are rejected lines naming line and field; the rest are sent; exit 0 or 1 accordingly."""
    status, expected = RECORD_LEVEL[name]
    result = send(served, DATA / name, out)
    result.assert_clean()
    assert result.code == status, result.err
    lines = read_results(out)
    assert len({line["record"] for line in lines}) == len(lines)
    bad = rejected(out)
    assert {line: r["field"] for line, r in bad.items()} == expected
    for r in bad.values():
        assert r["msg"]
        assert r["field"] is None or f"'{r['field']}'" in r["msg"]
    sent = [line for line in lines if line["status"] != "rejected"]
    assert all(line["status"].startswith("successed_") for line in sent)


@pytest.mark.parametrize("name", sorted(WHOLE_FILE))
def test_corpus_whole_file_problems_exit_2_naming_file_and_line(served, out, name):
    """An unusable input exits 2, names the file (and line), sends nothing and writes no result line."""
    line, fragment = WHOLE_FILE[name]
    result = send(served, DATA / name, out)
    result.assert_clean()
    assert result.code == 2, result.err
    where = f"{DATA / name}:{line}:" if line is not None else f"{DATA / name}:"
    assert f"getui-push: error: {where}" in result.err
    assert fragment in result.err
    assert not out.exists() or out.stat().st_size == 0
    assert served.pushes() == {}


@pytest.mark.parametrize("name", ["csv_empty.csv", "csv_no_id_column.csv", "jsonl_blank_only.jsonl"])
def test_a_refused_input_leaves_the_results_file_reusable(served, out, name):
    """After a header problem the same --out can be used for the fixed input, without --resume."""
    assert send(served, DATA / name, out).code == 2
    fixed = write_recipients(out.parent / "fixed.csv", 3)
    assert send(served, fixed, out).code == 0


def test_header_problems_also_exit_2_in_a_dry_run(out):
    """A dry run reports a bad header the same way (exit 2, file and line named)."""
    result = send(None, DATA / "csv_no_id_column.csv", out)
    assert result.code == 2
    assert f"{DATA / 'csv_no_id_column.csv'}:1:" in result.err


# -- generated inputs ---------------------------------------------------------------------------------------


def test_huge_jsonl_line_is_rejected_and_skipped(served, tmp_path, out):
    """A JSONL line over 1 MiB is a rejected line at its number; its neighbours still go."""
    path = tmp_path / "big.jsonl"
    huge = b'{"cid": "c2", "name": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(b'{"cid": "c1"}\n' + huge + b'{"cid": "c3"}\n')
    result = send(served, path, out)
    result.assert_clean()
    assert result.code == 1
    assert list(rejected(out)) == [2]
    assert "1 MiB" in rejected(out)[2]["msg"]
    assert set(served.deliveries()) == {"c1", "c3"}


def test_huge_csv_record_is_rejected(served, tmp_path, out):
    """A CSV record over the record size cap is rejected at its line; the next record is read."""
    path = tmp_path / "big.csv"
    path.write_text(f"cid,name\nc1,a\nc2,{'y' * (MAX_RECORD_BYTES + 10)}\nc3,c\n", encoding="utf-8")
    result = send(served, path, out)
    assert result.code == 1
    assert list(rejected(out)) == [3]
    assert set(served.deliveries()) == {"c1", "c3"}


def test_quote_open_for_too_many_lines_is_rejected(served, tmp_path, out):
    """A quote that never closes costs its record only; the reader does not swallow the file."""
    rows = "".join(f"c{i},n{i}\n" for i in range(3, MAX_RECORD_LINES + 50))
    path = tmp_path / "q.csv"
    path.write_text('cid,name\nc1,"open\n' + rows, encoding="utf-8")
    result = send(served, path, out)
    assert result.code == 1
    assert 2 in rejected(out)
    assert len(read_results(out)) > MAX_RECORD_LINES


@pytest.mark.parametrize(
    ("flags", "value", "field"),
    [
        (("--title", "Hi {name}", "--body", "B"), "n" * 48, "push_message.notification.title"),
        (("--title", "T", "--body", "{name}"), "n" * 257, "push_message.notification.body"),
        (("--title", "T", "--body", "B", "--click-type", "url", "--url", "https://x.cn/{name}"), "u" * 1100,
         "push_message.notification.url"),
        (("--title", "T", "--body", "B", "--click-type", "payload", "--payload", "{name}"), "p" * 3073,
         "push_message.notification.payload"),
    ],
)  # fmt: skip
def test_over_long_rendered_field_is_rejected_naming_it(served, tmp_path, out, flags, value, field):
    """A value that renders a field over Getui's limit is a rejected line naming that field, never sent."""
    path = tmp_path / "r.csv"
    path.write_text(f"cid,name\nc1,ok\nc2,{value}\n", encoding="utf-8")
    result = send(served, path, out, *flags, "--no-progress")
    result.assert_clean()
    assert result.code == 1
    bad = rejected(out)
    assert list(bad) == [3]
    assert bad[3]["field"] == field
    assert "limit" in bad[3]["msg"]
    assert set(served.deliveries()) == {"c1"}


def test_over_long_jsonl_override_is_rejected(served, tmp_path, out):
    """A record's own title over 50 characters is rejected naming the title field."""
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"cid": "c1", "title": "ok"}\n{"cid": "c2", "title": "' + "t" * 51 + '"}\n', encoding="utf-8"
    )
    result = send(served, path, out)
    assert result.code == 1
    assert rejected(out)[2]["field"] == "push_message.notification.title"


def test_unknown_template_field_is_rejected_per_record(served, tmp_path, out):
    """A placeholder the record lacks is a rejected line naming the field, on every record lacking it."""
    path = tmp_path / "r.jsonl"
    path.write_text('{"cid": "c1", "city": "Wuhan"}\n{"cid": "c2"}\n', encoding="utf-8")
    result = send(served, path, out, "--title", "Hi from {city}", "--body", "B", "--no-progress")
    assert result.code == 1
    bad = rejected(out)
    assert list(bad) == [2]
    assert bad[2]["field"] == "city"
    assert "city" in bad[2]["msg"]
    assert set(served.deliveries()) == {"c1"}


def test_jsonl_with_bom_and_crlf_is_read(served, tmp_path, out):
    """A UTF-8 BOM and CRLF line ends (Windows editors) do not break a JSONL file."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"cid": "c1"}\r\n{"cid": "c2"}\r\n')
    assert send(served, path, out).code == 0
    assert set(served.deliveries()) == {"c1", "c2"}


def test_truncated_gzip_beyond_the_first_mib_stops_with_exit_3(served, tmp_path, out):
    """A gzip cut off past the first MiB stops the run (exit 3) naming file and line; earlier lines stay."""
    rows = "".join(f"{i:032x},{'n' * 30}\n" for i in range(24_000))  # 1.5 MB: past the fingerprinted head
    data = gzip.compress(("cid,name\n" + rows).encode(), mtime=0)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) * 9 // 10])
    result = send(served, path, out, "--title", "T", "--body", "B", "--no-progress")
    result.assert_clean()
    assert result.code == 3
    found = re.search(rf"{re.escape(str(path))}:(\d+): corrupt gzip stream", result.err)
    assert found is not None, result.err
    assert "--resume" not in result.err  # resuming cannot read past the damage
    numbers = [line["line"] for line in read_results(out)]
    assert numbers
    assert len(set(numbers)) == len(numbers)
    assert max(numbers) < int(found[1])


# -- flags, credentials, paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--bogus",), "--bogus"),
        (("--concurrency", "0"), "--concurrency"),
        (("--concurrency", "many"), "--concurrency"),
        (("--list-chunk", "1001"), "--list-chunk"),
        (("--list-chunk", "0"), "--list-chunk"),
        (("--rate", "-5"), "--rate"),
        (("--max-attempts", "0"), "--max-attempts"),
        (("--timeout-s", "0"), "--timeout-s"),
        (("--mode", "fastest"), "--mode"),
        (("--format", "xml"), "--format"),
        (("--click-type", "tap"), "--click-type"),
        (("--click-type", "url"), "--url"),
        (("--click-type", "intent"), "--intent"),
        (("--url", "https://x.cn"), "click_type"),
        (("--message", "m.json", "--title", "T"), "--title"),
        (("--base-url", "ftp://example.com/v2"), "base URL"),
        (("--base-url", "http://example.com/v2"), "plain http"),
        (("--base-url", "https://example.com/v2?x=1"), "query"),
        (("--log-level", "loud"), "--log-level"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(served, tmp_path, out, monkeypatch, argv, fragment):
    """A wrong flag or value exits 2 with a message naming it; nothing is sent."""
    path = write_recipients(tmp_path / "r.csv", 2)
    (tmp_path / "m.json").write_text('{"push_message": {"transmission": "x"}}', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run_cli("send", path, "--out", out, *argv, env=served.env)
    result.assert_clean()
    assert result.code == 2, result.err
    assert fragment in result.err
    assert served.pushes() == {}
    assert not out.exists()


def test_missing_out_is_a_usage_error(tmp_path):
    """--out is required."""
    result = run_cli("send", write_recipients(tmp_path / "r.csv", 1))
    assert result.code == 2
    assert "--out" in result.err


@pytest.mark.parametrize("missing", [ENV_APP_ID, ENV_APP_KEY, ENV_MASTER_SECRET])
@pytest.mark.parametrize("value", [None, "  "])
def test_missing_or_blank_credentials_exit_2_naming_the_variable(served, tmp_path, out, missing, value):
    """Each credential variable, absent or blank, is named in an exit-2 message; /auth is never called."""
    env = dict(served.env)
    if value is None:
        del env[missing]
    else:
        env[missing] = value
    result = run_cli("send", write_recipients(tmp_path / "r.csv", 1), "--out", out, *FLAGS, env=env)
    result.assert_clean()
    assert result.code == 2
    assert missing in result.err
    assert served.stats().auth_calls == 0


def test_wrong_credentials_exit_2_before_any_line(served, tmp_path, out):
    """Credentials Getui refuses fail the pre-flight /auth: exit 2, no result line, nothing pushed."""
    env = {**served.env, ENV_MASTER_SECRET: "not-the-secret"}
    result = run_cli("send", write_recipients(tmp_path / "r.csv", 3), "--out", out, *FLAGS, env=env)
    result.assert_clean()
    assert result.code == 2
    assert "nothing was sent" in result.err
    assert not out.exists() or out.stat().st_size == 0
    assert served.pushes() == {}


def permission_denied(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, path: Path) -> None:
    """Make ``owner.name(...)`` fail with EACCES for ``path`` only (tests run as root, who may read all)."""
    real = getattr(owner, name, None) or getattr(builtins, name)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        target = args[0]
        if Path(os.fspath(target)) == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(target))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, guarded, raising=False)


def test_unreadable_input_exits_2(served, tmp_path, out, monkeypatch):
    """An input we may not read exits 2 naming it."""
    path = write_recipients(tmp_path / "r.csv", 2)
    permission_denied(monkeypatch, sources_opening, "open", path)
    result = send(served, path, out)
    result.assert_clean()
    assert result.code == 2
    assert f"{path}: permission denied" in result.err


def test_unreadable_config_exits_2(served, tmp_path, out, monkeypatch):
    """A --config file we may not read exits 2 naming it."""
    config = tmp_path / "c.toml"
    config.write_text('mode = "batch"\n', encoding="utf-8")
    permission_denied(monkeypatch, Path, "read_text", config)
    result = send(served, write_recipients(tmp_path / "r.csv", 1), out, *FLAGS, "--config", str(config))
    result.assert_clean()
    assert result.code == 2
    assert f"{config}: cannot read the config file" in result.err


def test_unreadable_message_exits_2(served, tmp_path, out, monkeypatch):
    """A --message file we may not read exits 2 naming it."""
    message = tmp_path / "m.json"
    message.write_text('{"push_message": {"transmission": "x"}}', encoding="utf-8")
    permission_denied(monkeypatch, Path, "read_bytes", message)
    result = send(served, write_recipients(tmp_path / "r.csv", 1), out, "--message", str(message))
    result.assert_clean()
    assert result.code == 2
    assert f"{message}: cannot read the message file" in result.err


def test_unwritable_results_exit_2(served, tmp_path, out, monkeypatch):
    """A results location we may not write exits 2 naming the path; nothing is sent."""
    permission_denied(monkeypatch, results_module.os, "open", out.with_name(out.name + ".lock"))
    result = send(served, write_recipients(tmp_path / "r.csv", 2), out)
    result.assert_clean()
    assert result.code == 2
    assert str(out) in result.err
    assert served.pushes() == {}


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: d / "missing.csv", "no such file"),
        (lambda d: (d / "dir.csv").mkdir() or d / "dir.csv", "is a directory"),
    ],
)
def test_input_path_problems_exit_2(served, tmp_path, out, make, fragment):
    """A missing input or a directory given as input exits 2 naming it."""
    path = make(tmp_path)
    result = send(served, path, out)
    result.assert_clean()
    assert result.code == 2
    assert f"{path}: {fragment}" in result.err


def test_out_in_a_missing_directory_exits_2(served, tmp_path):
    """--out under a directory that does not exist exits 2 naming the directory; nothing is sent."""
    out = tmp_path / "nowhere" / "results.jsonl"
    result = send(served, write_recipients(tmp_path / "r.csv", 1), out)
    result.assert_clean()
    assert result.code == 2
    assert str(out.parent) in result.err
    assert served.pushes() == {}


def test_out_that_is_a_directory_exits_2(served, tmp_path):
    """--out naming a directory exits 2 saying so (not 'already holds results')."""
    result = send(served, write_recipients(tmp_path / "r.csv", 1), tmp_path)
    result.assert_clean()
    assert result.code == 2
    assert "is a directory" in result.err
    assert served.pushes() == {}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"push_message": {"notification": {"title": "x"}}}', "push_message.notification.body"),
        (b'{"push_message": {"transmission": "x"}, "bogus": 1}', "bogus"),
    ],
)
def test_bad_message_file_exits_2_naming_file_and_field(served, tmp_path, out, content, fragment):
    """A --message file that is not a valid Getui message exits 2 naming the file and the field."""
    message = tmp_path / "m.json"
    message.write_bytes(content)
    result = send(served, write_recipients(tmp_path / "r.csv", 1), out, "--message", str(message))
    result.assert_clean()
    assert result.code == 2
    assert "m.json" in result.err
    assert fragment in result.err


def test_bad_toml_exits_2_naming_the_file(served, tmp_path, out):
    """A --config file that is not TOML exits 2 naming it and the position."""
    config = tmp_path / "c.toml"
    config.write_text("mode = \n", encoding="utf-8")
    result = send(served, write_recipients(tmp_path / "r.csv", 1), out, *FLAGS, "--config", str(config))
    result.assert_clean()
    assert result.code == 2
    assert f"{config}: not valid TOML" in result.err
    assert "line 1" in result.err


# -- the files marketing teams really have (issue #13) ---------------------------------------------------


def titles(served: ThreadedMock, *cids: str) -> list[str | None]:
    """The title the mock delivered to each cid (the last delivery)."""
    return [served.call(served.mock.delivery_log, cid)[-1].title for cid in cids]


def test_a_gbk_file_is_sent_with_its_chinese_text_and_a_notice(served, out):
    """A GBK CSV renders its Chinese names correctly and says on stderr that it was read as GB18030."""
    result = send(served, DATA / "csv_gbk.csv", out, "--title", "{name} 您好", "--body", "B", "--no-progress")
    result.assert_clean()
    assert result.code == 0, result.err
    assert "input decoded as GB18030: it is not valid UTF-8" in result.err
    assert titles(served, "c1", "c2") == ["张伟 您好", "李娜 您好"]


def test_encoding_utf8_keeps_a_gbk_file_from_being_guessed(served, out):
    """--encoding utf-8 rejects the undecodable rows instead of guessing, naming the field."""
    result = send(served, DATA / "csv_gbk.csv", out, *FLAGS, "--encoding", "utf-8")
    result.assert_clean()
    assert result.code == 1
    assert {line: r["field"] for line, r in rejected(out).items()} == {2: "name", 3: "name"}


def test_a_utf16_tsv_and_a_semicolon_file_are_sent(served, tmp_path, out):
    """Excel's Unicode Text and a European ;-CSV both arrive with the right text."""
    result = send(
        served, DATA / "tsv_utf16.tsv", out, "--title", "{name}@{city}", "--body", "B", "--no-progress"
    )
    assert result.code == 0, result.err
    assert titles(served, "c1", "c2") == ["张伟@上海", "Bob@Paris"]
    other = tmp_path / "semi.jsonl"
    result = send(
        served, DATA / "csv_semicolon.csv", other, "--title", "{note}", "--body", "B", "--no-progress"
    )
    assert result.code == 0, result.err
    assert titles(served, "c1", "c2") == ["a;b", "x,y"]


def test_flags_name_the_delimiter_and_the_id_column(served, tmp_path, out):
    """--delimiter and --cid-column read a file whose header alone would not say."""
    path = tmp_path / "export.csv"
    path.write_text("Device;Token|name\nd1|A;B\n", encoding="utf-8")  # auto would pick ';' (a tie)
    flags = ("--title", "[{name}]", "--body", "B", "--no-progress")
    result = send(served, path, out, *flags, "--delimiter", "|", "--cid-column", "device;token")
    result.assert_clean()
    assert result.code == 0, result.err
    assert titles(served, "d1") == ["[A;B]"]


def test_a_header_without_an_id_column_lists_the_columns(served, tmp_path, out):
    """No id column: exit 2 listing the columns found, nothing sent; --cid-column fixes it."""
    path = tmp_path / "r.csv"
    path.write_text("token,name\nt1,A\n", encoding="utf-8")
    result = send(served, path, out)
    assert result.code == 2
    assert "columns found: 'token', 'name'" in result.err
    assert served.pushes() == {}
    assert send(served, path, out, *FLAGS, "--cid-column", "TOKEN").code == 0


def test_an_empty_column_name_flag_is_a_usage_error(out):
    """--cid-column '' exits 2 naming the flag."""
    result = send(None, DATA / "csv_valid.csv", out, *FLAGS, "--cid-column", " ")
    assert result.code == 2
    assert "--cid-column needs a name" in result.err


def test_an_xlsx_workbook_is_sent(served, tmp_path, out):
    """An .xlsx made by openpyxl: ids written as numbers arrive as 12345, text as typed, row = line."""
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "名单"
    for row in (["cid", "name", "vip"], [12345.0, "张伟", True], [None, None, None], ["c3", "Bob", False]):
        sheet.append(row)
    book.create_sheet("Other").append(["alias"])
    book.save(path)
    book.close()
    result = send(served, path, out, "--title", "{name} {vip}", "--body", "B", "--no-progress")
    result.assert_clean()
    assert result.code == 0, result.err
    assert titles(served, "12345", "c3") == ["张伟 true", "Bob false"]
    assert sorted(line["line"] for line in read_results(out)) == [2, 4]
    missing = send(served, path, tmp_path / "o2.jsonl", *FLAGS, "--sheet", "Nope")
    assert missing.code == 2
    assert "no worksheet named 'Nope'; sheets found: '名单', 'Other'" in missing.err


def test_records_piped_on_stdin_are_sent_before_it_closes(served, out):
    """Records written to a pipe that stays open are sent as they arrive (single mode), then EOF ends it."""
    proc = subprocess.Popen(
        command("send", "-", "--format", "csv", "--out", out, *FLAGS, "--mode", "single"),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_environ(served.env),
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("cid,name\nc1,张伟\nc2,B\n".encode("gb18030"))
        proc.stdin.flush()
        wait_until(lambda: len(served.deliveries()) == 2)  # the pipe is still open: no EOF yet
        assert titles(served, "c1", "c2") == ["T", "T"]
        proc.stdin.close()
        assert proc.wait(timeout=SUBPROCESS_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert "<stdin>: input decoded as GB18030" in err
    assert sorted(line["line"] for line in read_results(out)) == [2, 3]
