"""The mock's control endpoints (/_mock/*) mirror and steer the Python API at runtime."""

from __future__ import annotations

import pytest

from tests.conftest import single_body

pytestmark = pytest.mark.integration

PUSH = "/push/single/cid"


async def test_control_faults_patch_changes_behaviour_at_runtime(mock_getui, getui_http):
    """POST /_mock/faults applies a JSON patch; a bad value or key is refused with a message."""
    api = await getui_http(mock_getui)
    patched = await api.control("POST", "/faults", {"busy_rate": 1.0})
    assert (patched.code, patched.data["busy_rate"]) == (0, 1.0)
    assert (await api.post(PUSH, single_body())).code == 30019
    bad_value = await api.control("POST", "/faults", {"busy_rate": 2})
    bad_key = await api.control("POST", "/faults", {"no_such_setting": 1})
    assert (bad_value.status, bad_value.code) == (400, 20001)
    assert "busy_rate" in bad_value.msg
    assert bad_key.status == 400
    assert mock_getui.config.busy_rate == 1.0


async def test_configure_cannot_move_a_listening_server(mock_getui):
    """host and port are fixed once the server listens."""
    with pytest.raises(ValueError, match="port"):
        mock_getui.configure(port=1234)


async def test_control_stats_deliveries_and_reset(mock_getui, getui_http):
    """/_mock/stats and /_mock/deliveries mirror the Python API; /_mock/reset forgets deliveries and ids."""
    api = await getui_http(mock_getui)
    await api.post(PUSH, single_body())
    await api.post(PUSH, single_body())  # a duplicate
    stats = (await api.control("GET", "/stats")).data
    assert stats == mock_getui.stats().as_dict()
    assert (stats["deliveries"], stats["duplicates_dropped"], stats["requests"]["POST /push/single/cid"]) == (
        1,
        1,
        2,
    )
    assert (await api.control("GET", "/deliveries")).data == {"cid-0001": 1}
    assert (await api.control("POST", "/reset")).code == 0
    assert (mock_getui.stats().deliveries, dict(mock_getui.deliveries)) == (0, {})
    assert (await api.post(PUSH, single_body())).data != {}  # the request_id is forgotten too
    assert mock_getui.stats().requests == {"POST /push/single/cid": 1}
