"""The benchmark runs end to end (``bench/bench.py --quick``) and its report logic judges targets right.

The smoke test asserts that the benchmark ran and wrote its files, never a speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402 - bench/ is a directory of scripts, not a package
import stages  # noqa: E402
from large import parse_sizes, timeout_s  # noqa: E402


def _no_matplotlib(tmp_path: Path) -> Path:
    """A directory that, first on PYTHONPATH, makes ``import matplotlib`` fail as if not installed."""
    shim = tmp_path / "shim" / "matplotlib"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('hidden by the smoke test')\n")
    return shim.parent


@pytest.mark.slow
def test_quick_run_writes_table_and_json_and_skips_the_chart_without_matplotlib(tmp_path: Path) -> None:
    """``--quick`` finishes, writes a markdown table and a JSON file that parse, and notes the skipped PNG."""
    out = tmp_path / "results"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(_no_matplotlib(tmp_path))}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (markdown,) = out.glob("quick-*.md")
    (data,) = out.glob("quick-*.json")
    assert not list(out.glob("*.png"))
    results = json.loads(data.read_text())
    assert results["cells"]
    assert results["memory"]
    assert results["targets"]
    assert [row["feature"] for row in results["features"]] == ["ledger", "exclude", "variants", "metrics"]
    assert all(row["median"]["ok_repeats"] == row["median"]["repeats"] for row in results["features"])
    assert results["large"] == []
    medians = [cell["median"] for cell in results["cells"].values()]
    assert all(median["ok_repeats"] == median["repeats"] for median in medians)
    text = markdown.read_text()
    assert "| engine |" in text
    assert "## Feature cells" in text
    assert "matplotlib is not installed" in text
    assert "engine/raw" in proc.stdout


def _median(recipients_per_s: float, **extra: Any) -> dict[str, Any]:
    return {"recipients_per_s": recipients_per_s, **extra}


def _results(engine_single: float, raw_single: float) -> dict[str, Any]:
    cells = {
        "engine/single/c64/0ms": {"median": _median(engine_single)},
        "raw/single/c64/0ms": {"median": _median(raw_single)},
    }
    return {"plan": {"latencies_ms": [0], "concurrencies": [64]}, "cells": cells, "memory": []}


def test_engine_to_raw_ratio_is_judged_against_the_single_mode_target() -> None:
    """0.80x the raw loop misses the 0.85x single-mode target; 0.90x meets it."""
    for engine, passed in ((800.0, False), (900.0, True)):
        results = _results(engine, 1000.0)
        (check,) = report.targets(results, report.comparisons(results))
        assert check["measured"] == pytest.approx(engine / 1000.0)
        assert check["passed"] is passed


def _row(mode: str, latency: int, engine: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": mode,
        "latency_ms": latency,
        "concurrency": 64,
        "engine": engine,
        "raw": raw,
        "vs_raw": 0.46,
    }


def test_client_cpu_ratio_rows_are_at_most_goals_and_leave_the_old_rows_as_they_printed() -> None:
    """The CPU-per-recipient rows are new "≤" rows; the engine / raw loop row prints exactly as before."""
    rows = [
        _row("list", 0, _median(100.0, cpu_us_per_recipient=9.0), _median(200.0, cpu_us_per_recipient=3.0)),
        _row("batch", 20, _median(100.0, cpu_us_per_recipient=7.0), _median(200.0, cpu_us_per_recipient=3.0)),
    ]
    results = {"cells": {}, "memory": [], "large": []}
    checks = {c["target"]: c for c in report.targets(results, rows)}
    cpu_list = checks["list c64 0 ms: client CPU per recipient, engine / raw loop"]
    cpu_batch = checks["batch c64 20 ms: client CPU per recipient, engine / raw loop"]
    assert (cpu_list["measured"], cpu_list["goal"], cpu_list["passed"]) == (3.0, 3.0, True)
    assert (cpu_batch["measured"], cpu_batch["goal"], cpu_batch["passed"]) == (
        pytest.approx(7 / 3),
        2.0,
        False,
    )
    printed = report.target_rows(list(checks.values()))
    assert "| list c64 0 ms: engine / raw loop | 0.46 x | ≥ 0.9 x | **miss** |" in printed
    assert "| list c64 0 ms: client CPU per recipient, engine / raw loop | 3.00 x | ≤ 3 x | pass |" in printed


def test_the_sign_comes_from_the_check_not_from_its_name() -> None:
    """A check named after RSS that is "at least" prints ≥; an "at most" one prints ≤."""
    checks = [
        {
            "target": "RSS headroom",
            "measured": 2.0,
            "goal": 1.0,
            "unit": "x",
            "at_most": False,
            "passed": True,
        },
        {"target": "CPU", "measured": 2.0, "goal": 1.0, "unit": "s", "at_most": True, "passed": False},
    ]
    assert report.target_rows(checks) == [
        "| RSS headroom | 2.00 x | ≥ 1 x | pass |",
        "| CPU | 2.00 s | ≤ 1 s | **miss** |",
    ]


def _large(mode: str, records: int, rss: float, cpu_s: float, ok: bool = True) -> dict[str, Any]:
    return {"mode": mode, "records": records, "peak_rss_mb": rss, "process_cpu_s": cpu_s, "ok": ok}


def test_large_cell_rows_are_labelled_by_the_sizes_that_ran() -> None:
    """CPU and peak RSS at the largest size, RSS growth from the smallest, per mode; failed: unmeasured."""
    large = [
        _large("list", 1_000_000, 60.0, 20.0),
        _large("batch", 1_000_000, 70.0, 30.0),
        _large("list", 10_000_000, 66.0, 230.0),
        _large("batch", 10_000_000, 0.0, 0.0, ok=False),
    ]
    checks = {c["target"]: c for c in report.targets({"cells": {}, "memory": [], "large": large}, [])}
    assert list(checks) == [
        "list 10,000,000 records: client CPU s",
        "peak RSS at 10,000,000 records (list)",
        "peak RSS 10,000,000 / 1,000,000 records (list)",
        "peak RSS at 10,000,000 records (batch)",
        "peak RSS 10,000,000 / 1,000,000 records (batch)",
    ]
    assert checks["list 10,000,000 records: client CPU s"]["goal"] == pytest.approx(240.0)
    assert checks["list 10,000,000 records: client CPU s"]["passed"] is True
    assert checks["peak RSS 10,000,000 / 1,000,000 records (list)"]["measured"] == pytest.approx(1.1)
    assert all(checks[name]["at_most"] for name in checks)
    assert checks["peak RSS at 10,000,000 records (batch)"]["passed"] is None
    assert checks["peak RSS 10,000,000 / 1,000,000 records (batch)"]["passed"] is None


def test_one_large_size_gives_no_growth_row() -> None:
    """With one size there is nothing to compare: CPU and peak RSS rows only."""
    large = [_large("list", 100_000, 60.0, 4.0)]
    checks = report.targets({"cells": {}, "memory": [], "large": large}, [])
    assert [c["target"] for c in checks] == [
        "list 100,000 records: client CPU s",
        "peak RSS at 100,000 records (list)",
    ]


def test_large_sizes_parse_and_timeouts_scale_with_the_records() -> None:
    """``--large 1000000,10_000_000`` lists sizes, ``0`` is off; a timeout is 200 µs a record + 120 s."""
    assert parse_sizes("1000000,10_000_000") == (1_000_000, 10_000_000)
    assert parse_sizes("0") == ()
    assert timeout_s(10_000_000) == pytest.approx(2120.0)


def test_profile_stacks_are_staged_by_their_innermost_known_frame() -> None:
    """Thread and process roots are no frames, helpers without a rule are transparent, a wait is idle."""
    raw = [
        "thread (1): MainThread;Runner.run (asyncio/runners.py:118);Settler.line (getui_async/settle.py:82);"
        "dumps_line (getui_async/_json.py:21) 7",
        "thread (2): getui-input x;Feed._run (getui_async/feed.py:180);"
        "TextSource._csv_items (getui_async/sources/text.py:90) 5",
        "thread (2): getui-input x;Feed._run (getui_async/feed.py:180);Condition.wait (threading.py:320) 3",
        'process 12:"python x (a:1)";thread (1): MainThread;DuplicateFilter.add (getui_async/dedupe.py:40) 2',
        "thread (1): MainThread 1",
    ]
    classify = stages.Classifier()
    staged = [(classify.stage(frames), count) for frames, count in stages.parse_raw(raw)]
    assert staged == [("result line", 7), ("parse", 5), (stages.IDLE, 3), ("dedupe", 2), (stages.OTHER, 1)]


def test_fsync_and_write_are_told_apart_by_the_source_line() -> None:
    """``os.fsync`` and ``os.write`` have no frame: the line the writer was executing names the stage."""
    source = (BENCH.parent / "getui_async" / "results" / "writer.py").read_text().splitlines()
    fsync_line = next(i for i, text in enumerate(source, 1) if "os.fsync(" in text)
    frame = f"ResultsWriter.flush (getui_async/results/writer.py:{fsync_line})"
    ((frames, _),) = stages.parse_raw([f"thread (1): MainThread;{frame} 1"])
    assert stages.Classifier().stage(frames) == "fsync"
    frames[-1] = stages.Frame("ResultsWriter.flush", "getui_async/results/writer.py", 1)
    assert stages.Classifier().stage(frames) == "write"
