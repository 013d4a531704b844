"""Mistakes at the command line get one error line that names the fix, and nothing before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import run_cli, run_process

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    path = tmp_path / "会员.csv"
    path.write_text("ClientID,姓名,城市\n" + "".join(f"{i:032x},王{i},上海\n" for i in range(3)), "utf-8")
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "results.jsonl"


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(("given", "missing"), [("--title", "--body"), ("--body", "--title")])
def test_title_without_body_is_its_own_error(recipients, out, given, missing):
    """--title alone (or --body alone) is exit 2 naming the missing flag, not a placeholder never typed."""
    result = run_cli("send", recipients, "--out", out, given, "Hi", "--dry-run")
    assert result.code == 2
    assert f"{given} needs {missing}" in result.err
    assert "placeholder" not in result.err
    assert len(error_lines(result.err)) == 1, result.err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("send", "IN", "--out", "o.jsonl", "--titel", "T"), "unknown flag --titel; did you mean --title?"),
        (("send", "IN", "--out", "o.jsonl", "--dry"), "unknown flag --dry; did you mean --dry-run?"),
        (("sned", "x"), "unknown command 'sned'; did you mean send?"),
        (
            ("send", "IN", "--out", "o", "--mode", "singel"),
            "--mode: unknown choice 'singel'; did you mean single?",
        ),
        (("report", "r.jsonl", "--jsno"), "unknown flag --jsno; did you mean --json?"),
    ],
)
def test_typos_get_one_line_with_the_closest_word(argv, said):
    """A typo in a flag, command or choice: exit 2, one line naming the closest word; no usage block."""
    result = run_cli(*argv)
    assert result.code == 2
    assert said in result.err
    assert "usage:" not in result.err
    assert len(error_lines(result.err)) == 1, result.err


def test_a_missing_out_is_one_line(recipients):
    """A missing --out is one error line, not 25 lines of usage first."""
    result = run_cli("send", recipients, *SIMPLE)
    assert result.code == 2
    assert error_lines(result.err) == ["getui-push send: error: the following arguments are required: --out"]


def test_a_cjk_placeholder_typo_names_the_column(recipients, out):
    """{姓明} for the column 姓名 says "did you mean {姓名}?"."""
    result = run_cli("send", recipients, "--out", out, "--title", "你好 {姓明}", "--body", "b", "--dry-run")
    assert result.code == 2
    assert "did you mean {姓名}?" in result.err


def test_a_config_typo_names_the_closest_key(recipients, out, tmp_path):
    """A typo'd config key names the closest key, not every key."""
    config = tmp_path / "c.toml"
    config.write_text("concurency = 8\n", encoding="utf-8")
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--config", config, "--dry-run")
    assert result.code == 2
    assert "unknown setting 'concurency'; did you mean concurrency?" in result.err
    assert "max_per_day" not in result.err


def test_send_help_fits_two_screens_and_help_all_has_everything():
    """`send --help` at 80 columns fits two 24-line screens; `--help-all` shows every flag."""
    short = run_process("send", "--help", env={"COLUMNS": "80"})
    full = run_process("send", "--help-all", env={"COLUMNS": "80"})
    assert short.code == 0
    assert full.code == 0
    lines = short.out.splitlines()
    assert len(lines) <= 48, short.out
    assert all(len(line) <= 80 for line in lines), short.out
    assert "--help-all" in short.out
    assert "--vendor-class" not in short.out
    for flag in ("--vendor-class", "--encoding", "--summary-json", "--max-per-day", "--no-progress"):
        assert flag in full.out


def test_delimiter_choices_are_readable_and_old_spellings_still_work(tmp_path, out):
    """--delimiter lists auto, comma, semicolon, tab, pipe; both 'semicolon' and ';' read a ;-file."""
    path = tmp_path / "r.csv"
    path.write_text("cid;name\n" + "".join(f"{i:032x};n{i}\n" for i in range(2)), encoding="utf-8")
    assert "{auto,comma,semicolon,tab,pipe}" in run_cli("send", "--help-all").out
    for spelling in ("semicolon", ";"):
        result = run_cli("send", path, "--out", out, *SIMPLE, "--delimiter", spelling, "--dry-run")
        assert result.code == 0, result.err
        out.unlink()
        out.with_name(out.name + ".meta.json").unlink(missing_ok=True)


def test_out_set_to_the_input_says_it_would_overwrite_it(recipients):
    """--out INPUT is exit 2 saying the results would overwrite the input (not advising --resume)."""
    result = run_cli("send", recipients, "--out", recipients, *SIMPLE, "--dry-run")
    assert result.code == 2
    assert "would overwrite the input" in result.err
    assert "--resume" not in result.err


def test_an_input_error_is_printed_alone(tmp_path, out):
    """A placeholder typo in a GB18030 file: only the error; no template warning, campaign line or notice."""
    path = tmp_path / "gbk.csv"
    path.write_bytes("cid,姓名\n0123456789abcdef0123456789abcdef,王一\n".encode("gb18030"))
    result = run_process("send", path, "--out", out, "--title", "你好 {姓明}", "--body", "b", "--dry-run")
    assert result.code == 2
    assert error_lines(result.err) == [line for line in error_lines(result.err) if "error:" in line], (
        result.err
    )
    assert len(error_lines(result.err)) == 1, result.err


def test_warnings_and_the_campaign_line_come_once_sending_begins(recipients, out):
    """A good send still says its template warnings and where its results go (after the checks)."""
    result = run_process(
        "send", recipients, "--out", out, "--title", "你好 {姓名}", "--body", "b", "--dry-run"
    )
    assert result.code == 0, result.err
    assert "[xm_channel_missing]" in result.err
    assert f"-> {out}" in result.err
