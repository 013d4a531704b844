"""Extract the message parts of every push in Getui's Java SDK capture into ``sdk-messages.jsonl``.

Run ``python tests/sdk_messages/extract.py CORPUS`` with the capture's path (in this project:
``../shared/conformance/java-sdk-requests.jsonl``, or tests/data/conformance/ once copied there).
Each output line is ``{"request": N, "path": ..., "message": {push_message, ...}}``, N being
the 0-based line of the request in the capture; a batch contributes one line per ``msg_list`` item.
Kept apart from tests/data, whose README lists recipient files only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PARTS = ("push_message", "push_channel", "settings", "group_name")
HERE = Path(__file__).parent


def extract(corpus: Path) -> list[dict[str, object]]:
    """One entry per push body (or batch item) that carries a ``push_message``."""
    out: list[dict[str, object]] = []
    for number, line in enumerate(corpus.read_text(encoding="utf-8").splitlines()):
        request = json.loads(line)
        body = request.get("body")
        if not isinstance(body, dict):
            continue
        for item in [body, *body.get("msg_list", [])]:
            if "push_message" in item:
                message = {key: item[key] for key in PARTS if key in item}
                out.append({"request": number, "path": request["path"], "message": message})
    return out


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: extract.py CORPUS.jsonl")
    corpus = Path(sys.argv[1])
    lines = [json.dumps(entry, ensure_ascii=False, sort_keys=True) for entry in extract(corpus)]
    (HERE / "sdk-messages.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} messages from {corpus}")


if __name__ == "__main__":
    main()
