"""Security properties: secrets never leave the process in clear, TLS is always verified, results files
are private, and the mock never listens beyond loopback unless told to.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import ssl
import subprocess
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from getui_async.cli import SendJob
from getui_async.client import GetuiClient
from getui_async.config import (
    ENV_BASE_URL,
    ENV_MASTER_SECRET,
    CampaignSettings,
    Credentials,
    RetrySettings,
    Secret,
    Settings,
    check_base_url,
)
from getui_async.errors import ConfigError, FatalApiError, GetuiError
from getui_async.messages import MessageTemplate
from getui_async.mock import MockConfig, MockGetui
from getui_async.results import meta_path
from getui_async.transport import AiohttpTransport
from tests.cli_harness import (
    SUBPROCESS_TIMEOUT_S,
    ThreadedMock,
    clean_environ,
    closed_port_url,
    command,
    run_cli,
    write_recipients,
)
from tests.results_file import read_results

APP_KEY = "AK-5f0c1e9a7b3d4c2e8f6a"
MASTER_SECRET = "MS-9d8c7b6a5f4e3d2c1b0a"


class RecordingMock(MockGetui):
    """The mock, remembering every token it hands out so a test can look for them in our output."""

    def __init__(self, config: MockConfig) -> None:
        super().__init__(config)
        self.issued: list[str] = []

    def _auth(self, call: Any) -> Any:
        reply = super()._auth(call)
        self.issued.append(reply[2]["token"])
        return reply


@pytest.fixture
def secret_mock() -> Iterator[ThreadedMock]:
    """A mock with distinctive credentials, some 5xx and busy replies, and tokens revoked every 200 ms."""
    config = MockConfig(
        app_key=APP_KEY,
        master_secret=MASTER_SECRET,
        http_5xx_rate=0.05,
        busy_rate=0.05,
        revoke_tokens_every_s=0.2,
        latency_ms=2.0,
        seed=3,
    )
    with ThreadedMock(RecordingMock(config)) as served:
        yield served


def assert_no_secret(text: str | bytes, secrets: list[str], where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in secrets:
        assert secret.encode() not in data, f"a secret leaked into {where}"


# -- secrets in output ------------------------------------------------------------------------------------


def test_debug_campaign_output_holds_no_secret(secret_mock, tmp_path):
    """A whole debug-logged campaign with retries and token refreshes leaks no key, secret or token."""
    path = write_recipients(tmp_path / "r.csv", 300)
    out, summary = tmp_path / "results.jsonl", tmp_path / "summary.json"
    argv = ("send", path, "--out", out, "--title", "Hi {name}", "--body", "b", "--mode", "single")
    done = subprocess.run(
        command(*argv, "--log-level", "debug", "--summary-json", summary, "--no-progress"),
        capture_output=True,
        env=clean_environ(secret_mock.env),
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    tokens = secret_mock.call(lambda: list(secret_mock.mock.issued))
    assert done.returncode in (0, 1), done.stderr.decode()
    assert len(tokens) >= 2, "the run should have refreshed its token at least once"
    assert "DEBUG" in done.stderr.decode()
    secrets = [APP_KEY, MASTER_SECRET, *tokens]
    assert_no_secret(done.stdout, secrets, "stdout")
    assert_no_secret(done.stderr, secrets, "stderr")
    for file in (out, meta_path(out), summary):
        assert_no_secret(file.read_bytes(), secrets, file.name)
    assert len(read_results(out)) == 300


def test_refused_credentials_are_not_echoed(secret_mock, tmp_path):
    """When Getui refuses the credentials, the error names the variable to check, not its value."""
    wrong = "MS-wrong-0123456789abcdef"
    env = {**secret_mock.env, ENV_MASTER_SECRET: wrong}
    path = write_recipients(tmp_path / "r.csv", 2)
    result = run_cli("send", path, "--out", tmp_path / "o.jsonl", "--title", "T", "--body", "B",
                     "--log-level", "debug", env=env)  # fmt: skip
    assert result.code == 2
    assert ENV_MASTER_SECRET in result.err
    assert_no_secret(result.err + result.out, [wrong, APP_KEY, MASTER_SECRET], "the CLI's output")


def test_secret_hides_from_repr_str_format_and_pickle():
    """A Secret prints as stars in every form, compares by value, and refuses to be pickled."""
    secret = Secret(MASTER_SECRET)
    logged = "%s" % secret  # noqa: UP031 - the way logging formats its arguments
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", logged, f"{secret:>40}"):
        assert MASTER_SECRET not in text
    assert secret == Secret(MASTER_SECRET)
    assert secret.reveal() == MASTER_SECRET
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_settings_and_jobs_repr_hide_credentials():
    """repr/str of credentials, settings and a whole send job show no key or secret."""
    credentials = Credentials(app_id="app", app_key=APP_KEY, master_secret=MASTER_SECRET)
    settings = Settings(credentials=credentials)
    job = SendJob(
        input="in.csv",
        format=None,
        out=Path("o.jsonl"),
        template=MessageTemplate.simple(title="T", body="B"),
        settings=settings,
        options=CampaignSettings(),
        resume=False,
        progress=False,
    )
    for obj in (credentials, settings, job):
        assert_no_secret(repr(obj) + str(obj), [APP_KEY, MASTER_SECRET], type(obj).__name__)
    assert "app" in repr(credentials)  # the app id is public and helps debugging


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app_id": "bad/app", "app_key": APP_KEY, "master_secret": MASTER_SECRET},
        {"app_id": "app", "app_key": APP_KEY, "master_secret": " "},
        {"app_id": "", "app_key": APP_KEY, "master_secret": MASTER_SECRET},
    ],
)
def test_credential_errors_do_not_quote_secrets(kwargs):
    """A ConfigError about credentials names the variable, never the key or secret given."""
    with pytest.raises(ConfigError) as caught:
        Credentials(**kwargs)
    text = "".join(traceback.format_exception(caught.value))
    assert_no_secret(text, [APP_KEY, MASTER_SECRET], "the exception")


async def test_client_errors_and_tracebacks_hold_no_secret(make_mock):
    """Refused /auth and refused connections raise errors whose text and traceback hold no secret."""
    mock = await make_mock(app_key=APP_KEY, master_secret=MASTER_SECRET)
    wrong = Credentials(app_id=mock.app_id, app_key=APP_KEY, master_secret="MS-wrong-secret-value")
    fast = RetrySettings(max_attempts=1, zero_waits=True)
    cases = [
        Settings(credentials=wrong, base_url=mock.base_url, retry=fast),
        Settings(
            credentials=Credentials(app_id=mock.app_id, app_key=APP_KEY, master_secret=MASTER_SECRET),
            base_url=closed_port_url(),
            retry=fast,
        ),
    ]
    for settings in cases:
        async with GetuiClient(settings) as client:
            with pytest.raises(GetuiError) as caught:
                await client.tokens.get()
        text = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
        assert_no_secret(text, [APP_KEY, MASTER_SECRET, "MS-wrong-secret-value"], type(caught.value).__name__)


# -- TLS -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://restapi.getui.com/v2",
        "http://10.0.0.1/v2",
        "http://0.0.0.0:8080/v2",
        "http://[2001:db8::1]/v2",
    ],
)
def test_plain_http_is_refused_for_real_endpoints(url):
    """Credentials never travel in clear text: http:// is refused for any non-loopback host."""
    with pytest.raises(ConfigError, match="plain http"):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v2", "http://localhost/v2", "http://[::1]:1/v2", "https://restapi.getui.com/v2"],
)
def test_https_anywhere_and_http_on_loopback_are_accepted(url):
    """https is always fine; plain http only on loopback (the bundled mock)."""
    assert check_base_url(url) == url


