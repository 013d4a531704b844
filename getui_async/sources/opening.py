"""``open_source``: a path, ``-`` (stdin), or records a caller holds, to the right :class:`RecordSource`."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, BinaryIO, Final

from getui_async.errors import InputError

from .base import STDIN_NAME, RecordSource
from .fd_reader import FdReader
from .iterables import RECORDS_NAME, AsyncMappingSource, MappingSource
from .options import DEFAULT_OPTIONS, FORMATS, Format, SourceOptions
from .text import TextSource
from .xlsx import XlsxSource

__all__ = ["format_from_name", "open_source"]

_SUFFIXES: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}


def _checked_format(format: str, name: str) -> Format:
    if format not in FORMATS:
        raise InputError(name, f"unknown format {format!r}: use {', '.join(FORMATS)}")
    return format  # type: ignore[return-value]


def format_from_name(name: str) -> tuple[Format | None, bool]:
    """(format, gzipped) from the file name: .csv, .tsv, .jsonl, .ndjson (each optionally + .gz), .xlsx."""
    lower = os.path.basename(name).lower()
    gzipped = lower.endswith(".gz")
    stem = lower[: -len(".gz")] if gzipped else lower
    return _SUFFIXES.get(os.path.splitext(stem)[1]), gzipped


def open_source(
    path: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
    *,
    format: Format | None = None,
    stdin: BinaryIO | None = None,
    options: SourceOptions | None = None,
    name: str | None = None,
) -> RecordSource:
    """Open a recipients input for streaming.

    ``path`` is a file path, ``"-"`` for ``stdin`` (default: descriptor 0 through :class:`FdReader`,
    never ``sys.stdin.buffer``, whose lock a stalled reader thread would hold at exit), or an iterable or
    async iterable of mappings (records numbered from 1; ``name`` names them in messages). The format
    comes from the file name (``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``, each optionally ``.gz``, and
    ``.xlsx``); ``format`` (or ``options.format``) overrides it, and is required for stdin. Gzip is also
    recognised by its magic bytes. Raises :class:`InputError` for a missing, unreadable or unrecognised
    input, ``TypeError`` for something that is no input at all.
    """
    options = options or DEFAULT_OPTIONS
    format = format or options.format
    if not isinstance(path, (str, os.PathLike)):
        if isinstance(path, AsyncIterable):
            return AsyncMappingSource(path, name=name or RECORDS_NAME)
        if isinstance(path, Iterable) and not isinstance(path, (bytes, bytearray, Mapping)):
            return MappingSource(path, name=name or RECORDS_NAME)
        raise TypeError(
            "a source is a path, '-' for stdin, or an iterable or async iterable of mappings,"
            f" not {type(path).__name__}"
        )
    text = os.fspath(path)
    if text == "-":
        if format is None:
            raise InputError(STDIN_NAME, f"reading standard input needs a format: {', '.join(FORMATS)}")
        fmt = _checked_format(format, STDIN_NAME)
        if fmt == "xlsx":
            raise InputError(STDIN_NAME, "an .xlsx workbook cannot be read from standard input; give a path")
        stream: Any = stdin if stdin is not None else FdReader()
        streaming = not _is_regular(stream)
        return TextSource(
            name=STDIN_NAME, format=fmt, stream=stream, size=None, options=options, streaming=streaming
        )
    named, gzip_name = format_from_name(text)
    if format is not None:
        named = _checked_format(format, text)
    if named is None:
        raise InputError(
            text,
            "unknown format: name it .csv, .tsv, .jsonl or .ndjson (optionally .gz) or .xlsx,"
            " or give a format",
        )
    try:
        handle = open(text, "rb")  # noqa: SIM115 -- the source's close() closes it
    except FileNotFoundError as exc:
        raise InputError(text, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(text, "is a directory, not a file") from exc
    except PermissionError as exc:
        raise InputError(text, "permission denied") from exc
    except OSError as exc:
        raise InputError(text, f"cannot open: {exc.strerror or exc}") from exc
    info = os.fstat(handle.fileno())
    size = info.st_size if stat.S_ISREG(info.st_mode) else None
    if named == "xlsx":
        handle.close()
        if gzip_name:
            raise InputError(text, "a gzipped .xlsx is not supported: an .xlsx is already compressed")
        return XlsxSource(name=text, size=size, options=options)
    return TextSource(
        name=text,
        format=named,
        stream=handle,
        size=size,
        options=options,
        gzip_name=gzip_name,
        owned=handle,
        streaming=size is None,  # a FIFO or a character device: hand records on as they arrive
    )


def _is_regular(stream: Any) -> bool:
    """Whether reads of a stream never wait: a regular file, or one without a descriptor (in memory).

    Pipes, FIFOs, sockets and terminals may stall, so their records are handed on as they arrive.
    """
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # io.BytesIO and friends: nothing to wait for
        return True
