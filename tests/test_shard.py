"""``--shard I/N``: the stable partition of recipients, the spec and where it comes from."""

from __future__ import annotations

import argparse

import pytest

from getui_async.config.layers import resolve_shard
from getui_async.shard import ENV_JOB_INDEX, ENV_SHARD, Shard, ShardError, parse_shard, shard_of

# (kind, key) -> shard for N = 2, 3, 4, 7, 100. Pinned: a change here re-partitions every sharded
# campaign in flight, so a resume on one host would send what another host's shard already sent.
VECTORS = [
    ("cid", "cid-0001", [1, 1, 3, 5, 15]),
    ("cid", "0123456789abcdef0123456789abcdef", [1, 0, 3, 5, 59]),
    ("alias", "user-42", [1, 0, 3, 0, 59]),
    ("cid", "", [0, 2, 2, 4, 38]),
    ("cid", "用户", [1, 1, 3, 0, 27]),
]


@pytest.mark.parametrize(("kind", "key", "expected"), VECTORS)
def test_shard_of_is_pinned_by_fixed_vectors(kind, key, expected):
    """The owner of a recipient is the same on every host, Python version and run."""
    assert [shard_of(kind, key, n) for n in (2, 3, 4, 7, 100)] == expected


def test_a_cid_and_an_alias_spelled_alike_may_differ():
    """The kind is part of the key: cid 'x' and alias 'x' are different recipients."""
    assert any(shard_of("cid", f"k{i}", 64) != shard_of("alias", f"k{i}", 64) for i in range(20))


def test_every_recipient_has_exactly_one_owner_and_shards_are_balanced():
    """Of N shards exactly one owns each key, and none holds far more than its share."""
    shards = [Shard(i, 4) for i in range(4)]
    sizes = [0] * 4
    for i in range(20_000):
        owners = [s.index for s in shards if s.owns("cid", f"{i:032x}")]
        assert len(owners) == 1
        sizes[owners[0]] += 1
    assert all(4_500 < n < 5_500 for n in sizes), sizes


@pytest.mark.parametrize(
    ("text", "expected"), [("0/4", Shard(0, 4)), ("3/4", Shard(3, 4)), (" 1 / 2 ", Shard(1, 2))]
)
def test_spec_parses(text, expected):
    """I/N, spaces allowed, is shard I of N."""
    assert parse_shard(text, origin="--shard", environ={}) == expected
    assert str(expected) == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("4/4", "shard index must be 0..3"),
        ("0/0", "shard count must be"),
        ("-1/4", "expected I/N"),
        ("1", "expected I/N"),
        ("a/4", "expected I/N"),
        ("1/4/2", "expected I/N"),
        ("²/4", "expected I/N"),
    ],
)
def test_a_bad_spec_names_the_flag(text, said):
    """A bad value is an error naming the flag and the value."""
    with pytest.raises(ShardError) as caught:
        parse_shard(text, origin="--shard", environ={})
    assert f"--shard {text}" in str(caught.value)
    assert said in str(caught.value)


def test_auto_takes_the_index_from_kubernetes():
    """auto/N reads JOB_COMPLETION_INDEX (what an Indexed Job sets in each pod)."""
    assert parse_shard("auto/4", origin="--shard", environ={ENV_JOB_INDEX: "2"}) == Shard(2, 4)


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({}, "JOB_COMPLETION_INDEX is not set"),
        ({ENV_JOB_INDEX: "x"}, "JOB_COMPLETION_INDEX is 'x'"),
        ({ENV_JOB_INDEX: "4"}, "JOB_COMPLETION_INDEX=4): shard index must be 0..3"),
    ],
)
def test_auto_without_a_usable_index_is_refused(environ, said):
    """auto/N without the variable, or with an index out of range, says which."""
    with pytest.raises(ShardError) as caught:
        parse_shard("auto/4", origin="--shard", environ=environ)
    assert said in str(caught.value)
    assert "--shard" in str(caught.value)


def test_the_flag_wins_over_the_environment():
    """--shard beats GETUI_SHARD; the variable alone is used; neither is the whole input."""
    env = {ENV_SHARD: "1/2"}
    assert resolve_shard(argparse.Namespace(shard="0/3"), env) == Shard(0, 3)
    assert resolve_shard(argparse.Namespace(shard=None), env) == Shard(1, 2)
    assert resolve_shard(argparse.Namespace(shard=None), {}) is None


def test_a_bad_environment_value_names_the_variable():
    """GETUI_SHARD=5/4 is refused naming GETUI_SHARD."""
    with pytest.raises(ShardError, match="GETUI_SHARD=5/4"):
        resolve_shard(argparse.Namespace(shard=None), {ENV_SHARD: "5/4"})


def test_out_path_takes_the_index():
    """{shard} in a results path becomes the shard's index."""
    assert Shard(2, 4).out_path("/results/results-{shard}.jsonl") == "/results/results-2.jsonl"
    assert Shard(2, 4).out_path("plain.jsonl") == "plain.jsonl"


def test_auto_without_an_index_suggests_a_spec_in_the_same_form():
    """The example names the flag as a flag and the variable as a variable."""
    with pytest.raises(ShardError, match=r"such as --shard 0/4$"):
        parse_shard("auto/4", origin="--shard", environ={})
    with pytest.raises(ShardError, match=r"such as GETUI_SHARD=0/4$"):
        parse_shard("auto/4", origin=ENV_SHARD, environ={})
