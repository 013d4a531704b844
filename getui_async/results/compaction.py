"""Compaction: rewrite a results file with only the last line of each record (after ``--retry-failed``
appended lines that supersede earlier ones), in constant memory and atomically."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import IO, Final

from getui_async.safe_open import stale_temps, temp_beside

from .reader import READ_CHUNK, RecordBitmap, lines_backwards
from .record import F_RECORD, decode_line
from .sidecar import ResultsWriteError, meta_path

__all__ = ["compact_results", "remove_stale_tmp"]

log = logging.getLogger(__name__)

#: The record number in a line our writer wrote (compact JSON). A quote inside a JSON string is
#: escaped with a backslash, so this can only match the key itself.
_RECORD_FIELD: Final = re.compile(rf'"{F_RECORD}":(\d+)[,}}]'.encode())


def remove_stale_tmp(results: Path) -> None:
    """Remove the temporaries a killed compaction or sidecar write left (the files themselves are whole)."""
    for tmp in stale_temps(results) + stale_temps(meta_path(results)):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            log.info("removed %s, left by a write that a killed run did not finish", tmp)


def compact_results(path: Path) -> int:
    """Rewrite ``path`` with only the last line of each record; returns the lines removed.

    Two passes in constant memory whatever the size: reading backwards, the first line met for a
    record is its last, so a bitmap of records met marks every other line for it in a bitmap of lines
    to drop (one bit per record and per line); then the kept lines are copied in file order to a new
    temporary beside it (unpredictable name, 0600, fsynced) renamed over ``path``, so a kill at any
    moment leaves either the old file or the new one, whole. The caller holds the run lock throughout. Raises
    :class:`ResultsWriteError` (the tmp is removed, ``path`` is untouched).
    """
    tmp: Path | None = None
    try:
        with path.open("rb") as src:
            size = os.fstat(src.fileno()).st_size
            drop, total = _superseded_lines(src, size)
            removed = len(drop)
            if not removed:
                return 0
            src.seek(0)
            fd, tmp = temp_beside(path)
            try:
                with os.fdopen(fd, "wb", buffering=READ_CHUNK, closefd=False) as dst:
                    index = total  # the backward index of the next line is index - 1
                    for raw in src:
                        if not raw.strip():
                            continue
                        index -= 1
                        if index not in drop:
                            dst.write(raw)
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise ResultsWriteError(path, exc) from None
    return removed


def _superseded_lines(src: IO[bytes], size: int) -> tuple[RecordBitmap, int]:
    """(lines to drop by backward index, line count): a line is dropped when a later line names the
    same record."""
    seen, drop = RecordBitmap(), RecordBitmap()
    index = 0
    find = _RECORD_FIELD.search
    for raw in lines_backwards(src, size):
        found = find(raw)  # much faster than decoding the line
        record = int(found[1]) if found else _record_of(raw)
        if record is not None and record > 0 and seen.add(record):
            drop.add(index)
        index += 1
    return drop, index


def _record_of(raw: bytes) -> int | None:
    """The record number of a line in another JSON layout (spaces after colons), decoded."""
    obj = decode_line(raw)
    record = obj.get(F_RECORD) if obj is not None else None
    return record if type(record) is int else None


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: some filesystems refuse to fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
