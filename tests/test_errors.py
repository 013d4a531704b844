"""The error tree: every documented Getui code maps to an action, replies and statuses map right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from getui_async.errors import (
    CODE_TABLE,
    Action,
    DuplicateRequestError,
    FatalApiError,
    HostChangedError,
    InvalidTargetError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    ServerBusyError,
    ServerError,
    TokenExpiredError,
    TransportError,
    error_for_reply,
    error_for_status,
)

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "getui-api.md"


def documented_codes() -> set[int]:
    """Codes in the first column of the return-code table of docs/getui-api.md §5."""
    text = API_DOC.read_text(encoding="utf-8")
    section = text.split("## 5.", 1)[1].split("\n## 6.", 1)[0]
    codes = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*\**(\d+)\**\s*(?:/\s*(\d+))?\s*\|", line)
        if m:
            codes.update(int(g) for g in m.groups() if g)
    return codes


def test_doc_table_is_parsed() -> None:
    """The parser finds the table (guards the next test against passing on an empty set)."""
    codes = documented_codes()
    assert {10001, 20001, 30009, 301} <= codes
    assert len(codes) >= 35


def test_every_documented_code_has_a_mapping() -> None:
    """A code listed in the API facts without a row in CODE_TABLE fails this test."""
    missing = sorted(documented_codes() - {0} - set(CODE_TABLE))
    assert missing == []


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (2, Action.RETRY),
        (30019, Action.RETRY),
        (10001, Action.REFRESH_TOKEN),
        (301, Action.SWITCH_HOST),
        (10005, Action.WAIT_WINDOW),
        (30012, Action.WAIT_WINDOW),
        (30015, Action.WAIT_WINDOW),
        (30018, Action.WAIT_WINDOW),
        (30008, Action.STOP_QUOTA),
        (30009, Action.STOP_QUOTA),
        (30004, Action.STOP_QUOTA),
        (10002, Action.STOP_FATAL),
        (20001, Action.REJECT),
        (30005, Action.REJECT),
    ],
)
def test_design_actions(code: int, action: Action) -> None:
    """The actions design.md prescribes for the codes users meet most."""
    assert CODE_TABLE[code].action is action
    assert error_for_reply(code, "m").action is action


def test_reply_classes() -> None:
    """error_for_reply builds the specific class, keeping code, msg and HTTP status."""
    exc = error_for_reply(30009, "over the daily total", http_status=403)
    assert isinstance(exc, QuotaExceededError)
    assert (exc.code, exc.msg, exc.http_status) == (30009, "over the daily total", 403)
    assert isinstance(error_for_reply(10005, "x"), RateLimitedError)
    assert isinstance(error_for_reply(10001, "x"), TokenExpiredError)
    assert isinstance(error_for_reply(30019, "busy"), ServerBusyError)
    assert isinstance(error_for_reply(5000, "io"), TransportError)


def test_20001_variants() -> None:
    """20001 splits into an invalid target, a repeated request_id, or a plain rejection."""
    assert isinstance(error_for_reply(20001, "target user is invalid"), InvalidTargetError)
    assert isinstance(error_for_reply(20001, "request_id cannot be repeat."), DuplicateRequestError)
    plain = error_for_reply(20001, "title size over limit")
    assert type(plain) is RejectedError


def test_301_carries_the_new_host() -> None:
    """A 301 reply's first domain becomes the error's base_url."""
    data = {"host_list": [{"domain_list": ["https://b.example/v2/"], "priority_gap": 0}]}
    exc = error_for_reply(301, "moved", data=data)
    assert isinstance(exc, HostChangedError)
    assert exc.base_url == "https://b.example/v2/"
    assert error_for_reply(301, "moved", data={"host_list": []}).base_url is None  # type: ignore[attr-defined]


def test_unknown_codes_follow_the_http_band() -> None:
    """A code we don't know is classified by status and never treated as success."""
    assert isinstance(error_for_reply(39999, "new", http_status=503), ServerError)
    assert isinstance(error_for_reply(39999, "new", http_status=403), RejectedError)
    assert isinstance(error_for_reply(39999, "new"), RejectedError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (500, ServerError),
        (502, ServerError),
        (404, FatalApiError),
        (405, FatalApiError),
        (429, RateLimitedError),
        (401, TokenExpiredError),
        (400, RejectedError),
        (200, ServerError),
    ],
)
def test_status_without_envelope(status: int, cls: type[Exception]) -> None:
    """HTTP replies without a Getui envelope map by status."""
    exc = error_for_status(status)
    assert type(exc) is cls
    assert exc.http_status == status
    assert exc.msg.startswith(f"HTTP {status}")


def test_error_text_has_code_and_status() -> None:
    """str() of an ApiError names Getui's msg, code and HTTP status for the logs."""
    assert str(error_for_reply(20001, "title size over limit", http_status=400)) == (
        "title size over limit (code 20001, HTTP 400)"
    )
