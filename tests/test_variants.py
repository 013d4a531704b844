"""Variants: stable, fair assignment; per-variant ids and plans; the report's figures and significance."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from getui_async.config import Mode
from getui_async.messages import MessageTemplate, derive_collapse_id, derive_notify_id, recipient_ids
from getui_async.planner import Endpoint, Planner
from getui_async.report.groups import GROUP_ORDER, Group
from getui_async.report.outcomes import Outcomes
from getui_async.report.variants import MIN_EXPECTED, compare_proportions, variants_block, variants_table
from getui_async.variants import BUCKETS, HOLDOUT, Experiment, Variant, bucket, parse_weights

A = MessageTemplate.simple(title="Title A", body="Body")
B = MessageTemplate.simple(title="Title B", body="Body")
C = MessageTemplate.simple(title="Title C", body="Body")


def experiment(*weights: float, holdout: float = 0.0, salt: str | None = None) -> Experiment:
    templates = (A, B, C)
    return Experiment(
        tuple(Variant(n, t, w) for n, t, w in zip("ABC", templates, weights, strict=False)),
        holdout_pct=holdout,
        salt=salt,
    )


def test_bucket_is_stable_and_in_range() -> None:
    """The same (salt, key) always lands in the same bucket, within 0..BUCKETS-1."""
    assert bucket("s", "cid", "abc") == bucket("s", "cid", "abc")
    assert all(0 <= bucket("s", "cid", f"k{i}") < BUCKETS for i in range(1000))
    assert bucket("s", "cid", "abc") != bucket("t", "cid", "abc") or bucket("s", "cid", "x") != bucket(
        "t", "cid", "x"
    )


def test_split_of_100000_keys_is_within_noise_of_the_weights() -> None:
    """50/30/20 with a 10% holdout: each observed share within 4.5 standard errors of its target."""
    n = 100_000
    exp = experiment(50, 30, 20, holdout=10)
    assign = exp.assigner("campaign-1")
    counts = Counter(assign("cid", f"{i:032x}") for i in range(n))
    expected = {HOLDOUT: 0.10, "A": 0.45, "B": 0.27, "C": 0.18}
    assert exp.shares() == pytest.approx({k: 100 * v for k, v in expected.items()})
    for name, p in expected.items():
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(counts[name] / n - p) < 4.5 * sigma, (name, counts[name])


def test_same_salt_same_variant_across_campaigns_and_runs() -> None:
    """--experiment SALT pins the assignment: another campaign with the salt agrees record by record."""
    keys = [f"c{i}" for i in range(2000)]
    first = experiment(1, 1, salt="spring").assigner("campaign-1")
    later = experiment(1, 1, salt="spring").assigner("campaign-2")
    assert [first("cid", k) for k in keys] == [later("cid", k) for k in keys]
    unsalted = [experiment(1, 1).assigner("campaign-2")("cid", k) for k in keys]
    assert unsalted != [first("cid", k) for k in keys]  # default salt: the campaign id


def test_no_holdout_means_nobody_is_held_out() -> None:
    """Without --holdout no recipient lands in the holdout group."""
    assign = experiment(1, 1).assigner("c")
    assert HOLDOUT not in {assign("cid", str(i)) for i in range(5000)}


@pytest.mark.parametrize(
    ("variants", "holdout", "match"),
    [
        ((Variant("A", A),), 0, "give 2 to 10"),
        (tuple(Variant(f"v{i}", A) for i in range(11)), 0, "give 2 to 10"),
        ((Variant("A", A), Variant("A", B)), 0, "must differ"),
        ((Variant("A", A), Variant(HOLDOUT, B)), 0, "not 'holdout'"),
        ((Variant("A", A), Variant("a b", B)), 0, "letters, digits"),
        ((Variant("A", A), Variant("B", B)), 60, "from 0 to 50"),
        ((Variant("A", A), Variant("B", B, 0)), 0, "positive"),
    ],
)
def test_an_impossible_experiment_is_refused(
    variants: tuple[Variant, ...], holdout: float, match: str
) -> None:
    """Counts, names, weights and the holdout are checked when the experiment is made."""
    with pytest.raises(ValueError, match=match):
        Experiment(variants, holdout_pct=holdout)


def test_weights_parse_and_count() -> None:
    """--weights takes one positive number per variant."""
    assert parse_weights("50, 30,20", 3) == (50.0, 30.0, 20.0)
    for text, count in (("50,50", 3), ("a,b", 2), ("50,-1", 2), ("nan,1", 2)):
        with pytest.raises(ValueError, match=repr(text)):
            parse_weights(text, count)


def test_fingerprint_changes_with_any_part() -> None:
    """A resume against another experiment (message, weight, holdout, salt) is a different fingerprint."""
    base = experiment(1, 1).fingerprint
    assert experiment(1, 1).fingerprint == base
    assert experiment(1, 2).fingerprint != base
    assert experiment(1, 1, holdout=5).fingerprint != base
    assert experiment(1, 1, salt="x").fingerprint != base


def test_request_ids_include_the_variant() -> None:
    """Two variants never share a request_id; without a variant the ids are what they always were."""
    plain = recipient_ids("camp", "cid", "abc")
    assert recipient_ids("camp", "cid", "abc", None) == plain
    assert recipient_ids("camp", "cid", "abc", "A")[0] != recipient_ids("camp", "cid", "abc", "B")[0]
    assert recipient_ids("camp", "cid", "abc", "A")[0] != plain[0]


def test_each_variant_gets_its_own_group_and_replace_ids() -> None:
    """for_campaign gives each variant's message its own notify_id and collapse id (derived with its name)."""
    tree = {
        "push_message": {"notification": {"title": "t", "body": "b", "click_type": "startapp"}},
        "push_channel": {"ios": {"aps": {"alert": {"title": "t", "body": "b"}}}},
    }
    exp = Experiment(
        (Variant("A", MessageTemplate.from_dict(tree)), Variant("B", MessageTemplate.from_dict(tree)))
    )
    ready = exp.for_campaign("camp").templates
    ids = [
        (
            t.to_dict()["push_message"]["notification"]["notify_id"],
            t.to_dict()["push_channel"]["ios"]["apns-collapse-id"],
        )
        for t in ready.values()
    ]
    assert ids[0] != ids[1]
    assert ids[0] == (derive_notify_id("camp", "A"), derive_collapse_id("camp", "A"))


