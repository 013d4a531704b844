"""The one way tests read a results file and its sidecar: through the package's own reader, so a test
sees exactly what resume, report and the ledger see (whole lines; a torn tail or a non-object fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from getui_async.results import ResultsReader, RunMeta
from getui_async.results.sidecar import read_meta as _read_meta

#: The run identity of a results file a unit test opens itself (campaign, template hash, input).
META = RunMeta("camp-1", "f" * 64, {"format": "csv", "size": 100, "head_sha256": "a" * 64})


def read_results(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file, decoded, in file order ([] when there is no file); fails on a half
    line (one without its newline) or a line that is not a JSON object."""
    reader = ResultsReader(path)
    lines: list[dict[str, Any]] = []
    try:
        for number, line in reader.decoded():
            assert line is not None, f"{path}:{number}: not a JSON object"
            lines.append(line)
    except FileNotFoundError:
        return []
    assert not reader.torn, f"{path} ends with half a line ({reader.torn} bytes)"
    return lines


def read_meta(path: Path) -> dict[str, Any]:
    """The sidecar of results file ``path``; fails when it is missing or unreadable."""
    meta = _read_meta(path)
    assert meta is not None, f"{path} has no readable sidecar"
    return meta
