"""The mock's recall levers: stopping list tasks, revoke messages, overrides, and the delivery hook."""

from __future__ import annotations

import pytest

from getui_async.mock import DeliveryEvent
from tests.conftest import FakeClock, list_message_body, notification, single_body

pytestmark = pytest.mark.integration


def revoke_body(cid: str, old_task_id: str, request_id: str, *, force: bool = False, vendor: bool = True):
    """A single push revoking ``old_task_id`` on ``cid``: Getui's channel and the vendor's together."""
    body = single_body(cid=cid, request_id=request_id)
    body["push_message"] = {"revoke": {"old_task_id": old_task_id, "force": force}}
    if vendor:
        body["push_channel"] = {"android": {"ups": {"revoke": {"old_task_id": old_task_id}}}}
    return body


async def send_single(api, cid: str, request_id: str, **notification_fields) -> str:
    body = single_body(cid=cid, request_id=request_id)
    body["push_message"]["notification"] = notification(**notification_fields)
    reply = await api.post("/push/single/cid", body)
    assert reply.code == 0, reply.body
    [taskid] = reply.data
    return taskid


async def create_list_task(api, **overrides) -> str:
    reply = await api.post("/push/list/message", list_message_body(**overrides))
    assert reply.code == 0, reply.body
    return reply.data["taskid"]


def list_push(taskid: str, *cids: str):
    return {"audience": {"cid": list(cids)}, "taskid": taskid}


# --- stop ------------------------------------------------------------------------------------------------


async def test_a_stopped_list_task_delivers_nothing_further(mock_getui, getui_http):
    """DELETE /task/{RASL-...} answers 0; later list pushes of that task are refused and deliver nothing."""
    api = await getui_http(mock_getui)
    taskid = await create_list_task(api)
    assert (await api.post("/push/list/cid", list_push(taskid, "c1"))).code == 0
    stop = await api.call("DELETE", f"/task/{taskid}")
    assert (stop.status, stop.code) == (200, 0)
    after = await api.post("/push/list/cid", list_push(taskid, "c2"))
    assert (after.code, after.msg) == (20001, "taskid is invalid")
    assert dict(mock_getui.deliveries) == {"c1": 1}
    again = await api.call("DELETE", f"/task/{taskid}")
    assert again.code == 0
    assert mock_getui.stats().tasks_stopped == 1


async def test_a_single_or_batch_taskid_cannot_be_stopped(mock_getui, getui_http):
    """Only list tasks stop: a RASS_ taskid from a single push is 400/20001 'taskid is invalid'."""
    api = await getui_http(mock_getui)
    taskid = await send_single(api, "c1", "req-stop-single-1")
    reply = await api.call("DELETE", f"/task/{taskid}")
    assert (reply.status, reply.code, reply.msg) == (400, 20001, "taskid is invalid")
    assert mock_getui.stats().tasks_stopped == 0


# --- revoke ----------------------------------------------------------------------------------------------


async def test_a_revoke_of_a_delivered_task_is_counted_once(mock_getui, getui_http):
    """A revoke naming the task that reached the cid marks that (task, cid) revoked; it delivers nothing."""
    api = await getui_http(mock_getui)
    taskid = await send_single(api, "c1", "req-revoke-orig-1")
    reply = await api.post("/push/single/cid", revoke_body("c1", taskid, "req-revoke-0001"))
    assert reply.code == 0, reply.body
    [(revoke_taskid, statuses)] = reply.data.items()
    assert revoke_taskid != taskid
    assert list(statuses) == ["c1"]
    repeat = await api.post("/push/single/cid", revoke_body("c1", taskid, "req-revoke-0001"))
    assert (repeat.code, repeat.data) == (0, {})  # the same request_id is dropped, not revoked twice
    assert dict(mock_getui.revocations) == {(taskid, "c1"): 1}
    assert dict(mock_getui.deliveries) == {"c1": 1}
    stats = mock_getui.stats()
    assert (stats.revoke_pushes, stats.revoked, stats.revoked_cids) == (1, 1, 1)
    assert (stats.revokes_unmatched, stats.force_revokes, stats.force_revokes_all) == (0, 0, 0)
    control = await api.control("GET", "/revocations")
    assert control.data == {taskid: {"c1": 1}}


async def test_batch_revokes_of_a_list_task_reach_each_listed_cid(mock_getui, getui_http):
    """Batch items naming a list taskid revoke each cid that task reached; a second revoke is 'repeated'."""
    api = await getui_http(mock_getui)
    taskid = await create_list_task(api)
    assert (await api.post("/push/list/cid", list_push(taskid, "a", "b"))).code == 0
    items = [revoke_body(cid, taskid, f"req-revoke-b-{cid}") for cid in ("a", "b")]
    assert (await api.post("/push/single/batch/cid", {"msg_list": items})).code == 0
    again = revoke_body("a", taskid, "req-revoke-b-a2", vendor=False)
    assert (await api.post("/push/single/batch/cid", {"msg_list": [again]})).code == 0
    assert dict(mock_getui.revocations) == {(taskid, "a"): 2, (taskid, "b"): 1}
    stats = mock_getui.stats()
    assert (stats.revoked, stats.revoked_cids, stats.revokes_repeated) == (2, 2, 1)


