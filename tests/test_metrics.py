"""Prometheus metrics of a send: the observer's counts, a port scraped during a run, a real Pushgateway."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from getui_async.events import (
    BatchSent,
    RecordDone,
    RequestStarted,
    RetryScheduled,
    Throttled,
    WaitEnded,
    WaitStarted,
)
from getui_async.metrics import CampaignMetrics, MetricsExporter, MetricsOptions
from tests.cli_harness import (
    ThreadedMock,
    clean_environ,
    closed_port_url,
    command,
    run_cli,
    write_recipients,
)
from tests.components import Pushgateway, free_port
from tests.results_file import read_results

SIMPLE = ("--title", "Hi {name}", "--body", "b")


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name`` in a Prometheus text exposition, keyed by their sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def by_status(text: str, campaign: str | None = None) -> Counter[str]:
    """``getui_push_recipients_total`` per status (of one campaign, when given)."""
    counts: Counter[str] = Counter()
    for labels, value in samples(text, "getui_push_recipients_total").items():
        label = dict(labels)
        if campaign is None or label["campaign"] == campaign:
            counts[label["status"]] += int(value)
    return counts


def results_by_status(out: Path) -> Counter[str]:
    return Counter(line["status"] for line in read_results(out))


def test_events_become_metrics_in_the_observers_own_registry() -> None:
    """Each event kind updates its metric; nothing lands in prometheus_client's global registry."""
    metrics = CampaignMetrics("c1")
    wait_until = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[object] = [
        RecordDone("successed_online", 1),
        RecordDone("successed_online", 2),
        RecordDone("failed", 3),
        RequestStarted("batch"),
        RequestStarted("batch"),
        BatchSent("batch", 200, 0.03, True, "0"),
        RetryScheduled("batch", 1, "boom", 0.5),
        Throttled(10005, 2.0, 50.0),
        WaitStarted("window", wait_until, 60.0, "outside the window"),
        WaitEnded("window", wait_until, 59.5, "resumed"),
    ]
    for event in events:
        metrics(event)
    text = generate_latest(metrics.registry).decode()
    assert by_status(text, "c1") == {"successed_online": 2, "failed": 1}
    assert samples(text, "getui_push_requests_total") == {(("code", "0"), ("endpoint", "batch")): 1.0}
    assert samples(text, "getui_push_request_duration_seconds_count") == {(("endpoint", "batch"),): 1.0}
    assert samples(text, "getui_push_requests_in_flight") == {(): 1.0}
    assert samples(text, "getui_push_retries_total") == {(("endpoint", "batch"),): 1.0}
    assert samples(text, "getui_push_throttled_total") == {(("code", "10005"),): 1.0}
    assert samples(text, "getui_push_waits_total") == {(("reason", "window"),): 1.0}
    assert samples(text, "getui_push_wait_seconds_total") == {(("reason", "window"),): 59.5}
    assert samples(text, "getui_push_waiting") == {(("campaign", "c1"), ("reason", "window")): 0.0}
    assert samples(text, "getui_push_running") == {(("campaign", "c1"),): 1.0}
    (last,) = samples(text, "getui_push_last_result_timestamp_seconds").values()
    assert abs(last - time.time()) < 60
    from prometheus_client import REGISTRY

    assert "getui_push_recipients_total" not in generate_latest(REGISTRY).decode()


def test_a_run_without_metrics_flags_never_imports_prometheus_client(tmp_path: Path) -> None:
    """Features that are off cost nothing: a send without the flags leaves prometheus_client unimported."""
    recipients = write_recipients(tmp_path / "r.csv", 3)
    code = (
        "import sys\nfrom getui_async.cli import main\n"
        f"status = main(['send', {str(recipients)!r}, '--out', {str(tmp_path / 'out.jsonl')!r}, "
        "'--dry-run', '--title', 't', '--body', 'b', '-q'], environ={})\n"
        "print(status, 'prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=clean_environ(), timeout=60, check=False
    )
    assert done.stdout.decode().split() == ["0", "False"], done.stderr.decode()


