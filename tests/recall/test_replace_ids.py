"""Replace ids: every send carries the campaign's notify_id / apns-collapse-id on each channel it has
(the template's own win), records them in the sidecar, and the mock and the SDK's requests accept them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.messages import (
    MessageTemplate,
    ReplaceIds,
    derive_collapse_id,
    derive_notify_id,
    recall_request_id,
    recipient_ids,
    replace_ids_of,
    single_body,
    with_replace_ids,
)
from getui_async.mock.validate import validate_list_message, validate_single
from getui_async.recall import override_message, revoke_message
from tests.cli_harness import ThreadedMock, run_cli, write_recipients
from tests.results_file import read_meta, read_results
from tests.test_conformance import corpus

HARMONY = {"title": "T", "body": "B", "click_type": "startapp"}


def full_message(**harmony: Any) -> dict[str, Any]:
    """Getui's channel, the vendors', iOS and HarmonyOS, without any id."""
    note = {"title": "T", "body": "B", "click_type": "startapp"}
    return {
        "push_message": {"notification": dict(note)},
        "push_channel": {
            "android": {"ups": {"notification": dict(note)}},
            "ios": {"aps": {"alert": {"title": "T", "body": "B"}}},
            "harmony": {"notification": {**HARMONY, **harmony}},
        },
    }


def test_every_channel_gets_the_campaigns_ids() -> None:
    """Getui's, the vendors' and harmony's notify_id and the iOS collapse id all derive from the campaign."""
    ids = replace_ids_of(with_replace_ids(MessageTemplate.from_dict(full_message()), "camp-1"))
    nid = derive_notify_id("camp-1")
    assert ids == ReplaceIds(getui=nid, ups=nid, harmony=nid, ios="camp-1")
    assert ids.any
    assert all(ids.fixed(channel) for channel in ("getui", "ups", "harmony", "ios"))


def test_the_templates_own_ids_win() -> None:
    """An id the template sets is kept; a placeholder collapse id is recorded but cannot be reused."""
    message = full_message(notify_id="5")
    message["push_channel"]["ios"]["apns-collapse-id"] = "{cid}"
    ids = replace_ids_of(with_replace_ids(MessageTemplate.from_dict(message), "camp-1"))
    assert (ids.harmony, ids.ios) == ("5", "{cid}")
    assert ids.fixed("harmony")
    assert not ids.fixed("ios")
    assert ids.getui == derive_notify_id("camp-1")


def test_a_variant_has_ids_of_its_own() -> None:
    """The same campaign's variants replace only their own notifications; no variant keeps the old ids."""
    assert derive_notify_id("c") == derive_notify_id("c", None)
    assert derive_collapse_id("c") == "c"
    ids = {(derive_notify_id("c", v), derive_collapse_id("c", v)) for v in ("a", "b", None)}
    assert len(ids) == 3
    assert all(len(collapse) <= 64 for _, collapse in ids)
    assert derive_notify_id("c", "a") != derive_notify_id("ca")  # framed, not concatenated


def test_recall_request_ids_are_never_the_sends() -> None:
    """A recall's request_ids differ from the send's and from each other's actions, and are stable."""
    send, _ = recipient_ids("camp", "cid", "c1")
    revoke = recall_request_id("camp", "recall", "cid", "c1")
    assert len({send, revoke, recall_request_id("camp", "recall-override", "cid", "c1")}) == 3
    assert revoke == recall_request_id("camp", "recall", "cid", "c1")
    assert 10 <= len(revoke) <= 32


def test_the_mock_accepts_the_ids_and_the_recall_pushes() -> None:
    """The stamped message, the revoke (with harmony) and the override pass the mock's body checks."""
    ids_template = with_replace_ids(MessageTemplate.from_dict(full_message()), "camp-1")
    for message in (
        ids_template.shared(),
        revoke_message("RASS_0101_x", harmony=True),
        override_message("Sorry", "Wrong", replace_ids_of(ids_template)),
    ):
        body = _json.loads(single_body("req-0000000001", "cid", "c1", message))
        validate_single(body, "cid")


