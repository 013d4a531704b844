"""The mock's command line: flags derived from MockConfig, the loopback guard, and serving until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys

import aiohttp
import pytest

from getui_async.mock import DEMO_APP_KEY, DEMO_MASTER_SECRET, MockConfig
from getui_async.mock.cli import HELP, add_arguments, check_host, config_from_args, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (never bound: these tests check that binding it is refused)


@pytest.mark.parametrize("host", [ALL_INTERFACES, "192.168.1.10", "example.com"])
def test_run_refuses_a_non_loopback_host(host, capsys):
    """Binding a non-loopback address without --allow-remote exits 2 with a message, serving nothing."""
    assert run(parse("--host", host)) == 2
    out, err = capsys.readouterr()
    assert "--allow-remote" in err
    assert "GETUI_BASE_URL" not in out


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_pass_the_guard(host):
    """Loopback addresses need no flag and no warning."""
    assert check_host(host, allow_remote=False) is None


def test_allow_remote_warns():
    """--allow-remote lets a remote bind through, with a warning to print."""
    warning = check_host(ALL_INTERFACES, allow_remote=True)
    assert warning is not None
    assert ALL_INTERFACES in warning


def test_every_setting_has_a_documented_flag():
    """Each MockConfig field has help text and a flag, so the CLI cannot fall behind the config."""
    names = {f.name for f in dataclasses.fields(MockConfig)}
    assert set(HELP) == names
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {opt for action in parser._actions for opt in action.option_strings}
    singular = {"invalid_cids": "--invalid-cid", "aliases": "--alias"}
    assert {singular.get(n, "--" + n.replace("_", "-")) for n in names} <= flags


def test_defaults_give_the_default_config():
    """No flags at all describe MockConfig()."""
    assert config_from_args(parse()) == MockConfig()


def test_flags_build_the_config():
    """Typed flags, choices, repeatable --alias/--invalid-cid and optional numbers reach MockConfig."""
    args = parse(
        "--http-5xx-rate", "0.2", "--reset-phase", "before", "--alias", "al=c1,c2", "--invalid-cid", "bad",
        "--daily-quota", "5", "--host-change", "--list-chunk-limit", "200", "--revoke-tokens-every-s", "1.5",
    )  # fmt: skip
    config = config_from_args(args)
    assert (config.http_5xx_rate, config.reset_phase, config.daily_quota) == (0.2, "before", 5)
    assert (dict(config.aliases), config.invalid_cids) == ({"al": ("c1", "c2")}, frozenset({"bad"}))
    assert (config.host_change, config.list_chunk_limit, config.revoke_tokens_every_s) == (True, 200, 1.5)


def test_recall_and_receipt_flags_reach_the_config():
    """--receipts-url and --revoke-unmatched are settings like any other."""
    config = config_from_args(parse("--receipts-url", "http://127.0.0.1:9/", "--revoke-unmatched", "refuse"))
    assert (config.receipts_url, config.revoke_unmatched) == ("http://127.0.0.1:9/", "refuse")


@pytest.mark.parametrize(
    "argv", [("--http-5xx-rate", "2"), ("--alias", "no-equals-sign"), ("--hang-s", "-1")]
)
def test_bad_values_exit_2(argv, capsys):
    """An out-of-range value or a malformed --alias exits 2 with a message."""
    assert run(parse(*argv)) == 2
    assert "mock-server:" in capsys.readouterr().err


def test_unknown_choice_is_an_argparse_error(capsys):
    """A policy outside its choices is refused by argparse itself."""
    with pytest.raises(SystemExit):
        parse("--duplicate-reply", "ignore")


@pytest.mark.integration
async def test_python_m_serves_until_sigterm():
    """`python -m getui_async.mock` prints an export of GETUI_BASE_URL first, serves, exits 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "getui_async.mock", "--port", "0", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        name, _, base_url = first.partition("=")
        assert name == "export GETUI_BASE_URL"
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v2")
        root = base_url.removesuffix("/v2")
        async with aiohttp.ClientSession() as session, session.get(f"{root}/_mock/faults") as resp:
            assert (await resp.json(content_type=None))["data"]["seed"] == 3
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0
        assert b"export GETUI_APP_ID=demo-app\n" in rest
        assert f"export GETUI_APP_KEY={DEMO_APP_KEY}\n".encode() in rest
        assert f"export GETUI_MASTER_SECRET={DEMO_MASTER_SECRET}\n".encode() in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
