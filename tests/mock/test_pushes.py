"""The mock's push endpoints: replies, recorded deliveries, idempotency, batches, list tasks and quotas."""

from __future__ import annotations

import re

import pytest

from getui_async.mock import Delivery
from tests.conftest import FakeClock, alias_body, list_message_body, notification, single_body

pytestmark = pytest.mark.integration

STATUSES = {"successed_online", "successed_offline", "successed_ignore"}


def batch(*items, is_async=None):
    body = {"msg_list": list(items)}
    if is_async is not None:
        body["is_async"] = is_async
    return body


def item(n: int, cid: str | None = None, **overrides):
    return single_body(cid=cid or f"cid-{n:04d}", request_id=f"req-batch-{n:04d}", **overrides)


async def create_list_task(api, **overrides) -> str:
    reply = await api.post("/push/list/message", list_message_body(**overrides))
    assert reply.code == 0, reply.body
    return reply.data["taskid"]


# --- single pushes ---------------------------------------------------------------------------------------


async def test_single_push_is_delivered_and_recorded(mock_getui, getui_http):
    """A single push answers {taskid: {cid: status}} and records taskid, request_id, notify_id, title."""
    api = await getui_http(mock_getui)
    body = single_body(cid="cid-a", request_id="req-single-01")
    body["push_message"]["notification"] = notification(notify_id=77, title="Sale")
    reply = await api.post("/push/single/cid", body)
    assert (reply.status, reply.code) == (200, 0)
    [(taskid, statuses)] = reply.data.items()
    assert re.fullmatch(r"RASS_\d{4}_[0-9a-f]{32}", taskid)
    assert list(statuses) == ["cid-a"]
    assert statuses["cid-a"] in STATUSES
    assert mock_getui.deliveries == {"cid-a": 1}
    assert mock_getui.delivery_log("cid-a") == [
        Delivery(taskid, "req-single-01", 77, "Sale", "push/single/cid")
    ]


async def test_statuses_are_a_seeded_function_of_the_cid(make_mock, getui_http):
    """The same seed gives every cid the same status on every server; a different seed changes some."""
    cids = [f"cid-{n:04d}" for n in range(60)]

    async def statuses(seed: int) -> list[str]:
        api = await getui_http(await make_mock(seed=seed))
        reply = await api.post("/push/single/batch/cid", batch(*(item(n, cid) for n, cid in enumerate(cids))))
        return [next(iter(per_cid.values())) for per_cid in reply.data.values()]

    first, again, other = await statuses(1), await statuses(1), await statuses(2)
    assert first == again
    assert first != other
    assert {"successed_online", "successed_offline"} <= set(first)


async def test_status_proportions_follow_the_config(make_mock, getui_http):
    """online_ratio=0 and ignore_ratio=1 make every cid successed_ignore."""
    api = await getui_http(await make_mock(online_ratio=0.0, ignore_ratio=1.0))
    reply = await api.post("/push/single/batch/cid", batch(*(item(n) for n in range(20))))
    assert {s for per_cid in reply.data.values() for s in per_cid.values()} == {"successed_ignore"}


@pytest.mark.parametrize("cid", ["invalid-cid-1", "listed-bad-cid"])
async def test_an_invalid_cid_is_target_user_is_invalid(make_mock, getui_http, cid):
    """A cid in invalid_cids or with invalid_cid_prefix is 400/20001 'target user is invalid'."""
    api = await getui_http(await make_mock(invalid_cids={"listed-bad-cid"}))
    reply = await api.post("/push/single/cid", single_body(cid=cid))
    assert (reply.status, reply.code, reply.msg) == (400, 20001, "target user is invalid")
    assert api.mock.deliveries == {}


async def test_alias_push_reaches_every_mapped_cid(make_mock, getui_http):
    """An alias maps to its configured cids; an unmapped alias is the synthetic cid 'alias:{alias}'."""
    mock = await make_mock(aliases={"alice": ["cid-a1", "cid-a2"]})
    api = await getui_http(mock)
    mapped = await api.post("/push/single/alias", alias_body("alice", request_id="req-alias-001"))
    synthetic = await api.post("/push/single/alias", alias_body("bob", request_id="req-alias-002"))
    assert set(next(iter(mapped.data.values()))) == {"cid-a1", "cid-a2"}
    assert set(next(iter(synthetic.data.values()))) == {"alias:bob"}
    assert dict(mock.deliveries) == {"cid-a1": 1, "cid-a2": 1, "alias:bob": 1}
    assert mock.delivery_log("alias:bob")[0].endpoint == "push/single/alias"


