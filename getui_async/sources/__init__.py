"""Streaming recipient readers: CSV/TSV, JSONL, xlsx, stdin, or records in memory; Record / BadRecord out.

Every input record ends up as exactly one item, in input order: a :class:`Record` to send or a
:class:`BadRecord` (a ``rejected`` result line naming its line and field). Whole-input problems (missing,
unreadable, empty, a header without an id column, a corrupt gzip stream, an unknown format) raise
:class:`~getui_async.errors.InputError`. Modules by job:

- ``options``: :class:`SourceOptions` and the vocabularies (formats, encodings, delimiters)
- ``encodings``: BOM / UTF-8 / GB18030 detection and transcoding to UTF-8
- ``header``: header matching (trimmed, case-insensitive id columns, unnamed padding columns)
- ``text``: CSV/TSV/JSONL over files, gzip and pipes; ``xlsx``: workbooks; ``iterables``: mappings
- ``base``: the :class:`RecordSource` interface the engine reads; ``opening``: :func:`open_source`
"""

from __future__ import annotations

from typing import Final

from ._records import ALIAS_MAX_CHARS, CID_MAX_CHARS, BadRecord, Record, SourceItem
from .base import RecordSource
from .encodings import DETECT_BYTES
from .header import CID_NAMES
from .iterables import AsyncMappingSource, MappingSource
from .opening import format_from_name, open_source
from .options import DEFAULT_OPTIONS, DELIMITER_CHOICES, ENCODINGS, FORMATS, Encoding, Format, SourceOptions
from .text import MAX_LINE_BYTES, MAX_RECORD_BYTES, MAX_RECORD_LINES, TextSource
from .xlsx import XlsxSource

#: Auto-detection of a file's encoding reads this much of its start (the old name).
HEAD_BYTES: Final = DETECT_BYTES

__all__ = [
    "ALIAS_MAX_CHARS",
    "CID_MAX_CHARS",
    "CID_NAMES",
    "DEFAULT_OPTIONS",
    "DELIMITER_CHOICES",
    "DETECT_BYTES",
    "ENCODINGS",
    "FORMATS",
    "HEAD_BYTES",
    "MAX_LINE_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_LINES",
    "AsyncMappingSource",
    "BadRecord",
    "Encoding",
    "Format",
    "MappingSource",
    "Record",
    "RecordSource",
    "SourceItem",
    "SourceOptions",
    "TextSource",
    "XlsxSource",
    "format_from_name",
    "open_source",
]