async def test_a_list_message_carrying_a_revoke_revokes_its_cids(mock_getui, getui_http):
    """A list message carrying a revoke, pushed to the cids, revokes the old list task on each."""
    api = await getui_http(mock_getui)
    old = await create_list_task(api)
    assert (await api.post("/push/list/cid", list_push(old, "a", "b"))).code == 0
    recall = await create_list_task(api, push_message={"revoke": {"old_task_id": old, "force": False}})
    reply = await api.post("/push/list/cid", list_push(recall, "a", "b"))
    assert set(reply.data[recall]) == {"a", "b"}
    assert dict(mock_getui.revocations) == {(old, "a"): 1, (old, "b"): 1}
    assert dict(mock_getui.deliveries) == {"a": 1, "b": 1}


async def test_a_revoke_of_a_task_the_cid_never_got_is_a_counted_no_op(make_mock, getui_http):
    """By default a revoke of a task that never reached the cid is accepted, revokes nothing, counts."""
    mock = await make_mock()
    api = await getui_http(mock)
    taskid = await send_single(api, "c1", "req-unmatched-01")
    reply = await api.post("/push/single/cid", revoke_body("c2", taskid, "req-unmatched-02"))
    assert reply.code == 0
    assert dict(mock.revocations) == {}
    assert (mock.stats().revokes_unmatched, mock.stats().revoked) == (1, 0)


async def test_a_revoke_of_a_task_the_cid_never_got_can_be_refused(make_mock, getui_http):
    """Under revoke_unmatched='refuse' the same revoke is 400/20001 and reaches no one."""
    mock = await make_mock(revoke_unmatched="refuse")
    api = await getui_http(mock)
    taskid = await send_single(api, "c1", "req-unmatched-03")
    reply = await api.post("/push/single/cid", revoke_body("c2", taskid, "req-unmatched-04"))
    assert (reply.status, reply.code, reply.msg) == (400, 20001, "revoke.old_task_id is invalid")
    assert mock.stats().revoke_pushes == 0


async def test_force_on_an_unknown_task_deletes_every_notification_of_the_app(mock_getui, getui_http):
    """force: true naming a task the device never got: counted, and all its deliveries revoked."""
    api = await getui_http(mock_getui)
    first = await send_single(api, "c1", "req-force-orig-1")
    second = await send_single(api, "c1", "req-force-orig-2")
    body = revoke_body("c1", "RASS_0101_nope", "req-force-0001", force=True)
    reply = await api.post("/push/single/cid", body)
    assert reply.code == 0
    assert dict(mock_getui.revocations) == {(first, "c1"): 1, (second, "c1"): 1}
    stats = mock_getui.stats()
    assert (stats.force_revokes, stats.force_revokes_all, stats.revokes_unmatched) == (1, 1, 0)


async def test_a_revoke_the_original_channel_cannot_act_on_is_counted_unreachable(make_mock, getui_http):
    """Huawei, OPPO and iOS deliveries cannot be revoked; Getui's own needs push_message.revoke."""
    mock = await make_mock(online_ratio=0.0, ignore_ratio=0.0)  # every delivery goes through a vendor
    channels: dict[str, str] = {}
    mock.on_delivery.append(lambda event: channels.__setitem__(event.cid, event.channel))
    api = await getui_http(mock)
    items = [single_body(cid=f"v{n}", request_id=f"req-vendor-{n:04d}") for n in range(40)]
    reply = await api.post("/push/single/batch/cid", {"msg_list": items})
    taskid_of = {cid: taskid for taskid, statuses in reply.data.items() for cid in statuses}
    revokes = [revoke_body(cid, taskid, f"req-vendor-rv-{cid}") for cid, taskid in taskid_of.items()]
    assert (await api.post("/push/single/batch/cid", {"msg_list": revokes})).code == 0
    unreachable = [cid for cid, channel in channels.items() if channel in ("hw", "op", "ios")]
    assert 0 < len(unreachable) < 40
    stats = mock.stats()
    assert (stats.revoked, stats.revokes_unreachable) == (40, len(unreachable))


async def test_a_getui_channel_delivery_needs_the_push_message_revoke(make_mock, getui_http):
    """An online (Getui channel) delivery revoked by the vendor revoke alone is unreachable."""
    mock = await make_mock(online_ratio=1.0, ignore_ratio=0.0)
    api = await getui_http(mock)
    taskid = await send_single(api, "c1", "req-online-0001")
    vendor_only = single_body(cid="c1", request_id="req-online-0002", push_message={"transmission": "x"})
    vendor_only["push_channel"] = {"android": {"ups": {"revoke": {"old_task_id": taskid}}}}
    assert (await api.post("/push/single/cid", vendor_only)).code == 0
    assert mock.stats().revokes_unreachable == 1
    assert (await api.post("/push/single/cid", revoke_body("c1", taskid, "req-online-0003"))).code == 0
    assert (mock.stats().revokes_unreachable, mock.stats().revokes_repeated) == (1, 1)


