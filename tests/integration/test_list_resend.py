"""List re-sends are never blind: a list chunk whose reply was lost is not sent again by the run, by
``--resume`` or by ``--retry-failed`` (list pushes carry no request_id for Getui to drop a repeat by);
only ``--retry-unconfirmed`` does, knowing it may deliver twice. The mock's delivery counts are the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_harness import ThreadedMock, read_results, run_cli

pytestmark = [pytest.mark.integration]

GOOD = 160
#: Identical content for everyone: ``--mode auto`` sends it as a list task.
LIST_SEND = (
    "--mode",
    "auto",
    "--list-chunk",
    "8",
    "--title",
    "Hello",
    "--body",
    "Your offer",
    "--no-progress",
)


@pytest.fixture
def resetting() -> Iterator[ThreadedMock]:
    """The mock resetting 30% of connections after it processed (delivered) the request (seeded)."""
    with ThreadedMock(reset_rate=0.3, reset_phase="after", seed=20) as mock:
        yield mock


def recipients(path: Path) -> Path:
    path.write_text("cid\n" + "".join(f"{i:032x}\n" for i in range(GOOD)), encoding="utf-8")
    return path


def last_wins(lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {line["record"]: line for line in lines}


def test_lost_list_replies_are_unconfirmed_and_never_sent_again(
    resetting: ThreadedMock, tmp_path: Path
) -> None:
    """Resets after delivery, --max-attempts 1, then --resume --retry-failed: no cid delivered twice."""
    source = recipients(tmp_path / "in.csv")
    out = tmp_path / "results.jsonl"
    first = run_cli("send", source, "--out", out, "--max-attempts", "1", *LIST_SEND, env=resetting.env)
    first.assert_clean()
    assert first.code == 1, first.err
    final1 = last_wins(read_results(out))
    unconfirmed = {r: x for r, x in final1.items() if x.get("unconfirmed")}
    assert unconfirmed, "the resets should have lost some list replies"
    for line in unconfirmed.values():
        assert line["status"] == "failed"
        assert line["retryable"] is False
        assert "may have reached Getui" in line["msg"]
        assert "--retry-unconfirmed" in line["msg"]
    assert all(n <= 1 for n in resetting.deliveries().values())

    resetting.call(resetting.mock.configure, reset_rate=0.0)
    second = run_cli(
        "send", source, "--out", out, "--max-attempts", "1", "--resume", "--retry-failed", *LIST_SEND,
        env=resetting.env,
    )  # fmt: skip
    second.assert_clean()
    deliveries = resetting.deliveries()
    assert {cid: n for cid, n in deliveries.items() if n > 1} == {}
    final2 = last_wins(read_results(out))
    for record in unconfirmed:
        assert final2[record] == final1[record], "an unconfirmed list recipient was sent again"

    # --retry-unconfirmed sends them again on purpose (and says it may deliver twice).
    third = run_cli(
        "send", source, "--out", out, "--resume", "--retry-failed", "--retry-unconfirmed", *LIST_SEND,
        env=resetting.env,
    )  # fmt: skip
    third.assert_clean()
    assert third.code == 0, third.err
    final3 = last_wins(read_results(out))
    assert all(final3[r]["status"] != "failed" for r in unconfirmed)
    assert set(resetting.deliveries()) == {f"{i:032x}" for i in range(GOOD)}
    # A plain resume afterwards accepts the file (a line superseding an unconfirmed one is valid).
    fourth = run_cli("send", source, "--out", out, "--resume", *LIST_SEND, env=resetting.env)
    assert fourth.code == 0, fourth.err


def test_retry_unconfirmed_needs_retry_failed(tmp_path: Path) -> None:
    """--retry-unconfirmed alone is a usage error (exit 2) naming --retry-failed."""
    source = recipients(tmp_path / "in.csv")
    result = run_cli("send", source, "--out", tmp_path / "r.jsonl", "--resume", "--retry-unconfirmed",
                     "--dry-run", *LIST_SEND, env={})  # fmt: skip
    assert result.code == 2
    assert "--retry-unconfirmed needs --retry-failed" in result.err
