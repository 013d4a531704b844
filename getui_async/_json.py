"""The one place that encodes and decodes JSON (orjson), so a swap or an option change is one edit."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "dumps_line", "dumps_sorted", "loads"]

JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON bytes."""
    return orjson.dumps(obj)


def dumps_line(obj: Any) -> bytes:
    """Encode ``obj`` as one JSON line terminated by ``\\n`` (for JSONL files)."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def dumps_sorted(obj: Any) -> bytes:
    """Encode with sorted keys: a canonical form for hashing templates and fingerprints."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON; raises :data:`JSONDecodeError` (a ``ValueError``) on bad input."""
    return orjson.loads(data)
