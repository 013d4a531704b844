"""The send runner's pieces that need no network: repeated warnings, record and line counts."""

from __future__ import annotations

import logging

from getui_async.progress import ProgressBar
from getui_async.runner import RepeatFilter, count_records, count_result_lines


def record(msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("getui_async.engine", level, __file__, 1, msg, args, None)


def test_a_repeated_warning_passes_once_then_goes_to_the_progress_line():
    """The first warning of a kind is logged; its repeats are dropped and shown as the line's wait text."""
    bar = ProgressBar(total=10, enabled=True)
    repeats = RepeatFilter(bar)
    template = "cannot get a Getui token yet (%s); retrying in %.1f s"
    assert repeats.filter(record(template, "refused", 0.5))
    assert not repeats.filter(record(template, "refused", 1.5))
    texts = [f.text for f in bar.fields()]
    assert "waiting: cannot get a Getui token yet (refused); retrying in 1.5 s" in texts
    assert repeats.filter(record("another warning"))
    assert repeats.filter(record(template, "x", 1.0, level=logging.ERROR))


def test_counts_for_the_progress_line(tmp_path):
    """CSV records leave out the header; a results file's lines count with or without a final newline."""
    csv = tmp_path / "r.csv"
    csv.write_text("cid,name\na,1\nb,2\nc,3", encoding="utf-8")
    assert count_records(str(csv), None) == 3
    assert count_records("-", "csv") is None
    results = tmp_path / "o.jsonl"
    assert count_result_lines(results) == 0
    results.write_bytes(b'{"line":2}\n{"line":3}\n')
    assert count_result_lines(results) == 2