def test_the_sdks_messages_take_the_ids() -> None:
    """Every push message of the Java SDK's captured requests still passes the mock once stamped."""
    checked = 0
    for request in corpus():
        body = request["body"]
        if request["path"] not in ("/push/single/cid", "/push/list/message") or "push_message" not in body:
            continue
        if "revoke" in body["push_message"]:
            continue  # a revoke shows nothing: nothing to stamp
        parts = {k: body[k] for k in ("push_message", "push_channel") if k in body}
        stamped = with_replace_ids(MessageTemplate.from_dict(parts), "camp-sdk").to_dict()
        if request["path"] == "/push/list/message":
            validate_list_message({**body, **stamped})
        else:
            validate_single({**body, **stamped}, "cid")
        checked += 1
    assert checked > 0


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["single", "batch", "list"])
def test_every_mode_sends_and_records_the_ids(tmp_path: Path, mode: str) -> None:
    """Each delivery carries the sidecar's notify_id and collapse id, in every mode."""
    source = write_recipients(tmp_path / "in.csv", 12)
    out = tmp_path / "out.jsonl"
    with ThreadedMock() as served:
        args = ("--title", "Hi", "--body", "B", "--no-progress", "--mode", mode)
        assert run_cli("send", source, "--out", out, *args, env=served.env).code == 0
        ids = read_meta(out)["replace_ids"]
        assert ids["getui"] == ids["ups"] == derive_notify_id(read_meta(out)["campaign_id"])
        for line in read_results(out):
            [delivery] = served.call(served.mock.delivery_log, line["cid"])
            assert (delivery.notify_id, delivery.collapse_id) == (ids["getui"], ids["ios"])


@pytest.mark.integration
def test_a_harmony_send_is_revoked_on_harmony_too(tmp_path: Path) -> None:
    """A send whose message had a harmony notification: the recall's revoke carries harmony.revoke."""
    message = tmp_path / "m.json"
    message.write_text(json.dumps(full_message()), encoding="utf-8")
    source = write_recipients(tmp_path / "in.csv", 5)
    out = tmp_path / "out.jsonl"
    with ThreadedMock(record_bodies=50) as served:
        sent = run_cli("send", source, "--out", out, "--message", message, "--no-progress", env=served.env)
        assert sent.code == 0, sent.err
        assert read_meta(out)["replace_ids"]["harmony"] == derive_notify_id(read_meta(out)["campaign_id"])
        assert run_cli("recall", out, env=served.env).code == 0
        bodies = served.call(served.mock.accepted_bodies, "push/single/batch/cid")
        revokes = [item for body in bodies for item in body["msg_list"] if "revoke" in item["push_message"]]
        assert len(revokes) == 5
        assert all(
            item["push_channel"]["harmony"]["revoke"]
            == {"old_task_id": item["push_message"]["revoke"]["old_task_id"]}
            for item in revokes
        )
        assert all(item["push_message"]["revoke"]["force"] is False for item in revokes)


def test_a_variants_ids_replace_only_the_campaigns_derived_ones() -> None:
    """variant_ids: where the campaign's derived id stood the variant's stood; a template's own id stays."""
    from getui_async.messages import ReplaceIds, derive_collapse_id, derive_notify_id
    from getui_async.messages.replace import variant_ids

    recorded = ReplaceIds(
        getui=derive_notify_id("camp"), ups=77, harmony=None, ios=derive_collapse_id("camp")
    )
    ids = variant_ids(recorded, "camp", "B")
    assert ids.getui == derive_notify_id("camp", "B") != recorded.getui
    assert ids.ios == derive_collapse_id("camp", "B") != recorded.ios
    assert (ids.ups, ids.harmony) == (77, None)