async def test_aiohttp_transport_keeps_certificate_verification_on():
    """The production session's connector verifies certificates (aiohttp's default, never turned off)."""
    credentials = Credentials(app_id="app", app_key=APP_KEY, master_secret=MASTER_SECRET)
    transport = AiohttpTransport(Settings(credentials=credentials))
    try:
        connector = transport.session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        verify = connector._ssl  # no public accessor: True means aiohttp's default, verifying context
        assert verify is True or (
            isinstance(verify, ssl.SSLContext) and verify.verify_mode == ssl.CERT_REQUIRED
        )
    finally:
        await transport.aclose()


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(self_signed: tuple[Path, Path]) -> Iterator[str]:
    """An https server on 127.0.0.1 with the self-signed certificate, answering every path with code 0.

    It runs on its own thread and loop, so both async tests and the CLI (which runs its own loop) reach it.
    """
    cert, key = self_signed
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tls-server", daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, int]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

        async def answer(request: web.Request) -> web.Response:
            return web.json_response({"code": 0, "msg": "ok"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        return runner, runner.addresses[0][1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def test_self_signed_certificate_is_refused(tls_server, self_signed):
    """Against a server whose certificate nobody vouches for, the client refuses (fatal, no retry)."""
    cert, _ = self_signed
    async with aiohttp.ClientSession() as session:  # control: the server works for a client trusting it
        trusting = ssl.create_default_context(cafile=str(cert))
        async with session.get(f"{tls_server}/v2/app/check", ssl=trusting) as reply:
            assert reply.status == 200
    credentials = Credentials(app_id="app", app_key=APP_KEY, master_secret=MASTER_SECRET)
    settings = Settings(
        credentials=credentials, base_url=f"{tls_server}/v2", retry=RetrySettings(zero_waits=True)
    )
    async with GetuiClient(settings) as client:
        with pytest.raises(FatalApiError, match="certificate verification failed"):
            await client.tokens.get()


def test_cli_refuses_a_self_signed_endpoint(tls_server, tmp_path):
    """``send`` against an unverifiable https endpoint exits 2 before anything is sent."""
    env = {"GETUI_APP_ID": "app", "GETUI_APP_KEY": APP_KEY, ENV_MASTER_SECRET: MASTER_SECRET,
           ENV_BASE_URL: f"{tls_server}/v2"}  # fmt: skip
    path = write_recipients(tmp_path / "r.csv", 2)
    result = run_cli("send", path, "--out", tmp_path / "o.jsonl", "--title", "T", "--body", "B", env=env)
    result.assert_clean()
    assert result.code == 2
    assert "certificate verification failed" in result.err


# -- files and the mock's bind ----------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0 for the test: file modes are then exactly what the code asked for."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_results_and_sidecar_are_private_to_the_owner(tmp_path, open_umask):
    """The results file and its sidecar are created 0o600 even under umask 0 (they may hold user ids)."""
    out = tmp_path / "results.jsonl"
    path = write_recipients(tmp_path / "r.csv", 3)
    assert run_cli("send", path, "--out", out, "--title", "T", "--body", "B", "--dry-run").code == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert meta_path(out).stat().st_mode & 0o777 == 0o600


def test_world_readable_config_with_secrets_warns(tmp_path):
    """A --config file holding the master secret but readable by others draws a warning; 0o600 does not."""
    config = tmp_path / "c.toml"
    config.write_text(f'master_secret = "{MASTER_SECRET}"\n', encoding="utf-8")
    path = write_recipients(tmp_path / "r.csv", 1)
    argv = ("send", path, "--title", "T", "--body", "B", "--dry-run", "--config", config)
    config.chmod(0o644)
    loose = run_cli(*argv, "--out", tmp_path / "a.jsonl")
    config.chmod(0o600)
    tight = run_cli(*argv, "--out", tmp_path / "b.jsonl")
    assert "chmod 600" in loose.err
    assert "chmod 600" not in tight.err
    assert_no_secret(loose.err, [MASTER_SECRET], "the warning")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])  # noqa: S104 (refused, never bound)
def test_mock_server_refuses_a_non_loopback_bind(host):
    """``getui-push mock-server --host`` off loopback exits 2 pointing at --allow-remote, binding nothing."""
    result = run_cli("mock-server", "--host", host)
    assert result.code == 2
    assert "--allow-remote" in result.err
    assert "GETUI_BASE_URL" not in result.out
