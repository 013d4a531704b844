"""Every message Getui's own Java SDK sent is accepted by MessageTemplate and sent on unchanged (#10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.messages import MessageTemplate, single_body

CORPUS = Path(__file__).parent / "sdk_messages" / "sdk-messages.jsonl"
ENTRIES: list[dict[str, Any]] = [_json.loads(line) for line in CORPUS.read_bytes().splitlines() if line]


def test_corpus_holds_every_sdk_push() -> None:
    """The extract holds the 33 push messages of the capture, string-typed numbers among them."""
    assert len(ENTRIES) == 33
    notes = [entry["message"]["push_message"].get("notification", {}) for entry in ENTRIES]
    assert any(isinstance(note.get("notify_id"), str) for note in notes)
    assert any(isinstance(note.get("channel_level"), str) for note in notes)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"req{e['request']}{e['path'].replace('/', '-')}")
def test_sdk_message_is_accepted_and_sent_unchanged(entry: dict[str, Any]) -> None:
    """from_dict accepts the SDK's message, and the bytes sent decode to exactly what the SDK sent."""
    template = MessageTemplate.from_dict(entry["message"])
    rendered = template.shared()
    assert _json.loads(rendered.json) == entry["message"]
    body = _json.loads(single_body("req-0123456789", "cid", "c" * 32, rendered))
    assert {key: body[key] for key in entry["message"]} == entry["message"]
