"""The pre-flight check: counts, dead cids and quota against the bundled mock (getui_async.check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.check import CheckReport, check_input
from getui_async.config import Credentials, RetrySettings, Settings
from getui_async.errors import InputError
from getui_async.messages import MessageTemplate
from getui_async.mock import MockGetui

from .cli_harness import ThreadedMock, run_cli
from .conftest import MakeMock


def mock_settings(mock: MockGetui) -> Settings:
    """Settings that point at ``mock`` (127.0.0.1), with zero retry waits."""
    credentials = Credentials(app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret)
    return Settings(credentials=credentials, base_url=mock.base_url, retry=RetrySettings(zero_waits=True))


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("cid,alias,name\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """7 records: 4 distinct cids (2 of them invalid to the mock), 1 repeat, 1 alias, 1 bad record."""
    return write_csv(
        tmp_path / "in.csv",
        ["c-1,,A", "invalid-1,,B", "c-2,,C", "c-1,,A again", ",ali_1,D", "c-3,ali_2,both", "invalid-2,,E"],
    )


async def test_check_counts_and_dead_cids(make_mock: MakeMock, mixed: Path, tmp_path: Path) -> None:
    """Records, distinct recipients, duplicates, bad records and the mock's invalid cids are reported."""
    mock = await make_mock(daily_quota=100)
    dead = tmp_path / "dead.txt"
    report = await check_input(mixed, settings=mock_settings(mock), dead_cids=dead)
    assert (report.records, report.bad_records, report.duplicates) == (7, 1, 1)
    assert (report.recipients, report.cids, report.aliases) == (5, 4, 1)
    assert report.dead_cids == 2
    assert sorted(dead.read_text(encoding="utf-8").split()) == ["invalid-1", "invalid-2"]
    assert report.cost == 3
    assert report.checked_with_getui
    assert "in.csv:7" in report.bad_examples[0]


async def test_check_reads_the_remaining_quota(make_mock: MakeMock, mixed: Path) -> None:
    """The remaining daily quota comes from report/push/count; a cost above it is flagged."""
    mock = await make_mock(daily_quota=2)
    report = await check_input(mixed, settings=mock_settings(mock))
    assert report.remaining == 2
    assert report.over_quota
    assert "OVER QUOTA" in report.to_text()
    unlimited = await check_input(mixed, settings=mock_settings(await make_mock()))
    assert unlimited.remaining == -1
    assert not unlimited.over_quota


async def test_check_batches_user_detail_by_1000(make_mock: MakeMock, tmp_path: Path) -> None:
    """2,500 cids take three user/detail calls (≤1000 each) and one quota read."""
    mock = await make_mock()
    path = write_csv(tmp_path / "big.csv", [f"c-{i},," for i in range(2500)])
    report = await check_input(path, settings=mock_settings(mock), rate_per_s=1000)
    assert report.recipients == 2500
    requests = mock.stats().requests
    assert sum(n for route, n in requests.items() if "/user/detail/" in route) == 3
    assert sum(n for route, n in requests.items() if "/report/push/count" in route) == 1


async def test_check_without_credentials_only_counts(mixed: Path, tmp_path: Path) -> None:
    """With no settings the input is still counted; nothing is asked and no dead-cid file is written."""
    dead = tmp_path / "dead.txt"
    report = await check_input(mixed, settings=None, dead_cids=dead)
    assert (report.records, report.recipients, report.dead_cids) == (7, 5, 0)
    assert not report.checked_with_getui
    assert report.remaining is None
    assert not dead.exists()


async def test_check_lists_the_message_warnings(mixed: Path) -> None:
    """The message's vendor warnings are part of the report, in text and JSON."""
    template = MessageTemplate.from_dict(
        {"push_message": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}}}
    )
    report = await check_input(mixed, settings=None, template=template)
    codes = [w["code"] for w in report.to_dict()["warnings"]]
    assert codes == ["xm_channel_missing", "no_vendor_notification", "no_ios"]
    assert "warning [no_ios]" in report.to_text()


async def test_check_refuses_an_input_send_would_refuse(tmp_path: Path) -> None:
    """A missing file is the same InputError send gives, and no dead-cid file appears."""
    dead = tmp_path / "dead.txt"
    with pytest.raises(InputError, match="no such file"):
        await check_input(tmp_path / "missing.csv", settings=None, dead_cids=dead)
    assert not dead.exists()


def test_report_json_is_plain_data() -> None:
    """to_dict gives JSON types only (for --json)."""
    report = CheckReport(
        input="x.csv",
        records=1,
        recipients=1,
        cids=1,
        aliases=0,
        duplicates=0,
        bad_records=0,
        dead_cids=0,
        cost=1,
        quota_key="gt.app",
        remaining=None,
        checked_with_getui=False,
    )
    data: dict[str, Any] = _json.loads(_json.dumps(report.to_dict()))
    assert data["cost"] == 1
    assert data["over_quota"] is False


def test_check_command_prints_json_and_writes_dead_cids(
    served: ThreadedMock, mixed: Path, tmp_path: Path
) -> None:
    """`getui-push check INPUT --json --dead-cids FILE` exits 0 with the counts and the dead cids."""
    dead = tmp_path / "dead.txt"
    result = run_cli("check", mixed, "--json", "--dead-cids", dead, "--rate", "50", env=served.env)
    assert result.code == 0, result.err
    data = _json.loads(result.out)
    assert (data["records"], data["recipients"], data["dead_cids"], data["duplicates"]) == (7, 5, 2, 1)
    assert [w["code"] for w in data["warnings"]] == ["xm_channel_missing"]
    assert sorted(dead.read_text(encoding="utf-8").split()) == ["invalid-1", "invalid-2"]
    assert not [route for route in served.stats().requests if route.startswith("POST /push/")]


def test_check_command_takes_xm_channel_from_the_environment(served: ThreadedMock, mixed: Path) -> None:
    """GETUI_XM_CHANNEL_ID silences the missing-channel warning; the text report names the audience."""
    result = run_cli("check", mixed, env={**served.env, "GETUI_XM_CHANNEL_ID": "mi-1"})
    assert result.code == 0, result.err
    assert "audience: 5 distinct recipients" in result.out
    assert "warnings: none" in result.out


def test_check_command_input_error_is_exit_2(served: ThreadedMock, tmp_path: Path) -> None:
    """A missing input is exit 2 naming the file, and nothing is written."""
    dead = tmp_path / "dead.txt"
    result = run_cli("check", tmp_path / "nope.csv", "--dead-cids", dead, env=served.env)
    assert result.code == 2
    assert "nope.csv" in result.err
    assert not dead.exists()


async def test_check_asks_user_detail_for_a_thousand_real_length_cids(
    make_mock: MakeMock, tmp_path: Path
) -> None:
    """1,000 cids of 32 characters make a ~33 KB user/detail path: the mock takes it, and names the dead."""
    rows = [f"{i:032x},,N" for i in range(1, 998)] + [f"invalid-{i:024x},,N" for i in range(3)]
    report = await check_input(
        write_csv(tmp_path / "big.csv", rows), settings=mock_settings(await make_mock())
    )
    assert (report.cids, report.dead_cids) == (1000, 3)
