"""Receipt lines: the sign check, refusals by reason, tolerance, and what an actionId means."""

from __future__ import annotations

import pytest

from getui_async import _json
from getui_async.config import Secret
from getui_async.receipts.protocol import (
    NO_ACTION_ID,
    Receipt,
    Refusal,
    Stage,
    Verifier,
    classify,
)
from getui_async.receipts.tally import Tally
from tests.receipts.conftest import APP_ID, MASTER_SECRET, receipt, sign


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(APP_ID, Secret(MASTER_SECRET))


def test_good_sign_is_accepted(verifier: Verifier) -> None:
    """A line signed with the app's master secret becomes a Receipt with its key."""
    got = verifier.check(_json.dumps(receipt("c1", "t1", "m1", 10000)))
    assert isinstance(got, Receipt)
    assert got.key == ("t1", "c1", 10000, "m1")
    assert got.code == 200


def test_sign_is_the_md5_of_the_documented_concatenation(verifier: Verifier) -> None:
    """sign = hex MD5(appid + cid + taskid + msgid + master secret), compared case-insensitively."""
    assert verifier.expected_sign("c1", "t1", "m1") == sign("c1", "t1", "m1")
    upper = receipt("c1", "t1", "m1", sign=sign("c1", "t1", "m1").upper())
    assert isinstance(verifier.check(_json.dumps(upper)), Receipt)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (receipt(signed="bad"), Refusal.BAD_SIGN),
        (receipt(signed=None), Refusal.MISSING_SIGN),
        (receipt(sign=""), Refusal.MISSING_SIGN),
        (receipt(app_id="someoneElse"), Refusal.OTHER_APP),
        ({"appid": APP_ID, "cid": "c", "taskid": "t"}, Refusal.MISSING_FIELD),
        (receipt(actionId="clicked"), Refusal.BAD_FIELD),
        ({**receipt(), "taskid": ["t"]}, Refusal.BAD_FIELD),
    ],
)
def test_refusals_by_reason(verifier: Verifier, obj: dict[str, object], reason: Refusal) -> None:
    """Bad or missing sign, another app, missing or mistyped fields: each refused with its reason."""
    assert verifier.check(_json.dumps(obj)) is reason


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'{"appid": ', b"\xff\xfe"])
def test_bad_json_is_refused(verifier: Verifier, line: bytes) -> None:
    """Not JSON, or JSON that is not an object: bad_json."""
    assert verifier.check(line) is Refusal.BAD_JSON


def test_a_sign_for_other_ids_is_refused(verifier: Verifier) -> None:
    """A good sign copied onto another cid does not verify (the sign covers the ids)."""
    obj = receipt("c1", "t1", "m1")
    obj["cid"] = "c2"
    assert verifier.check(_json.dumps(obj)) is Refusal.BAD_SIGN


def test_unknown_fields_and_actionids_are_kept(verifier: Verifier) -> None:
    """Tolerant: an unknown field stays in the stored line, an unknown actionId is kept by number."""
    got = verifier.check(_json.dumps(receipt(action_id=777777, brandNew="x", alias="al")))
    assert isinstance(got, Receipt)
    assert got.action_id == 777777
    assert got.alias == "al"
    assert _json.loads(got.line)["brandNew"] == "x"
    assert classify(777777, 200) == (Stage.OTHER, None)


def test_missing_actionid_is_the_basic_arrival(verifier: Verifier) -> None:
    """The official doc's receipt has no actionId: stored under NO_ACTION_ID, counted as arrived."""
    got = verifier.check(_json.dumps(receipt(action_id=None)))
    assert isinstance(got, Receipt)
    assert got.action_id == NO_ACTION_ID
    assert classify(NO_ACTION_ID, 200)[0] is Stage.ARRIVED


def test_numbers_as_strings_are_read(verifier: Verifier) -> None:
    """actionId, code and recvtime sent as digits in strings are read as numbers."""
    got = verifier.check(_json.dumps(receipt(action_id=None, actionId="10010", recvtime="1700000000000")))
    assert isinstance(got, Receipt)
    assert (got.action_id, got.recvtime) == (10010, 1_700_000_000_000)


@pytest.mark.parametrize(
    ("action_id", "code", "expected"),
    [
        (0, 200, (Stage.ARRIVED, None)),
        (10000, 200, (Stage.DISPLAYED, None)),
        (10010, None, (Stage.CLICKED, None)),
        (150000, 200, (Stage.ARRIVED, None)),
        (60040, 200, (Stage.CLICKED, None)),
        (110102, 200, (Stage.FAILED, "huawei_marketing_cap")),
        (1501017, 200, (Stage.FAILED, "vivo_night_hours")),
        (0, 400, (Stage.FAILED, "code_400")),
        (90005, 200, (Stage.OTHER, None)),
    ],
)
def test_classify(action_id: int, code: int | None, expected: tuple[Stage, str | None]) -> None:
    """The actionId table: Getui and vendor arrivals, shows, clicks; vendor failures by reason."""
    assert classify(action_id, code) == expected


def test_check_lines_counts_and_skips_blank_lines(verifier: Verifier) -> None:
    """Good lines come back, refused ones are counted by reason, blank lines are not lines."""
    tally = Tally()
    lines = [_json.dumps(receipt()), b"", b"  ", _json.dumps(receipt(signed="bad")), b"x"]
    good = tally.check(verifier, lines)
    assert len(good) == 1
    assert tally.received == 3
    assert dict(tally.refused) == {Refusal.BAD_SIGN: 1, Refusal.BAD_JSON: 1}


def test_the_secret_is_not_in_the_verifier_repr(verifier: Verifier) -> None:
    """repr shows the app id, never the master secret."""
    assert MASTER_SECRET not in repr(verifier)


def test_docs_table_lists_every_known_actionid() -> None:
    """docs/receipts.md's actionId table names every actionId of the code's table, with its reason."""
    from pathlib import Path

    from getui_async.receipts.protocol import ACTIONS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "receipts.md").read_text(encoding="utf-8")
    for action in ACTIONS.values():
        row = next((line for line in doc.splitlines() if line.startswith(f"| {action.action_id} |")), None)
        assert row is not None, action
        assert str(action.stage) in row
        if action.reason:
            assert f"`{action.reason}`" in row
