"""The README's library example runs as written, against the bundled mock, and every row it sends is
accepted (none of its own rows is rejected)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_harness import SUBPROCESS_TIMEOUT_S, ThreadedMock, clean_environ
from tests.results_file import read_results

README = Path(__file__).resolve().parent.parent / "README.md"


def library_example() -> str:
    """The python block under '## As a library'."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## As a library", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under '## As a library'"
    return match.group(1)


@pytest.mark.integration
def test_the_readme_library_example_runs_as_written(tmp_path):
    """The example runs to its end with the env vars set, and none of its records is rejected."""
    (tmp_path / "recipients.csv").write_text(
        "cid,name,order\n" + "".join(f"{i:032x},User {i},A-{i}\n" for i in range(5)), encoding="utf-8"
    )
    (tmp_path / "example.py").write_text(library_example(), encoding="utf-8")
    with ThreadedMock() as served:
        done = subprocess.run(
            [sys.executable, "example.py"],
            cwd=tmp_path,
            env=clean_environ(served.env),
            capture_output=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    for name in ("results.jsonl", "db-results.jsonl"):
        lines = read_results(tmp_path / name)
        assert lines, name
        bad = [line for line in lines if line["status"] in ("rejected", "failed")]
        assert not bad, (name, bad)
