"""The mock's reports agree with what it delivered: push count, task and group figures, accepted bodies."""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock, list_message_body, single_body

pytestmark = pytest.mark.integration

FIGURES = ("msg_num", "target_num", "receive_num", "display_num", "click_num")


def batch(*items):
    return {"is_async": False, "msg_list": list(items)}


async def list_task(api, **overrides) -> str:
    reply = await api.post("/push/list/message", list_message_body(**overrides))
    assert reply.code == 0, reply.body
    return reply.data["taskid"]


async def test_push_count_tracks_quota_and_pushes_by_kind(make_mock, getui_http):
    """report/push/count: one daily pool; push_num per kind; remain_num = quota - every recipient today."""
    clock = FakeClock()
    api = await getui_http(await make_mock(clock=clock, daily_quota=10, token_lifetime_s=3 * 86_400))
    items = [single_body(f"c{n}", request_id=f"req-count-{n:04d}") for n in range(3)]
    assert (await api.post("/push/single/batch/cid", batch(*items))).code == 0
    taskid = await list_task(api)
    assert (await api.post("/push/list/cid", {"audience": {"cid": ["l1", "l2"]}, "taskid": taskid})).code == 0
    gt = (await api.get("/report/push/count")).data["gt"]
    assert (gt["app"]["push_num"], gt["list"]["push_num"]) == (3, 2)
    assert gt["app"]["remain_num"] == gt["list"]["remain_num"] == 10 - 5
    assert gt["app"]["total_num"] == 10
    clock.advance(86_400)
    gt = (await api.get("/report/push/count")).data["gt"]
    assert (gt["app"]["push_num"], gt["list"]["remain_num"]) == (0, 10)


async def test_unlimited_quota_reports_minus_one(make_mock, getui_http):
    """Without daily_quota the count says no limit (-1 totals, limit false)."""
    api = await getui_http(await make_mock())
    entry = (await api.get("/report/push/count")).data["gt"]["list"]
    assert entry == {"total_num": -1, "remain_num": -1, "push_num": 0, "limit": False}


async def test_task_report_splits_channels_and_sums_to_total(make_mock, getui_http):
    """A list task's report has gt and vendor rows whose figures add up to its total."""
    api = await getui_http(
        await make_mock(online_ratio=0.5, ignore_ratio=0.1, display_ratio=0.5, click_ratio=0.5)
    )
    taskid = await list_task(api)
    cids = [f"cid-{n:03d}" for n in range(200)]
    for chunk in (cids[:100], cids[100:]):
        assert (await api.post("/push/list/cid", {"audience": {"cid": chunk}, "taskid": taskid})).code == 0
    report = (await api.get(f"/report/push/task/{taskid}")).data[taskid]
    channels = {k: v for k, v in report.items() if k != "total"}
    assert "gt" in channels
    assert len(channels) > 1
    for figure in FIGURES:
        assert report["total"][figure] == sum(row[figure] for row in channels.values())
    total = report["total"]
    assert total["target_num"] == total["msg_num"] == 200
    assert total["msg_num"] >= total["receive_num"] >= total["display_num"] >= total["click_num"] > 0
    assert api.mock.stats().deliveries == 200


async def test_group_report_covers_single_batch_and_list_pushes(make_mock, getui_http):
    """report/push/task_group/{name} adds up every push sent with that group_name, of any kind."""
    api = await getui_http(await make_mock(display_ratio=1.0, click_ratio=0.0))
    g = {"group_name": "spring_sale"}
    assert (await api.post("/push/single/cid", single_body("s1", request_id="req-group-0001", **g))).code == 0
    items = [single_body(f"b{n}", request_id=f"req-group-b{n:03d}", **g) for n in range(3)]
    assert (await api.post("/push/single/batch/cid", batch(*items))).code == 0
    assert (await api.post("/push/single/cid", single_body("other", request_id="req-nogroup-01"))).code == 0
    taskid = await list_task(api, **g)
    audience = {"cid": ["l1", "l2", "invalid-l3"]}
    assert (await api.post("/push/list/cid", {"audience": audience, "taskid": taskid})).code == 0
    data = (await api.get("/report/push/task_group/spring_sale")).data
    total = data["spring_sale"]["total"]
    assert (total["target_num"], total["msg_num"]) == (7, 6)
    assert total["click_num"] == 0
    assert (await api.get("/report/push/task_group/nothing")).data == {}


async def test_accepted_bodies_are_kept_per_endpoint_and_bounded(make_mock, getui_http):
    """Only accepted bodies are kept, the last record_bodies per endpoint, over /_mock/requests too."""
    api = await getui_http(await make_mock(record_bodies=2))
    for n in range(3):
        assert (await api.post("/push/single/cid", single_body(request_id=f"req-keep-{n:04d}"))).code == 0
    refused = await api.post("/push/single/cid", single_body(request_id="short"))
    assert refused.code == 20001
    kept = api.mock.accepted_bodies("push/single/cid")
    assert [b["request_id"] for b in kept] == ["req-keep-0001", "req-keep-0002"]
    over_http = await api.control("GET", "/requests?endpoint=push/single/cid")
    assert over_http.data == {"push/single/cid": kept}
    assert "push/single/cid" in (await api.control("GET", "/requests")).data
    await api.control("POST", "/reset")
    assert api.mock.accepted_bodies("push/single/cid") == []


async def test_user_detail_names_the_mocks_invalid_cids(make_mock, getui_http):
    """user/detail puts configured invalid cids and the invalid prefix in invalidCids."""
    api = await getui_http(await make_mock(invalid_cids=frozenset({"dead-1"})))
    data = (await api.get("/user/detail/ok-1,dead-1,invalid-2")).data
    assert (sorted(data["validCids"]), data["invalidCids"]) == (["ok-1"], ["dead-1", "invalid-2"])