async def test_a_repeated_request_id_is_not_delivered_again(mock_getui, getui_http):
    """The same request_id twice: one delivery, the repeat answers code 0 with empty data (default)."""
    api = await getui_http(mock_getui)
    first = await api.post("/push/single/cid", single_body(request_id="req-repeat-01"))
    again = await api.post("/push/single/cid", single_body(request_id="req-repeat-01"))
    assert first.data != {}
    assert (again.status, again.code, again.data) == (200, 0, {})
    assert mock_getui.deliveries == {"cid-0001": 1}
    assert mock_getui.stats().duplicates_dropped == 1


async def test_duplicate_reply_error_mode(make_mock, getui_http):
    """duplicate_reply='error' answers a repeat with 400/20001 'request_id cannot be repeat.'."""
    api = await getui_http(await make_mock(duplicate_reply="error"))
    await api.post("/push/single/cid", single_body(request_id="req-repeat-01"))
    again = await api.post("/push/single/cid", single_body(request_id="req-repeat-01"))
    assert (again.status, again.code, again.msg) == (400, 20001, "request_id cannot be repeat.")
    assert api.mock.stats().deliveries == 1


async def test_a_refused_request_id_can_be_sent_again(make_mock, getui_http):
    """Only delivered request_ids are remembered: a push refused for its quota goes through later."""
    api = await getui_http(await make_mock(daily_quota=1))
    await api.post("/push/single/cid", single_body(cid="cid-x", request_id="req-first-001"))
    refused = await api.post("/push/single/cid", single_body(cid="cid-y", request_id="req-second-01"))
    assert refused.code == 30009
    api.mock.configure(daily_quota=2)
    assert (await api.post("/push/single/cid", single_body(cid="cid-y", request_id="req-second-01"))).data


# --- batch pushes ----------------------------------------------------------------------------------------


async def test_sync_batch_answers_one_taskid_per_item(mock_getui, getui_http):
    """A sync batch delivers every item and answers {taskid_i: {cid_i: status}}."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/batch/cid", batch(*(item(n) for n in range(3))))
    assert reply.code == 0
    assert len(reply.data) == 3
    assert sorted(cid for per_cid in reply.data.values() for cid in per_cid) == [
        "cid-0000",
        "cid-0001",
        "cid-0002",
    ]
    assert mock_getui.delivery_log("cid-0001")[0].request_id == "req-batch-0001"


async def test_async_batch_answers_without_data_but_delivers(mock_getui, getui_http):
    """is_async=true answers code 0 with no data, and the items are still delivered."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/batch/cid", batch(item(1), item(2), is_async=True))
    assert (reply.code, "data" in reply.body) == (0, False)
    assert len(mock_getui.deliveries) == 2


@pytest.mark.parametrize(
    ("count", "msg"), [(0, "msg_list can not be empty"), (201, "msg_list size over limit")]
)
async def test_batch_size_limits(mock_getui, getui_http, count, msg):
    """msg_list holds 1..200 items."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/batch/cid", batch(*(item(n) for n in range(count))))
    assert (reply.code, reply.msg) == (20001, msg)


async def test_batch_of_200_is_accepted(mock_getui, getui_http):
    """Exactly 200 items is within the limit."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/batch/cid", batch(*(item(n) for n in range(200))))
    assert (reply.code, len(reply.data)) == (0, 200)


async def test_an_invalid_item_fails_the_whole_batch_by_default(mock_getui, getui_http):
    """batch_invalid_item='fail_batch': the item's 20001 msg, and nothing of the batch is delivered."""
    api = await getui_http(mock_getui)
    reply = await api.post("/push/single/batch/cid", batch(item(1), item(2, cid="invalid-2"), item(3)))
    assert (reply.status, reply.code, reply.msg) == (400, 20001, "target user is invalid")
    assert mock_getui.deliveries == {}


async def test_drop_item_mode_delivers_the_valid_items(make_mock, getui_http):
    """batch_invalid_item='drop_item': the invalid item is left out of data, the others are delivered."""
    api = await getui_http(await make_mock(batch_invalid_item="drop_item"))
    bad_title = item(2, push_message={"notification": notification(title="t" * 51)})
    reply = await api.post("/push/single/batch/cid", batch(item(1), bad_title, item(3, cid="invalid-3")))
    assert reply.code == 0
    assert sorted(cid for per_cid in reply.data.values() for cid in per_cid) == ["cid-0001"]
    assert dict(api.mock.deliveries) == {"cid-0001": 1}
    assert api.mock.stats().invalid_items_dropped == 2


