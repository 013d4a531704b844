"""The result line record: what it writes, what it reads back, and what a failed line means."""

from __future__ import annotations

import pytest

from getui_async import _json
from getui_async.outcome import FailedKind, Status
from getui_async.results.record import ResultLine, decode_line, failed_kind, is_result_line, is_retryable


def sample(**extra: object) -> ResultLine:
    return ResultLine(
        line=3,
        record=2,
        kind="cid",
        target="c2",
        request_id="rid2",
        status=Status.FAILED,
        code=None,
        msg="timeout",
        taskid=None,
        attempts=4,
        ts="2026-12-01T10:00:00.000Z",
        extra=extra,
    )


def test_to_bytes_writes_the_contract_fields_in_order_then_the_extras() -> None:
    """One compact JSON object and a newline: the contract's fields first, extras after."""
    raw = sample(http_status=None, retryable=True).to_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    assert list(_json.loads(raw)) == [
        "line", "record", "cid", "request_id", "status", "code", "msg", "taskid", "attempts", "ts",
        "http_status", "retryable",
    ]  # fmt: skip


def test_parse_reads_back_what_to_bytes_wrote() -> None:
    """parse(to_bytes()) is the same record, for a cid and for an alias."""
    for line in (sample(retryable=True), sample()):
        assert ResultLine.parse(line.to_bytes()) == line
    alias = ResultLine.parse(b'{"line":1,"record":1,"alias":"a1","status":"accepted","ts":"t"}\n')
    assert (alias.kind, alias.target, alias.status) == ("alias", "a1", Status.ACCEPTED)


@pytest.mark.parametrize(
    "raw", [b"not json\n", b"[1, 2]\n", b'{"record": 1}\n', b'{"record": 1, "status": "lost"}\n']
)
def test_parse_refuses_what_is_not_a_result_line(raw: bytes) -> None:
    """Not JSON, not an object, no status, or a status the contract does not know: ValueError."""
    with pytest.raises(ValueError, match=r"result line|unknown status"):
        ResultLine.parse(raw)


def test_decode_line_and_shape() -> None:
    """decode_line gives an object or None; is_result_line wants a status and a record."""
    assert decode_line(b"[]") is None
    assert decode_line(b"{") is None
    obj = decode_line(b'{"record": 1, "status": "failed"}')
    assert obj is not None
    assert is_result_line(obj)
    assert not is_result_line({"cid": "x"})


def test_failed_kind_and_retryable_of_a_line() -> None:
    """The engine's retryable flag decides; a dead target is dead whatever the flag; others are final."""
    assert failed_kind({"status": "failed", "code": None, "retryable": True}) is FailedKind.RETRYABLE
    assert (
        failed_kind({"status": "failed", "code": 20001, "msg": "target user is invalid"}) is FailedKind.DEAD
    )
    assert failed_kind({"status": "failed", "code": 0}) is FailedKind.FINAL
    assert is_retryable(sample(retryable=True).to_dict())
    assert not is_retryable({**sample(retryable=True).to_dict(), "status": "accepted"})
