"""The command handlers' own refusals: each names the flag a person typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import ThreadedMock, run_cli, write_recipients

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


@pytest.mark.parametrize("extra", [(), ("--test",)])
def test_a_campaign_id_too_long_for_ios_names_the_flag(
    served: ThreadedMock, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """--campaign over 64 characters (it becomes the iOS apns-collapse-id) is refused naming --campaign."""
    data = write_recipients(tmp_path / "in.csv", 2)
    result = run_cli(
        "send", data, "--out", tmp_path / "r.jsonl", *SIMPLE, "--campaign", "c" * 65, *extra, env=served.env
    )
    assert result.code == 2, result.err
    assert "--campaign" in result.err
    assert "apns-collapse-id" not in result.err.split("--campaign")[0]
    assert not (tmp_path / "r.jsonl").exists()