def test_planner_keeps_variants_apart() -> None:
    """A list plan holds one variant's recipients only (each variant is its own list task)."""
    planner: Planner[str] = Planner(Mode.AUTO, list_chunk=2)
    assert planner.add("a1", "cid", Endpoint.LIST, "A") is None
    assert planner.add("b1", "cid", Endpoint.LIST, "B") is None
    full = planner.add("a2", "cid", Endpoint.LIST, "A")
    assert full is not None
    assert full.items == ("a1", "a2")
    assert full.variant == "A"
    rest = planner.flush()
    assert [(p.items, p.variant) for p in rest] == [(("b1",), "B")]


def test_two_proportion_z_test_against_a_worked_example() -> None:
    """200/1000 vs 250/1000, by hand:

    p1 = 0.20, p2 = 0.25, difference = +0.05.
    pooled p = 450/2000 = 0.225; SE0 = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = sqrt(0.00034875)
    = 0.0186748; z = 0.05 / 0.0186748 = 2.67741; two-sided p = 1 - erf(2.67741 / sqrt 2) = 0.007419.
    SE = sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000) = sqrt(0.0003475) = 0.0186414;
    95% CI = 0.05 -/+ 1.959964 * 0.0186414 = (0.013464, 0.086536).
    """
    result = compare_proportions(200, 1000, 250, 1000)
    assert result is not None
    assert result.difference == pytest.approx(0.05)
    assert result.z == pytest.approx(2.67741, abs=1e-4)
    assert result.p_value == pytest.approx(0.007419, abs=2e-5)
    assert result.ci95 == pytest.approx((0.013464, 0.086536), abs=1e-5)
    assert result.warning is None


def test_small_samples_say_so() -> None:
    """Fewer than MIN_EXPECTED successes (or failures) in a sample: a plain warning rides along."""
    result = compare_proportions(3, 40, 6, 40)
    assert result is not None
    assert result.warning is not None
    assert str(MIN_EXPECTED) in result.warning
    assert compare_proportions(0, 0, 1, 10) is None
    same = compare_proportions(0, 50, 0, 50)
    assert same is not None
    assert same.p_value == 1.0


def _outcomes(rows: dict[str, dict[Group, int]], order: list[str]) -> Outcomes:
    out = Outcomes(
        path=Path("r.jsonl"), meta={"campaign_id": "camp", "runs": [{"variants": dict.fromkeys(order, 1)}]}
    )
    for name, groups in rows.items():
        out.by_variant[name] = [groups.get(g, 0) for g in GROUP_ORDER]
    return out


def test_variants_block_counts_rates_and_comparison() -> None:
    """The --json variants object: counts per variant and the holdout; with figures, rates vs the first."""
    out = _outcomes(
        {
            HOLDOUT: {Group.HELD_OUT: 100},
            "B": {Group.REACHED: 1000, Group.DEAD: 3},
            "A": {Group.REACHED: 1000, Group.RETRYABLE: 2, Group.INACTIVE: 5},
        },
        ["A", "B"],
    )
    funnel = {
        "variants": {
            "A": {
                "name": "camp-A",
                "channels": {"all": {"received": 1000, "displayed": 800, "clicked": 200}},
            },
            "B": {
                "name": "camp-B",
                "channels": {"all": {"received": 1000, "displayed": 800, "clicked": 250}},
            },
        }
    }
    block = variants_block(out, funnel)
    assert list(block) == ["A", "B", HOLDOUT]
    expected = {"records": 1007, "reached": 1000, "inactive": 5, "dead": 0, "retryable": 2}
    assert {k: block["A"][k] for k in expected} == expected
    assert block[HOLDOUT]["records"] == 100
    assert block[HOLDOUT]["held_out"] == 100
    assert block["B"]["click_rate"] == 0.25
    assert block["A"]["display_rate"] == 0.8
    click = block["B"]["vs_first"]["click_rate"]
    assert click["p_value"] == pytest.approx(0.007419, abs=2e-5)
    assert "vs_first" not in block["A"]
    text = "\n".join(variants_table(block))
    assert "by variant:" in text
    assert "click rate: +5.00 points" in text