async def test_batch_items_with_seen_request_ids_are_omitted(mock_getui, getui_http):
    """A batch item whose request_id was delivered before, or repeats within the batch, is dropped."""
    api = await getui_http(mock_getui)
    await api.post("/push/single/cid", single_body(cid="cid-0001", request_id="req-batch-0001"))
    repeat_in_batch = single_body(cid="cid-0009", request_id="req-batch-0002")
    reply = await api.post("/push/single/batch/cid", batch(item(1), item(2), repeat_in_batch))
    assert [cid for per_cid in reply.data.values() for cid in per_cid] == ["cid-0002"]
    assert dict(mock_getui.deliveries) == {"cid-0001": 1, "cid-0002": 1}
    assert mock_getui.stats().duplicates_dropped == 2


async def test_batch_alias_items_use_alias_audiences(make_mock, getui_http):
    """/push/single/batch/alias takes alias items and answers per resolved cid."""
    api = await getui_http(await make_mock(aliases={"al": ["c1", "c2"]}))
    reply = await api.post("/push/single/batch/alias", batch(alias_body("al", request_id="req-alias-001")))
    assert sorted(next(iter(reply.data.values()))) == ["c1", "c2"]


# --- list pushes -----------------------------------------------------------------------------------------


async def test_list_push_delivers_again_when_a_cid_is_resent(mock_getui, getui_http):
    """List pushes have no request_id: sending a cid twice delivers twice (at-least-once) and is counted."""
    api = await getui_http(mock_getui)
    body = list_message_body()
    body["push_message"]["notification"] = notification(notify_id=5, title="List")
    taskid = (await api.post("/push/list/message", body)).data["taskid"]
    assert re.fullmatch(r"RASL-\d{4}_[0-9a-f]{32}", taskid)
    first = await api.post("/push/list/cid", {"audience": {"cid": ["c1", "c2"]}, "taskid": taskid})
    again = await api.post("/push/list/cid", {"audience": {"cid": ["c2"]}, "taskid": taskid})
    assert set(first.data[taskid]) == {"c1", "c2"}
    assert list(again.data[taskid]) == ["c2"]
    assert dict(mock_getui.deliveries) == {"c1": 1, "c2": 2}
    assert mock_getui.delivery_log("c2") == [Delivery(taskid, None, 5, "List", "push/list/cid")] * 2
    stats = mock_getui.stats()
    assert (stats.deliveries, stats.distinct_cids, stats.redeliveries) == (3, 2, 1)


async def test_list_push_refuses_more_cids_than_the_chunk_limit(make_mock, getui_http):
    """More than list_chunk_limit cids in one call is 20001 'cid size over limit'."""
    api = await getui_http(await make_mock(list_chunk_limit=3))
    taskid = await create_list_task(api)
    ok = await api.post("/push/list/cid", {"audience": {"cid": ["a", "b", "c"]}, "taskid": taskid})
    over = await api.post("/push/list/cid", {"audience": {"cid": ["a", "b", "c", "d"]}, "taskid": taskid})
    assert ok.code == 0
    assert (over.code, over.msg) == (20001, "cid size over limit")


