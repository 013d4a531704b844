"""``check`` counts what ``send`` rejects, and warns about ids Excel has mangled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from getui_async.check import MANGLED_CODE, check_input
from getui_async.messages import MessageTemplate

from .cli_harness import run_cli
from .results_file import read_results

ROWS = [
    "0123456789abcdef0123456789abcdef,王一",
    "1123456789abcdef0123456789abcdef,",  # an empty 姓名 cell: send rejects it
    ",王三",  # no cid: a bad record for both
    "2123456789abcdef0123456789abcdef,王四",
    "3123456789abcdef0123456789abcdef,",
]


def write_input(path: Path, rows: list[str]) -> Path:
    path.write_text("cid,姓名\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_check_counts_an_empty_placeholder_cell_as_send_does(tmp_path: Path) -> None:
    """Two empty 姓名 cells are bad in check, as send rejects them; the reason is the renderer's."""
    path = write_input(tmp_path / "in.csv", ROWS)
    template = MessageTemplate.simple(title="你好 {姓名}", body="b")
    report = asyncio.run(check_input(path, settings=None, template=template))
    out = tmp_path / "out.jsonl"
    sent = run_cli("send", path, "--out", out, "--title", "你好 {姓名}", "--body", "b", "--dry-run")
    assert sent.code == 1, sent.err
    rejected = sum(1 for line in read_results(out) if line["status"] == "rejected")
    assert report.bad_records == rejected == 3
    assert report.recipients == 2
    assert any("姓名" in example for example in report.bad_examples)


async def test_check_warns_about_excel_mangled_ids(tmp_path: Path) -> None:
    """1.23457E+31, =A2 and #VALUE! as ids are named in a warning, with the line."""
    path = write_input(tmp_path / "in.csv", ["1.23457E+31,甲", "=A2,乙", "#VALUE!,丙", "0123456789abcdef,丁"])
    report = await check_input(path, settings=None)
    assert report.mangled_ids == 3
    warning = next(w for w in report.warnings if w["code"] == MANGLED_CODE)
    assert "1.23457E+31" in warning["message"]
    assert "in.csv:2" in warning["message"]
    assert f"warning [{MANGLED_CODE}]" in report.to_text()


def test_check_command_counts_the_rejections(tmp_path: Path) -> None:
    """`check --title/--body` through the CLI reports the records send would reject."""
    path = write_input(tmp_path / "in.csv", ROWS)
    result = run_cli("check", path, "--title", "你好 {姓名}", "--body", "b")
    assert result.code == 0, result.err
    assert "records: 5 (3 bad, 0 duplicates)" in result.out


def test_check_input_error_is_printed_alone(tmp_path: Path) -> None:
    """Without credentials, a missing input is one error line (the no-credentials notice comes only after)."""
    result = run_cli("check", tmp_path / "missing.csv")
    assert result.code == 2
    assert [line for line in result.err.splitlines() if line.strip()] == [
        line for line in result.err.splitlines() if "error:" in line
    ], result.err