def scrape(port: int) -> str | None:
    """The metrics page on ``port``, or None while nothing answers there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None


def test_the_port_is_scraped_during_a_run_and_counts_match_the_results_file(
    served: ThreadedMock, tmp_path: Path, out: Path
) -> None:
    """Records fed through an open stdin: once all are counted the run still serves; counts = results."""
    port = free_port()
    argv = command("send", "-", "--format", "csv", "--out", out, *SIMPLE, "--mode", "batch",
                   "--metrics-port", str(port), "--no-progress")  # fmt: skip
    rows = ["cid,name"] + [f"{i:032x},User {i}" for i in range(150)]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, env=clean_environ(served.env)) as proc:
        assert proc.stdin is not None
        try:
            proc.stdin.write(("\n".join(rows) + "\n").encode())
            proc.stdin.flush()
            deadline = time.monotonic() + 30
            text = None
            while time.monotonic() < deadline:  # bounded poll of another process
                text = scrape(port)
                if text is not None and by_status(text).total() == 150:
                    break
                time.sleep(0.1)
            assert text is not None
            assert by_status(text).total() == 150, text
            assert samples(text, "getui_push_running")[(("campaign", samples_campaign(text)),)] == 1.0
            requests = samples(text, "getui_push_requests_total")
            assert requests[(("code", "0"), ("endpoint", "batch"))] >= 1
            assert samples(text, "getui_push_requests_in_flight") == {(): 0.0}
        finally:
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
    assert by_status(text) == results_by_status(out)
    assert scrape(port) is None  # served for the life of the run only


def samples_campaign(text: str) -> str:
    (labels,) = samples(text, "getui_push_running")
    return dict(labels)["campaign"]


def test_a_real_pushgateway_holds_the_final_counts_after_a_run(
    pushgateway: Pushgateway, served: ThreadedMock, tmp_path: Path, out: Path
) -> None:
    """After a run the Pushgateway's recipients by status equal the results file's, and running is 0."""
    recipients = write_recipients(tmp_path / "r.csv", 120)
    argv = (
        "send",
        recipients,
        "--out",
        out,
        *SIMPLE,
        "--campaign",
        "pgw-test",
        "--pushgateway",
        pushgateway.url,
    )
    result = run_cli(*argv, env=served.env)
    assert result.code == 0, result.err
    text = pushgateway.metrics_text()
    assert by_status(text, "pgw-test") == results_by_status(out)
    running = samples(text, "getui_push_running")
    assert running[(("campaign", "pgw-test"), ("instance", ""), ("job", "getui_push"))] == 0.0


def test_a_dead_pushgateway_is_a_warning_and_the_exit_status_is_unchanged(
    served: ThreadedMock, tmp_path: Path, out: Path
) -> None:
    """A push that cannot reach its gateway warns once per kind and never changes the run's outcome."""
    recipients = write_recipients(tmp_path / "r.csv", 20)
    dead = closed_port_url().removesuffix("/v2")
    result = run_cli("send", recipients, "--out", out, *SIMPLE, "--pushgateway", dead, env=served.env)
    assert result.code == 0, result.err
    assert "metrics push to" in result.err
    assert "failed" in result.err
    assert results_by_status(out).total() == 20
    result.assert_clean()


def test_metrics_flags_without_a_destination_are_a_usage_error(tmp_path: Path, out: Path) -> None:
    """--push-interval-s alone would do nothing: it is refused, as is a gateway that is not a URL."""
    recipients = write_recipients(tmp_path / "r.csv", 1)
    alone = run_cli("send", recipients, "--out", out, *SIMPLE, "--dry-run", "--push-interval-s", "5")
    assert alone.code == 2
    assert "--push-interval-s needs --metrics-port or --pushgateway" in alone.err
    bad = run_cli("send", recipients, "--out", out, *SIMPLE, "--dry-run", "--pushgateway", "gateway:9091")
    assert bad.code == 2
    assert "expected an http:// or https:// URL" in bad.err


async def test_a_port_in_use_is_a_usage_error() -> None:
    """Two exporters cannot share a port: the second says which flag to change."""
    from getui_async.config import UsageError

    port = free_port()
    first = MetricsExporter(MetricsOptions(port=port))
    async with first.running("a"):
        assert first.port == port
        with pytest.raises(UsageError, match=f"--metrics-port {port}"):
            async with MetricsExporter(MetricsOptions(port=port)).running("b"):
                pass
