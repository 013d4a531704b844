"""``send --shard I/N``: each shard sends, and writes lines for, exactly the records it owns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from getui_async import _json
from getui_async.shard import ENV_JOB_INDEX, ENV_SHARD, shard_of
from tests.cli_harness import ThreadedMock, run_cli
from tests.results_file import read_meta, read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
N = 3


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    """40 recipients, two of them repeated later, and one record without a cid (rejected)."""
    rows = ["cid,name"] + [f"{i:032x},User {i}" for i in range(40)]
    rows += [f"{3:032x},Again", ",Nobody", f"{17:032x},Again"]
    path = tmp_path / "recipients.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _send(recipients: Path, out: str, served: ThreadedMock, *flags: str, env: dict[str, str] | None = None):
    return run_cli("send", recipients, "--out", out, *SIMPLE, *flags, env={**served.env, **(env or {})})


def test_shards_partition_the_input_and_deliver_each_cid_once(served, recipients, tmp_path):
    """N shards: each file holds its own records only; together one line per record; one delivery each."""
    template = str(tmp_path / "results-{shard}.jsonl")
    for index in range(N):
        result = _send(recipients, template, served, "--shard", f"{index}/{N}", "--summary-json", "-")
        result.assert_clean()
        assert result.code == (1 if index == 0 else 0), result.err  # shard 0 holds the rejected record
        files = [tmp_path / f"results-{i}.jsonl" for i in range(index + 1)]
        assert all(f.exists() for f in files)
    by_record: dict[int, str] = {}
    for index in range(N):
        path = tmp_path / f"results-{index}.jsonl"
        assert read_meta(path)["shard"] == f"{index}/{N}"
        for line in read_results(path):
            assert line["record"] not in by_record, "a record written by two shards"
            by_record[line["record"]] = line["status"]
            if line.get("cid"):
                assert shard_of("cid", line["cid"], N) == index
            else:
                assert index == 0  # no key: shard 0 writes its line
    assert sorted(by_record) == list(range(1, 44))
    counts = Counter(by_record.values())
    assert counts["rejected"] == 1
    assert counts["duplicate"] == 2
    assert served.deliveries() == {f"{i:032x}": 1 for i in range(40)}
    campaigns = {read_meta(tmp_path / f"results-{i}.jsonl")["campaign_id"] for i in range(N)}
    assert len(campaigns) == 1


def test_the_summary_counts_the_shards_records(served, recipients, tmp_path):
    """A shard's summary reads as many records as it owns, not the whole input."""
    out = tmp_path / "r1.jsonl"
    result = _send(recipients, str(out), served, "--shard", f"1/{N}", "--summary-json", "-")
    assert result.code == 0, result.err
    summary = _json.loads(result.out.strip().splitlines()[-1])
    owned = len(read_results(out))
    assert summary["records"] == owned
    assert 0 < owned < 43


def test_the_shard_comes_from_the_environment(served, recipients, tmp_path):
    """GETUI_SHARD=I/N works as --shard does; auto/N reads JOB_COMPLETION_INDEX."""
    result = _send(recipients, str(tmp_path / "e-{shard}.jsonl"), served, env={ENV_SHARD: "2/3"})
    assert result.code == 0, result.err
    assert read_meta(tmp_path / "e-2.jsonl")["shard"] == "2/3"
    result = _send(
        recipients, str(tmp_path / "k-{shard}.jsonl"), served, "--shard", "auto/3", env={ENV_JOB_INDEX: "1"}
    )
    assert result.code == 0, result.err
    assert read_meta(tmp_path / "k-1.jsonl")["shard"] == "1/3"


@pytest.mark.parametrize(
    ("flags", "env", "said"),
    [
        (("--shard", "3/3"), {}, "--shard 3/3: shard index must be 0..2"),
        (("--shard", "auto/3"), {}, "--shard auto/3: JOB_COMPLETION_INDEX is not set"),
        ((), {ENV_SHARD: "x"}, "GETUI_SHARD=x: expected I/N"),
    ],
)
def test_a_bad_shard_is_exit_2_before_anything_is_sent(served, recipients, tmp_path, flags, env, said):
    """A bad spec or a missing index: exit 2, the flag or variable named, nothing sent or written."""
    out = tmp_path / "r.jsonl"
    result = _send(recipients, str(out), served, *flags, env=env)
    assert result.code == 2
    assert said in result.err
    assert not out.exists()
    assert served.deliveries() == {}


def test_a_shard_placeholder_without_a_shard_is_refused(served, recipients, tmp_path):
    """--out results-{shard}.jsonl without --shard is exit 2, not a file named with braces."""
    result = _send(recipients, str(tmp_path / "r-{shard}.jsonl"), served)
    assert result.code == 2
    assert "{shard} names a shard; add --shard" in result.err
    assert list(tmp_path.glob("r-*")) == []


@pytest.mark.parametrize("second", [("--shard", "0/2"), ("--shard", "1/3"), ()])
def test_a_resume_with_another_shard_spec_is_refused(served, recipients, tmp_path, second):
    """A results file of shard 1/2 cannot be resumed as another shard or as the whole campaign."""
    out = tmp_path / "r.jsonl"
    assert _send(recipients, str(out), served, "--shard", "1/2").code == 0
    before = out.read_bytes()
    result = _send(recipients, str(out), served, "--resume", *second)
    assert result.code == 2
    assert "it holds shard 1/2" in result.err
    assert out.read_bytes() == before


def test_a_whole_campaigns_file_cannot_be_resumed_as_a_shard(served, recipients, tmp_path):
    """And the other way round: an unsharded file refuses a resume with --shard."""
    out = tmp_path / "r.jsonl"
    assert _send(recipients, str(out), served).code == 1
    result = _send(recipients, str(out), served, "--resume", "--shard", "0/2")
    assert result.code == 2
    assert "it holds the whole campaign (no shard), and this run sends shard 0/2" in result.err


def test_a_resumed_shard_sends_only_what_it_left(served, recipients, tmp_path):
    """Resuming the same shard finds its lines and sends nothing again."""
    out = tmp_path / "r.jsonl"
    assert _send(recipients, str(out), served, "--shard", "0/2").code == 1
    lines = read_results(out)
    result = _send(recipients, str(out), served, "--shard", "0/2", "--resume")
    assert result.code in (0, 1), result.err
    assert read_results(out) == lines
    assert served.stats().redeliveries == 0
