"""``report --html``: a self-contained page, rendered in a real headless Chromium and looked at."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from getui_async import _json
from getui_async.report.html import COLOURS
from tests.cli_harness import run_cli

PIL = pytest.importorskip("PIL.Image", reason="Pillow (a dev extra) reads the screenshot's pixels")

BROWSERS = ("chromium", "chromium-browser")
RENDER_TIMEOUT_S = 90
#: Pixels of a group's exact colour that mean its bar or area was drawn (a bar is ~20 px tall).
DRAWN_PX = 150


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of a headless-capable Chromium; the test skips, saying how to get one, without it.

    ``.ci/run`` installs it (``.ci/components``) and turns any skip into a failure, so CI always draws.
    """
    found = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if found is None:
        pytest.skip(
            "needs Debian's chromium: run `bash .ci/components` as root (or `apt-get install chromium`)"
        )
    return found


def _browse(chromium: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """One headless Chromium run over ``page`` (no sandbox: CI runs as root); bounded in time."""
    argv = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1100,1100",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)


def _campaign(path: Path) -> Path:
    """600 result lines over two minutes: mostly reached, some inactive, dead, retryable, rejected."""
    lines = []
    for record in range(1, 601):
        second = record // 5
        ts = f"2026-12-01T10:{second // 60:02d}:{second % 60:02d}.{record % 10}00Z"
        status, code, msg = "successed_online", 0, ""
        if record % 7 == 0:
            status, code, msg = "failed", None, "HTTP 502 from Getui"
        elif record % 11 == 0:
            status, code, msg = "failed", 20001, "target user is invalid"
        elif record % 13 == 0:
            status, code, msg = "rejected", None, "field 'cid': missing"
        elif record % 17 == 0:
            status = "successed_ignore"
        lines.append(
            {"record": record, "line": record + 1, "cid": f"c{record}", "status": status, "code": code,
             "msg": msg, "field": "cid" if status == "rejected" else None, "taskid": None, "attempts": 1,
             "ts": ts}
        )  # fmt: skip
    path.write_bytes(b"".join(_json.dumps_line(x) for x in lines))
    return path


@pytest.mark.timeout(2 * RENDER_TIMEOUT_S + 30)
def test_the_html_page_draws_its_charts_in_headless_chromium(chromium, tmp_path):
    """Chromium renders the page from disk: both charts are in the DOM and their colours on screen."""
    results = _campaign(tmp_path / "results.jsonl")
    page = tmp_path / "report.html"
    result = run_cli("report", results, "--html", page, env={})
    assert result.code == 0, result.err
    source = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=|url\(|<link|<script""", source), "the page must fetch nothing"

    dom = _browse(chromium, page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    text = dom.stdout.decode()
    bars = dict(re.findall(r'<rect class="bar" data-group="(\w+)"[^>]*width="([\d.]+)"', text))
    assert set(bars) == {"reached", "inactive", "dead", "retryable", "rejected"}
    assert float(bars["reached"]) > float(bars["retryable"]) > 0
    assert len(re.findall(r'<rect class="tl" data-group="reached"', text)) >= 20

    shot = tmp_path / "report.png"
    done = _browse(chromium, page, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    with PIL.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    counts = {f"#{r:02x}{g:02x}{b:02x}": n for n, (r, g, b) in colours}
    for group in ("reached", "retryable", "rejected", "inactive"):
        assert counts.get(COLOURS[group], 0) >= DRAWN_PX, f"{group} is not drawn"
