"""The experiment's flags: usage errors name the flag (exit 2), dry runs and check show each variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_harness import clean_environ, run_cli
from tests.results_file import read_results


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A small CSV (one repeated cid) and a JSON variant whose title uses a column."""
    path = tmp_path / "in.csv"
    rows = ["cid,name", *(f"{i:032x},user{i}" for i in range(1, 201)), f"{1:032x},again"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    message = tmp_path / "b.json"
    note = {"title": "Hello {name}", "body": "B", "click_type": "startapp"}
    message.write_text(json.dumps({"push_message": {"notification": note}}), encoding="utf-8")
    return path, message


def _send(tmp_path: Path, *argv: str | Path) -> tuple[int | str | None, str, Path]:
    out = tmp_path / "r.jsonl"
    result = run_cli("send", *argv, "--out", out, "--no-progress", env=clean_environ())
    return result.code, result.err + result.out, out


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (("--weights", "50,30,20"), "--weights"),
        (("--weights", "a,b"), "--weights"),
        (("--holdout", "60"), "--holdout"),
        (("--title", "x", "--body", "y"), "--title"),
        (("--variant", "A=Other|text"), "must differ"),
    ],
)
def test_a_bad_experiment_is_a_usage_error(
    tmp_path: Path, inputs: tuple[Path, Path], extra: tuple[str, ...], flag: str
) -> None:
    """Exit 2 naming the flag, before anything is written."""
    path, message = inputs
    code, text, out = _send(
        tmp_path, path, "--dry-run", "--variant", "A=Hi|there", "--variant", f"B={message}", *extra
    )
    assert code == 2
    assert flag in text
    assert not out.exists()


def test_experiment_flags_need_variants(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    """--weights/--holdout/--experiment without --variant is a usage error."""
    code, text, _ = _send(tmp_path, inputs[0], "--dry-run", "--title", "t", "--body", "b", "--holdout", "5")
    assert code == 2
    assert "--holdout needs --variant" in text


def test_a_placeholder_missing_from_the_input_is_refused(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    """Each variant's placeholders are checked against the input's columns, like the main template's."""
    path, _ = inputs
    code, text, _ = _send(tmp_path, path, "--dry-run", "--variant", "A=Hi {nmae}|x", "--variant", "B=Hi|y")
    assert code == 2
    assert "nmae" in text


def test_dry_run_lines_name_their_variant_and_show_prints_shares(
    tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    """--dry-run --show: the shares, each record's variant and message; every line names its variant."""
    path, message = inputs
    code, text, out = _send(
        tmp_path,
        path,
        "--dry-run",
        "--show",
        "3",
        "--variant",
        "A=Hi|there",
        "--variant",
        f"B={message}",
        "--weights",
        "3,1",
        "--holdout",
        "20",
    )
    assert code == 0, text
    assert "holdout       20.00%" in text
    assert "A             60.00%" in text
    assert "variant " in text
    lines = read_results(out)
    assert all(line["variant"] in {"A", "B", "holdout"} for line in lines)
    held = [line for line in lines if line["variant"] == "holdout" and line["status"] != "duplicate"]
    assert held
    assert {line["status"] for line in held} == {"held_out"}
    assert {line["status"] for line in lines if line["variant"] != "holdout"} <= {"validated", "duplicate"}
    first = next(line for line in lines if line["record"] == 1)
    again = next(line for line in lines if line["record"] == 201)
    assert again["status"] == "duplicate"
    assert again["variant"] == first["variant"]


def test_check_shows_each_variant_rendered(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    """check --variant: each variant's share and its message rendered for the first record."""
    path, message = inputs
    result = run_cli(
        "check", path, "--variant", "A=Hi|there", "--variant", f"B={message}", "--holdout", "10",
        env=clean_environ(),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "variant A: 45.00% of recipients" in result.out
    assert "Hello user1 | B" in result.out
    assert "variant holdout: 10.00%" in result.out


def test_the_same_experiment_derives_the_same_campaign(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    """The campaign id with variants derives from every variant: equal flags, equal id; a change, another."""
    path, message = inputs

    def campaign(*flags: str) -> str:
        code, text, out = _send(tmp_path, path, "--dry-run", *flags)
        assert code == 0, text
        out.unlink()
        return str(read_meta_campaign(text))

    base = ("--variant", "A=Hi|there", "--variant", f"B={message}")
    assert campaign(*base) == campaign(*base)
    assert campaign(*base) != campaign("--variant", "A=Hi|there", "--variant", "B=Other|text")


def read_meta_campaign(text: str) -> str:
    """The campaign id the send printed (``campaign ID -> RESULTS``)."""
    for line in text.splitlines():
        if "campaign " in line and "->" in line:
            return line.split("campaign ", 1)[1].split(" ", 1)[0]
    raise AssertionError(text)


def test_a_resume_against_another_experiment_is_refused(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    """Other weights are another experiment: --resume refuses, so no recipient changes variant midway."""
    path, message = inputs
    flags = ("--dry-run", "--campaign", "c1", "--variant", "A=Hi|there", "--variant", f"B={message}")
    code, text, _ = _send(tmp_path, path, *flags)
    assert code == 0, text
    code, text, _ = _send(tmp_path, path, *flags, "--weights", "1,3", "--resume")
    assert code == 2
    assert "cannot resume" in text
