"""``getui-push mock-server`` / ``python -m getui_async.mock``: serve the mock until SIGINT/SIGTERM.

The main CLI registers the subcommand with :func:`add_arguments` and :func:`run`; keep both stable.
There is one flag per :class:`MockConfig` setting, derived from the dataclass so they cannot drift.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import shlex
import signal
import sys
import typing
from collections.abc import Coroutine, Sequence
from typing import Any, Final

from .config import MockConfig, choices_of
from .server import MockGetui

__all__ = ["add_arguments", "check_host", "config_from_args", "export_lines", "main", "run"]

#: Help per setting; a setting missing here still gets a flag (a test checks that every one has help).
HELP: Final[dict[str, str]] = {
    "host": "address to bind (default 127.0.0.1; a non-loopback address needs --allow-remote)",
    "port": "port to bind (default 0: a free port, printed on start)",
    "app_id": "the app id served under /v2/{app_id}",
    "app_key": "the app key /auth expects (default: the demo value)",
    "master_secret": "the master secret /auth signs with (default: the demo value)",
    "seed": "seed of every random choice: per-cid statuses and faults",
    "token_lifetime_s": "lifetime of issued tokens",
    "auth_per_minute": "POST /auth calls per minute before 10003",
    "auth_max_skew_s": "largest accepted |now - timestamp| on /auth",
    "list_chunk_limit": "most cids (or aliases) per /push/list/* call",
    "list_task_ttl_s": "list task lifetime when settings.ttl is absent or <= 0",
    "duplicate_reply": "reply to a repeated request_id: code 0 with empty data, or 20001",
    "batch_invalid_item": "an invalid batch item fails the whole batch, or is left out",
    "list_invalid_cid": "an invalid cid in a list push is left out, or fails the call",
    "revoke_unmatched": "a revoke of a task the cid never got: accepted (counted) or 20001",
    "invalid_cid_prefix": "cids and aliases starting with this are invalid users",
    "invalid_cids": "an invalid cid (repeatable)",
    "aliases": "ALIAS=CID[,CID...]: what an alias maps to (repeatable); unknown aliases map to 'alias:ALIAS'",
    "online_ratio": "share of cids answered successed_online (by a seeded hash of the cid)",
    "ignore_ratio": "share of cids answered successed_ignore; the rest are successed_offline",
    "display_ratio": "share of received pushes the reports count as displayed (seeded per cid)",
    "click_ratio": "share of displayed pushes the reports count as clicked (seeded per cid)",
    "record_bodies": "accepted request bodies kept per endpoint for GET /_mock/requests (0: none)",
    "receipts_url": "POST signed receipt lines for what the mock delivers to this URL, as Getui's callbacks",
    "receipts_vendor_failed": "share of offline deliveries whose receipt is a vendor failure (cap, night)",
    "receipts_lost": "share of receipt lines never sent (Getui's receipts are lossy)",
    "receipts_bad_sign": "share of receipt lines sent with a wrong sign (a receiver must refuse them)",
    "latency_ms": "added latency per request",
    "latency_jitter_ms": "extra uniform random latency in [0, jitter]",
    "http_5xx_rate": "probability of a 500/502/503 non-JSON reply (request not processed)",
    "reset_rate": "probability of closing the connection without a reply",
    "reset_phase": "reset before processing, or after (delivered, reply lost)",
    "hang_rate": "probability of answering nothing for --hang-s, then closing",
    "hang_phase": "hang before processing, or after (delivered, reply lost)",
    "hang_s": "how long a hang lasts",
    "throttle_per_window": "requests per window before --throttle-code replies",
    "throttle_window_s": "the fixed throttle window, aligned to the wall clock",
    "throttle_code": "the code of a throttled reply (10005, 30015, ...)",
    "busy_rate": "probability of 403/30019 system busy (request not processed)",
    "revoke_tokens_every_s": "revoke every live token at each multiple of this period",
    "daily_quota": "recipients per day before quota refusals",
    "quota_reset_s": "when the quota day begins, in seconds after midnight Beijing time (default 0)",
    "quota_code": "the code once --daily-quota is used up (single and batch pushes)",
    "list_quota_code": "the code once --daily-quota is used up (list pushes)",
    "host_change": "answer 301 under /v2/ and serve the API under /alt/v2/",
    "faults_on_auth": "apply latency and faults to /auth too",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-remote`` and one ``--flag`` per :class:`MockConfig` setting (defaults from it)."""
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback address (it warns)"
    )
    hints = typing.get_type_hints(MockConfig)
    choices = choices_of(MockConfig)
    for f in dataclasses.fields(MockConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = HELP.get(f.name, f.name)
        hint = hints[f.name]
        if f.name == "invalid_cids":
            parser.add_argument("--invalid-cid", dest=f.name, action="append", default=[], help=help_text)
        elif f.name == "aliases":
            parser.add_argument("--alias", dest=f.name, action="append", default=[], help=help_text)
        elif hint is bool:
            parser.add_argument(flag, action="store_true", default=f.default, help=help_text)
        elif f.name in choices:
            parser.add_argument(flag, choices=choices[f.name], default=f.default, help=help_text)
        else:
            value_type = next(t for t in (int, float, str) if t in (hint, *typing.get_args(hint)))
            parser.add_argument(flag, type=value_type, default=f.default, help=help_text)


def _parse_alias(spec: str) -> tuple[str, list[str]]:
    alias, sep, cids = spec.partition("=")
    if not sep or not alias or not cids:
        raise ValueError(f"--alias {spec!r} is not ALIAS=CID[,CID...]")
    return alias, [cid for cid in cids.split(",") if cid]


def config_from_args(args: argparse.Namespace) -> MockConfig:
    """The :class:`MockConfig` the parsed flags describe; raises ``ValueError`` on a bad value."""
    values: dict[str, Any] = {f.name: getattr(args, f.name) for f in dataclasses.fields(MockConfig)}
    values["aliases"] = dict(_parse_alias(spec) for spec in values["aliases"])
    return MockConfig(**values)


def check_host(host: str, *, allow_remote: bool) -> str | None:
    """``None`` for a loopback host; a warning when a remote bind is allowed; ``ValueError`` otherwise."""
    if host.lower() == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    if not allow_remote:
        raise ValueError(
            f"refusing to bind {host}: the mock accepts demo credentials and is meant for 127.0.0.1; "
            "pass --allow-remote to expose it anyway"
        )
    return f"warning: the mock server is reachable from other machines on {host}"


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; print ``GETUI_BASE_URL=...`` first. Exit 2 on a bad setting."""
    try:
        config = config_from_args(args)
        warning = check_host(config.host, allow_remote=args.allow_remote)
    except ValueError as exc:
        print(f"getui-push mock-server: {exc}", file=sys.stderr)
        return 2
    if warning:
        print(warning, file=sys.stderr)
    _run_loop(_serve(config))
    return 0


async def _serve(config: MockConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with MockGetui(config) as mock:
        # A parent process reads these lines to find the server: print them at once and flush.
        print("\n".join(export_lines(mock)))
        print("# the credentials this mock accepts (demo values): paste these lines into your shell")
        if config.receipts_url:
            print(f"# receipts: POSTed to {config.receipts_url}")
        print(f"# control: {mock.url}/_mock/stats  (stop with Ctrl-C)", flush=True)
        await stop.wait()


def export_lines(mock: MockGetui) -> list[str]:
    """``export GETUI_...=...`` lines for the base URL and the credentials the mock accepts.

    They are the mock's demo values (or the ones given by flag), so printing them leaks nothing.
    """
    values = {
        "GETUI_BASE_URL": mock.base_url,
        "GETUI_APP_ID": mock.app_id,
        "GETUI_APP_KEY": mock.app_key,
        "GETUI_MASTER_SECRET": mock.master_secret,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def _run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (the mock must not be the benchmark's bottleneck)."""
    try:
        import uvloop  # noqa: PLC0415 (optional dependency)
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m getui_async.mock [flags]``."""
    parser = argparse.ArgumentParser(
        prog="python -m getui_async.mock", description="Serve the mock Getui REST v2 API."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
