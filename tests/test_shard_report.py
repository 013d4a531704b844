"""``report R0 R1 ... R{N-1}``: the shards of one campaign read as the whole campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.report.outcomes import Bitmap, Timeline
from tests.cli_harness import ThreadedMock, run_cli
from tests.results_file import read_results

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")
N = 4
#: What must be the same for the shards together as for one run over the whole input (attempts and
#: requests are not: a batch holding a dead cid is split and re-sent, and shards batch other recipients).
SUMMED = (
    "records",
    "lines",
    "by_status",
    "groups",
    "already_taken",
    "failed_by_reason",
    "retryable_by_reason",
    "rejected_by_field",
    "rejected_by_reason",
    "superseded_lines",
)


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    """60 cids (5 of them dead), two repeats and two records without a cid."""
    rows = ["cid,name"] + [f"{i:032x},User {i}" for i in range(55)]
    rows += [f"invalid-{i},Dead {i}" for i in range(5)]
    rows += [f"{3:032x},Again", ",Nobody", f"{17:032x},Again", ",Nobody else"]
    path = tmp_path / "recipients.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sharded(recipients: Path, tmp_path: Path) -> list[Path]:
    """The campaign sent as N shards into results-0..N-1.jsonl."""
    with ThreadedMock() as served:
        for index in range(N):
            out = str(tmp_path / "results-{shard}.jsonl")
            result = run_cli(
                "send", recipients, "--out", out, "--shard", f"{index}/{N}", *SIMPLE, env=served.env
            )
            assert result.code in (0, 1), result.err
    return [tmp_path / f"results-{i}.jsonl" for i in range(N)]


@pytest.fixture
def whole(recipients: Path, tmp_path: Path) -> Path:
    """The same campaign sent in one run (another mock: the same answers per cid)."""
    out = tmp_path / "whole.jsonl"
    with ThreadedMock() as served:
        assert run_cli("send", recipients, "--out", out, *SIMPLE, env=served.env).code == 1
    return out


def _report(*argv: Any) -> dict[str, Any]:
    result = run_cli("report", *argv, "--json")
    assert result.code == 0, result.err
    return _json.loads(result.out)  # type: ignore[no-any-return]


def test_the_shards_sum_to_the_whole_campaign(sharded, whole):
    """report over every shard shows exactly what one unsharded run's report shows."""
    together, alone = _report(*sharded), _report(whole)
    assert {k: together[k] for k in SUMMED} == {k: alone[k] for k in SUMMED}
    assert together["campaign_id"] == alone["campaign_id"]
    assert together["shards"] == {
        "count": N,
        "files": {f"{i}/{N}": str(p) for i, p in enumerate(sharded)},
        "missing": [],
    }
    assert together["runs"] == N
    assert "shards" not in alone


@pytest.mark.parametrize("pattern", ["results-*.jsonl", "results-{shard}.jsonl"])
def test_a_glob_or_a_shard_pattern_names_every_shard(sharded, whole, pattern):
    """A quoted glob or {shard} path reads every shard (companion files left out), in shard order."""
    together = _report(str(sharded[0].parent / pattern))
    assert together["shards"]["missing"] == []
    assert together["records"] == _report(whole)["records"]


def test_a_missing_shard_is_named(sharded):
    """Without shard 2, the report says so, in JSON and in text, and counts the others."""
    given = [p for i, p in enumerate(sharded) if i != 2]
    data = _report(*given)
    assert data["shards"]["missing"] == [f"2/{N}"]
    assert data["records"] == sum(len(read_results(p)) for p in given)
    text = run_cli("report", *given)
    assert text.code == 0
    assert f"shard 2/{N} missing" in text.out
    assert f"3 of {N} read" in text.out


def test_one_shard_alone_names_the_others_missing(sharded):
    """A shard's file read alone is one shard of N, not the campaign."""
    data = _report(sharded[1])
    assert data["shards"]["missing"] == [f"{i}/{N}" for i in (0, 2, 3)]


def test_dead_cids_of_every_shard_are_written(sharded, tmp_path):
    """--dead-cids over the shards lists every dead cid once."""
    dead = tmp_path / "dead.txt"
    _report(*sharded, "--dead-cids", dead)
    assert sorted(dead.read_text().split()) == [f"invalid-{i}" for i in range(5)]


def test_files_of_different_campaigns_are_refused(sharded, recipients, tmp_path):
    """A shard of another campaign (another message) is refused, naming both files."""
    other = tmp_path / "other-{shard}.jsonl"
    with ThreadedMock() as served:
        argv = ("--title", "Other", "--body", "x", "--no-progress", "--shard", f"1/{N}")
        assert run_cli("send", recipients, "--out", other, *argv, env=served.env).code in (0, 1)
    result = run_cli("report", sharded[0], tmp_path / "other-1.jsonl")
    assert result.code == 2
    assert "belong to different campaigns" in result.err
    assert str(sharded[0]) in result.err


def test_a_shard_given_twice_is_refused(sharded):
    """The same shard twice would count its records twice."""
    result = run_cli("report", sharded[0], sharded[1], sharded[0])
    assert result.code == 2
    assert f"shard 0/{N} given twice" in result.err


def test_a_whole_campaigns_file_with_a_shard_is_refused(sharded, whole):
    """Several files must all be shards: an unsharded file among them is refused."""
    result = run_cli("report", sharded[0], whole)
    assert result.code == 2
    assert "different campaigns" in result.err or "not a shard" in result.err


def test_a_glob_without_a_match_is_refused(tmp_path):
    """A pattern matching nothing is exit 2 naming it."""
    result = run_cli("report", str(tmp_path / "nothing-*.jsonl"))
    assert result.code == 2
    assert "no results file matches" in result.err


def test_timelines_of_shards_merge_at_the_coarser_width():
    """Lines per bucket add up; a shard whose buckets widened widens the sum too."""
    fine, coarse = Timeline(), Timeline()
    fine.add("2026-12-07T10:00:00.100Z", 0)
    fine.add("2026-12-07T10:00:01.100Z", 1)
    coarse.key_len = 16  # minutes
    coarse.add("2026-12-07T10:00:30.000Z", 0)
    fine.merge(coarse)
    assert fine.key_len == 16
    assert sum(map(sum, fine.buckets.values())) == 3
    assert fine.buckets["2026-12-07T10:00"][:2] == [2, 1]


def test_record_bitmaps_of_shards_unite():
    """The retryable records of every shard are one set (records are numbered as in the whole input)."""
    a, b = Bitmap(), Bitmap()
    for n in (1, 9, 30):
        a.add(n)
    for n in (2, 900):
        b.add(n)
    a.update(b)
    assert [n for n in range(1000) if n in a] == [1, 2, 9, 30, 900]
