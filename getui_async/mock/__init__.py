"""The bundled mock Getui REST v2 server: a strict, independent oracle with seeded fault injection.

::

    async with MockGetui(MockConfig(seed=1, http_5xx_rate=0.1)) as mock:   # 127.0.0.1, a free port
        ...  # point the client at mock.base_url with mock.app_id / app_key / master_secret
        assert mock.stats().redeliveries == 0

It imports nothing from getui_async except ``_json``: it parses and validates requests from the API
notes (docs/getui-api.md) alone, so a body-building bug in our client cannot hide behind the same bug here.
"""

from __future__ import annotations

from .config import DEMO_APP_ID, DEMO_APP_KEY, DEMO_MASTER_SECRET, MockConfig
from .server import MockGetui
from .state import Delivery, DeliveryEvent, DeliveryHook, MockStats
from .wire import http_status

__all__ = [
    "DEMO_APP_ID",
    "DEMO_APP_KEY",
    "DEMO_MASTER_SECRET",
    "Delivery",
    "DeliveryEvent",
    "DeliveryHook",
    "MockConfig",
    "MockGetui",
    "MockStats",
    "http_status",
]
