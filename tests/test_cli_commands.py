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


@pytest.mark.parametrize("command", ["send", "check"])
def test_server_text_in_an_error_is_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    """Control characters in a refusal's text (an /auth reply) are shown escaped, not run by a terminal."""
    from getui_async import cli
    from getui_async.errors import ApiError

    def refuse(*_: object) -> int:
        raise ApiError("\x1b[2J\x1b[31mPWNED\x1b]0;owned-title\x07\x9b", code=10001)

    async def refuse_send(*_: object) -> int:
        return refuse()

    monkeypatch.setattr(cli.commands, "send_main", refuse_send)
    monkeypatch.setattr(cli.commands, "check", refuse)
    data = write_recipients(tmp_path / "in.csv", 1)
    argv = [command, str(data)] + (["--out", str(tmp_path / "r.jsonl"), *SIMPLE] if command == "send" else [])
    env = {"GETUI_APP_ID": "app", "GETUI_APP_KEY": "key", "GETUI_MASTER_SECRET": "secret"}
    code = cli.main(argv, environ=env)
    err = capsys.readouterr().err
    assert code == 2
    assert "PWNED" in err
    assert not any(ch in err for ch in "\x1b\x07\x9b")
    assert "\\x1b[2J" in err