async def test_list_push_needs_a_live_task(make_mock, getui_http):
    """An unknown, expired (settings.ttl) or stopped taskid is 20001 'taskid is invalid'."""
    clock = FakeClock()
    api = await getui_http(await make_mock(clock=clock))
    unknown = await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": "RASL-0101_nope"})
    assert unknown.msg == "taskid is invalid"
    short_lived = await create_list_task(api, settings={"ttl": 60_000})
    stopped = await create_list_task(api)
    assert (await api.call("DELETE", f"/task/{stopped}")).code == 0
    clock.advance(59)
    assert (await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": short_lived})).code == 0
    clock.advance(1)
    expired = await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": short_lived})
    halted = await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": stopped})
    assert (expired.msg, halted.msg) == ("taskid is invalid", "taskid is invalid")


async def test_a_list_task_lives_two_hours_by_default(make_mock, getui_http):
    """Without settings.ttl a list task is usable for list_task_ttl_s (2 h)."""
    clock = FakeClock()
    api = await getui_http(await make_mock(clock=clock))
    taskid = await create_list_task(api)
    clock.advance(7199)
    assert (await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": taskid})).code == 0
    clock.advance(1)
    assert (await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": taskid})).code == 20001


async def test_invalid_cids_in_a_list_push_are_dropped_or_fail(make_mock, getui_http):
    """list_invalid_cid='drop' leaves invalid cids out; 'fail' refuses the whole call."""
    api = await getui_http(await make_mock())
    taskid = await create_list_task(api)
    reply = await api.post("/push/list/cid", {"audience": {"cid": ["good", "invalid-1"]}, "taskid": taskid})
    assert list(reply.data[taskid]) == ["good"]
    api.mock.configure(list_invalid_cid="fail")
    failed = await api.post("/push/list/cid", {"audience": {"cid": ["good2", "invalid-1"]}, "taskid": taskid})
    assert (failed.code, failed.msg) == (20001, "target user is invalid")
    assert dict(api.mock.deliveries) == {"good": 1}


async def test_list_alias_push_with_alias_detail(make_mock, getui_http):
    """need_alias_detail=true answers {taskid: {alias: {cid: status}}}; otherwise {taskid: {cid: status}}."""
    api = await getui_http(await make_mock(aliases={"al": ["c1", "c2"]}))
    taskid = await create_list_task(api)
    detail = await api.post(
        "/push/list/alias",
        {"audience": {"alias": ["al", "zed"]}, "taskid": taskid, "need_alias_detail": True},
    )
    flat = await api.post("/push/list/alias", {"audience": {"alias": ["al"]}, "taskid": taskid})
    assert {alias: sorted(cids) for alias, cids in detail.data[taskid].items()} == {
        "al": ["c1", "c2"],
        "zed": ["alias:zed"],
    }
    assert sorted(flat.data[taskid]) == ["c1", "c2"]
    assert api.mock.deliveries["c1"] == 2


async def test_async_list_push_has_no_data(mock_getui, getui_http):
    """is_async=true on a list push answers without data and still delivers."""
    api = await getui_http(mock_getui)
    taskid = await create_list_task(api)
    reply = await api.post("/push/list/cid", {"audience": {"cid": ["a"]}, "taskid": taskid, "is_async": True})
    assert (reply.code, "data" in reply.body) == (0, False)
    assert mock_getui.deliveries["a"] == 1


# --- quota, users and reports ----------------------------------------------------------------------------


async def test_daily_quota_refuses_pushes_beyond_it_until_the_next_day(make_mock, getui_http):
    """Recipients beyond daily_quota get 403/quota_code (list: list_quota_code); a new day resets it."""
    clock = FakeClock()
    api = await getui_http(await make_mock(clock=clock, daily_quota=3, token_lifetime_s=3 * 86_400))
    assert (await api.post("/push/single/batch/cid", batch(item(1), item(2)))).code == 0
    over = await api.post("/push/single/batch/cid", batch(item(3), item(4)))  # 2 more would make 4 > 3
    assert (over.status, over.code) == (403, 30009)
    taskid = await create_list_task(api)
    list_over = await api.post("/push/list/cid", {"audience": {"cid": ["a", "b"]}, "taskid": taskid})
    assert (list_over.status, list_over.code) == (403, 30008)
    assert (await api.post("/push/single/cid", item(5))).code == 0  # exactly 3
    clock.advance(86_400)
    assert (await api.post("/push/single/cid", item(6))).code == 0
    stats = api.mock.stats()
    assert (stats.quota_refusals, stats.deliveries) == (2, 4)


async def test_user_status_and_detail(make_mock, getui_http):
    """/user/status answers online/offline per valid cid; /user/detail splits valid and invalid cids."""
    api = await getui_http(await make_mock(online_ratio=1.0, ignore_ratio=0.0))
    status = await api.get("/user/status/c1,c2,invalid-9")
    assert {cid: s["status"] for cid, s in status.data.items()} == {"c1": "online", "c2": "online"}
    assert isinstance(status.data["c1"]["last_login_time"], int)
    detail = await api.get("/user/detail/c1,invalid-9")
    assert (list(detail.data["validCids"]), detail.data["invalidCids"]) == (["c1"], ["invalid-9"])
    too_many = await api.get("/user/status/" + ",".join(f"c{n}" for n in range(1001)))
    assert too_many.msg == "cid size over limit"


async def test_report_counts_list_task_deliveries(make_mock, getui_http):
    """/report/push/task reports a list task's targets and deliveries; unknown taskids are left out."""
    api = await getui_http(await make_mock(online_ratio=1.0, ignore_ratio=0.0, display_ratio=1.0))
    taskid = await create_list_task(api)
    await api.post("/push/list/cid", {"audience": {"cid": ["a", "b", "invalid-c"]}, "taskid": taskid})
    reply = await api.get(f"/report/push/task/{taskid},RASL-0000_unknown")
    assert list(reply.data) == [taskid]
    total = reply.data[taskid]["total"]
    assert (total["target_num"], total["msg_num"], total["receive_num"], total["display_num"]) == (3, 2, 2, 2)


async def test_report_count_shows_the_remaining_quota(make_mock, getui_http):
    """/report/push/count reports the daily quota and what is left of it."""
    api = await getui_http(await make_mock(daily_quota=10))
    await api.post("/push/single/cid", single_body())
    reply = await api.get("/report/push/count")
    assert reply.data["gt"]["app"] == {"total_num": 10, "remain_num": 9, "push_num": 1, "limit": True}
