"""The pacing flags and config keys of ``send`` (#14): spelled as the issue does, checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from getui_async.cli import UsageError, build_parser, load_config, resolve_options
from getui_async.config import CampaignSettings
from getui_async.errors import ConfigError
from getui_async.schedule import ScheduleError


def options(argv: list[str], config: dict[str, object] | None = None) -> CampaignSettings:
    args = build_parser().parse_args(["send", "in.csv", "--out", "r.jsonl", *argv])
    return resolve_options(args, config or {})


def test_every_flag_reaches_the_campaign_settings(tmp_path: Path) -> None:
    """--window --tz --no-wait --wait-quota --quota-reset --deadline --exclude --ledger --max-per-day."""
    listed = tmp_path / "a.txt"
    listed.write_text("x\n", encoding="utf-8")
    pace = options([
        "--window", "21:00-09:00", "--tz", "UTC", "--no-wait", "--wait-quota", "--quota-reset", "00:05:30",
        "--deadline", "2026-12-02T18:00", "--exclude", str(listed), "--exclude", str(listed),
        "--ledger", str(tmp_path / "l.sqlite"), "--max-per-day", "2",
    ]).pace  # fmt: skip
    assert (pace.window, pace.tz, pace.no_wait, pace.wait_quota) == ("21:00-09:00", "UTC", True, True)
    assert (pace.quota_reset, pace.deadline) == ("00:05:30", "2026-12-02T18:00")
    assert pace.exclude == (str(listed), str(listed))
    assert (pace.ledger, pace.max_per_day) == (str(tmp_path / "l.sqlite"), 2)


def test_config_keys_fill_in_and_flags_win(tmp_path: Path) -> None:
    """The same settings from the config file; a flag overrides its key."""
    listed = tmp_path / "a.txt"
    listed.write_text("x\n", encoding="utf-8")
    config_file = tmp_path / "getui-push.toml"
    config_file.write_text(
        f'window = "09:00-21:00"\ntz = "UTC"\nwait_quota = true\nexclude = ["{listed}"]\n'
        f'ledger = "{tmp_path / "l.sqlite"}"\nmax_per_day = 1\n',
        encoding="utf-8",
    )
    config = load_config(str(config_file))
    pace = options(["--window", "10:00-11:00"], config).pace
    assert (pace.window, pace.tz, pace.wait_quota, pace.max_per_day) == ("10:00-11:00", "UTC", True, 1)
    assert pace.exclude == (str(listed),)


def test_a_wrongly_typed_config_key_is_refused_by_name(tmp_path: Path) -> None:
    """``exclude`` must be an array, ``max_per_day`` an integer."""
    config_file = tmp_path / "c.toml"
    config_file.write_text('max_per_day = "2"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="max_per_day"):
        load_config(str(config_file))


@pytest.mark.parametrize(
    ("argv", "error", "said"),
    [
        (["--window", "0900-2100"], ScheduleError, "--window '0900-2100'"),
        (["--window", "09:00-09:00"], ScheduleError, "empty"),
        (["--tz", "Nowhere/City"], ScheduleError, "--tz 'Nowhere/City'"),
        (["--quota-reset", "7am"], ScheduleError, "--quota-reset '7am'"),
        (["--deadline", "2026-13-01"], ScheduleError, "--deadline '2026-13-01'"),
        (["--max-per-day", "1"], UsageError, "--max-per-day 1: needs --ledger"),
        (["--exclude", "/no/such/list.txt"], UsageError, "--exclude /no/such/list.txt"),
    ],
)
def test_bad_values_are_usage_errors_naming_flag_and_value(
    argv: list[str], error: type[Exception], said: str
) -> None:
    """Each bad value is refused before anything runs, with the flag and the value in the message."""
    with pytest.raises(error) as caught:
        options(argv)
    assert said in str(caught.value)
