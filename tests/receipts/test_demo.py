"""``getui-push demo`` ends with the receipts funnel: the mock's callbacks, served and joined in-process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.cli_harness import SUBPROCESS_TIMEOUT_S, clean_environ

QUIET = ("--no-progress",)
FAILURE_ROW = re.compile(r"^getui-push demo:\s+([\d,]+)  \w+$", re.MULTILINE)


def test_demo_shows_the_receipts_funnel(tmp_path: Path) -> None:
    """Every accepted recipient has receipts (the demo loses none); arrivals plus vendor failures add up."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "getui_async",
            "demo",
            "--records",
            "1300",
            "--dir",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        env=clean_environ(),
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err  # the sample's failed and rejected records, on purpose
    assert "MISMATCH" not in err
    assert "(0 dropped)" in err
    found = re.search(r"receipts for 100\.0% of the recipients Getui accepted \(([\d,]+) of ([\d,]+)\)", err)
    assert found, err
    accepted = int(found.group(2).replace(",", ""))
    arrived = int(re.findall(r"arrived\s+([\d,]+)", err)[-1].replace(",", ""))
    failures = sum(
        int(n.replace(",", "")) for n in re.findall(r"^getui-push demo:\s+([\d,]+)  \w+$", err, re.M)
    )
    assert arrived + failures == accepted
    assert err.rstrip().splitlines()[-1].startswith("getui-push demo: ")
