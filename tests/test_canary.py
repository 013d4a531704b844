"""``send --canary N``: the first N recipients go, the run stops (exit 3, ``stopped: canary``), and
``--resume`` sends the rest, each once. The mock's per-cid delivery counts are the truth."""

from __future__ import annotations

from pathlib import Path

from getui_async import _json
from tests.cli_harness import ThreadedMock, read_results, run_cli, write_recipients
from tests.results_file import read_meta

MESSAGE = ("--title", "Hi {name}", "--body", "Your offer", "--no-progress")


def _send(mock: ThreadedMock, tmp_path: Path, *flags: str) -> tuple[int | str | None, dict[str, object], str]:
    summary = tmp_path / f"summary{len(list(tmp_path.glob('summary*')))}.json"
    result = run_cli(
        "send", tmp_path / "in.csv", "--out", tmp_path / "r.jsonl", *MESSAGE, "--summary-json", summary,
        *flags, env=mock.env,
    )  # fmt: skip
    result.assert_clean()
    return result.code, _json.loads(summary.read_bytes()), result.err


def test_canary_then_resume_delivers_each_cid_once(tmp_path: Path) -> None:
    """2,000 records, --canary 100: exit 3, exactly 100 delivered and 100 lines; --resume: the other 1,900."""
    write_recipients(tmp_path / "in.csv", 2000)
    with ThreadedMock(seed=3) as mock:
        code, summary, err = _send(mock, tmp_path, "--canary", "100")
        assert code == 3
        assert summary["stopped"] == "canary"
        assert summary["canary"] == 100
        assert "seed devices" in err
        assert "--resume" in err
        first = dict(mock.deliveries())
        assert len(first) == 100
        assert set(first.values()) == {1}
        lines = read_results(tmp_path / "r.jsonl")
        assert len(lines) == 100
        assert {line["record"] for line in lines} == set(range(1, 101))
        runs = read_meta(tmp_path / "r.jsonl")["runs"]
        assert runs[-1]["canary"] == 100
        assert runs[-1]["stopped"] == "canary"

        code, summary, _ = _send(mock, tmp_path, "--resume")
        assert code == 0
        assert summary["stopped"] is None
        assert summary["canary"] is None
        after = dict(mock.deliveries())
        assert len(after) == 2000
        assert set(after.values()) == {1}
        assert len(read_results(tmp_path / "r.jsonl")) == 2000


def test_canary_counts_recipients_not_rejected_rows(tmp_path: Path) -> None:
    """Rejected and duplicate rows are not recipients: --canary 10 still sends 10 cids, list mode too."""
    rows = ["cid,name"]
    for i in range(60):
        rows.append(f"{i:032x},User {i}")
        if i % 3 == 0:
            rows.append(f"bad cid {i},Bad")  # rejected by the reader
            rows.append(f"{i:032x},Again")  # a duplicate
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with ThreadedMock(seed=3) as mock:
        code, summary, _ = _send(mock, tmp_path, "--canary", "10", "--mode", "list", "--title", "Hello")
        assert code == 3
        assert summary["stopped"] == "canary"
        assert len(mock.deliveries()) == 10
        code, summary, _ = _send(mock, tmp_path, "--resume", "--mode", "list", "--title", "Hello")
        assert len(mock.deliveries()) == 60
        assert set(mock.deliveries().values()) == {1}


def test_a_canary_as_large_as_the_input_just_finishes(tmp_path: Path) -> None:
    """Nothing is left to hold back: the run ends as usual (exit 0), still marked as a canary."""
    write_recipients(tmp_path / "in.csv", 30)
    with ThreadedMock(seed=3) as mock:
        code, summary, _ = _send(mock, tmp_path, "--canary", "100")
        assert code == 0
        assert summary["stopped"] is None
        assert summary["canary"] == 100
        assert len(mock.deliveries()) == 30


def test_bad_probe_flags_are_usage_errors(tmp_path: Path) -> None:
    """--canary 0 and --halt-dead-ratio 1.5 are refused before anything is read (exit 2)."""
    write_recipients(tmp_path / "in.csv", 3)
    with ThreadedMock(seed=3) as mock:
        for flags in (("--canary", "0"), ("--halt-dead-ratio", "1.5"), ("--halt-after", "x")):
            result = run_cli("send", tmp_path / "in.csv", "--out", tmp_path / "r.jsonl", *MESSAGE, *flags,
                             env=mock.env)  # fmt: skip
            assert result.code == 2, flags
        assert not mock.deliveries()