@pytest.mark.parametrize(
    "push_message",
    [
        {"notification": notification(), "revoke": {"old_task_id": "RASS_1", "force": False}},
        {"transmission": "x", "revoke": {"old_task_id": "RASS_1", "force": False}},
        {"notification": notification(), "transmission": "x"},
    ],
)
async def test_two_of_notification_transmission_and_revoke_is_20001(mock_getui, getui_http, push_message):
    """push_message carries exactly one of notification, transmission and revoke."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/cid", single_body(push_message=push_message))
    assert (reply.status, reply.code) == (400, 20001)
    assert reply.msg == "please choose one of notification and transmission and revoke"


async def test_channel_revokes_naming_different_tasks_are_refused(mock_getui, getui_http):
    """Getui's and the vendor's revoke in one message must name the same task (the mock refuses otherwise)."""
    api = await getui_http(mock_getui)
    body = revoke_body("c1", "RASS_0101_a", "req-two-tasks-1")
    body["push_channel"]["android"]["ups"]["revoke"]["old_task_id"] = "RASS_0101_b"
    reply = await api.post("/push/single/cid", body)
    assert (reply.code, reply.msg) == (20001, "push_message.revoke.old_task_id is invalid")


async def test_a_harmony_revoke_takes_only_old_task_id(mock_getui, getui_http):
    """push_channel.harmony.revoke is {old_task_id}; force belongs to Getui's own channel."""
    api = await getui_http(mock_getui)
    body = revoke_body("c1", "RASS_0101_a", "req-harmony-rv-1", vendor=False)
    body["push_channel"] = {"harmony": {"revoke": {"old_task_id": "RASS_0101_a", "force": True}}}
    reply = await api.post("/push/single/cid", body)
    assert (reply.code, reply.msg) == (20001, "push_channel.harmony.revoke.force is invalid")


# --- override --------------------------------------------------------------------------------------------


async def test_a_repeated_notify_id_or_collapse_id_counts_as_an_override(mock_getui, getui_http):
    """A delivery with a notify_id (or apns-collapse-id) the cid already got replaces it: counted."""
    api = await getui_http(mock_getui)
    await send_single(api, "c1", "req-override-01", notify_id=7)
    await send_single(api, "c1", "req-override-02", notify_id=8)
    assert mock_getui.last_notify_id("c1") == 8
    await send_single(api, "c1", "req-override-03", notify_id=7)
    assert (mock_getui.last_notify_id("c1"), mock_getui.stats().overrides) == (7, 1)
    for n in (1, 2):
        body = single_body(cid="c2", request_id=f"req-collapse-0{n}")
        ios = {"aps": {"alert": {"title": "T", "body": "B"}}, "apns-collapse-id": "camp"}
        body["push_channel"] = {"ios": ios}
        assert (await api.post("/push/single/cid", body)).code == 0
    assert mock_getui.delivery_log("c2")[-1].collapse_id == "camp"
    assert mock_getui.stats().overrides == 2


# --- the delivery hook -----------------------------------------------------------------------------------


async def test_the_delivery_hook_is_called_once_per_delivery(make_mock, getui_http):
    """Every delivery (single, batch, list) reaches each on_delivery observer once; revokes do not."""
    clock = FakeClock()
    mock_getui = await make_mock(clock=clock)
    seen: list[DeliveryEvent] = []
    mock_getui.on_delivery.append(seen.append)
    api = await getui_http(mock_getui)
    single = await send_single(api, "s1", "req-hook-single")
    items = [single_body(cid=f"b{n}", request_id=f"req-hook-batch-{n}") for n in range(3)]
    batch = await api.post("/push/single/batch/cid", {"msg_list": items})
    listed = await create_list_task(api)
    await api.post("/push/list/cid", list_push(listed, "l1", "l2"))
    await api.post("/push/single/cid", revoke_body("s1", single, "req-hook-revoke"))
    assert sorted(e.cid for e in seen) == ["b0", "b1", "b2", "l1", "l2", "s1"]
    by_cid = {e.cid: e for e in seen}
    assert by_cid["s1"].taskid == single
    assert {by_cid[f"b{n}"].taskid for n in range(3)} == set(batch.data)
    assert by_cid["l1"].taskid == listed
    assert all(e.appid == mock_getui.app_id and len(e.msgid) == 24 and e.at == clock.now for e in seen)
    assert len({e.msgid for e in seen}) == len(seen)
    assert all(not e.clicked or e.displayed for e in seen)
    assert all((e.channel == "gt") == (e.status != "successed_offline") for e in seen)


async def test_a_failing_delivery_hook_does_not_fail_the_push(mock_getui, getui_http):
    """An observer that raises is counted in hook_errors; the push is still delivered and answered."""

    def broken(event: DeliveryEvent) -> None:
        raise RuntimeError("boom")

    mock_getui.on_delivery.append(broken)
    api = await getui_http(mock_getui)
    await send_single(api, "c1", "req-hook-broken")
    assert (dict(mock_getui.deliveries), mock_getui.stats().hook_errors) == ({"c1": 1}, 1)
