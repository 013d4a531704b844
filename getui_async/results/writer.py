"""The only writer of a results file: whole lines, appended with ``os.write``, never torn by a retry.

Bytes leave the buffer only once the OS took them (a short write keeps the rest). A write error is
raised as :class:`ResultsWriteError` with the buffer intact, so a later retry loses nothing. A kill can
still cut the last write short; on resume the file is first truncated back to its last complete line
(the one repair, reported): what remains is always whole lines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from getui_async import _json
from getui_async.errors import ResultsFileError
from getui_async.safe_open import PlantedLink, open_private, refuse_links

from .compaction import remove_stale_tmp
from .lock import LIBRARY_WORDS, Words
from .reader import cut_torn_tail
from .record import ResultLine
from .sidecar import ResultsWriteError, RunMeta, meta_path, read_meta, write_meta

__all__ = ["ResultsWriter"]


def _encode(result: Mapping[str, Any] | ResultLine) -> bytes:
    return result.to_bytes() if isinstance(result, ResultLine) else _json.dumps_line(result)


class ResultsWriter:
    """Appends result lines to ``path``; the file and its sidecar are created readable by the owner only.

    Use :meth:`open`; then :meth:`write` per record, :meth:`flush` after each request's lines,
    ``flush(fsync=True)`` at checkpoints, :meth:`close` at the end. Bytes leave the buffer only once
    ``os.write`` took them, so a failed flush can be retried without losing or tearing a line.
    """

    def __init__(
        self, path: Path, fd: int, *, flush_lines: int, repaired: int = 0, created: bool = False
    ) -> None:
        self.path = path
        self._fd = fd
        self._buffer = bytearray()
        self._buffered_lines = 0
        self._flush_lines = flush_lines
        self.lines_written = 0
        #: Bytes of a torn last line cut when the file was opened (0: none).
        self.repaired = repaired
        #: This open created the file and its sidecar (a new run, not a resume into an earlier file).
        self.created = created

    @classmethod
    def open(
        cls,
        path: Path,
        meta: RunMeta,
        *,
        resume: bool,
        flush_lines: int = 1024,
        words: Words = LIBRARY_WORDS,
    ) -> ResultsWriter:
        """Open for appending, after checking the file may be used for this run."""
        sidecar = meta_path(path)
        try:
            refuse_links([path, sidecar])
        except PlantedLink as exc:
            raise ResultsFileError(str(exc)) from None
        remove_stale_tmp(path)
        existed = path.exists()
        has_lines = existed and path.stat().st_size > 0
        if has_lines and not resume:
            raise ResultsFileError(
                f"{path} already holds results; pass {words.resume} to continue that run, "
                f"or choose another {words.out}"
            )
        if has_lines:
            stored = read_meta(path)
            if stored is None:
                raise ResultsFileError(
                    f"cannot resume: {sidecar} is missing or unreadable, so {path} cannot be matched "
                    "to this input and message"
                )
            why = meta.mismatch(stored)
            if why:
                raise ResultsFileError(f"cannot resume into {path}: {why}")
        else:
            write_meta(path, meta, keep_runs=resume)
        try:
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        except OSError as exc:
            raise ResultsFileError(f"cannot write results to {path}: {exc.strerror}") from None
        try:
            repaired = cut_torn_tail(fd, path)
        except OSError as exc:
            os.close(fd)
            raise ResultsFileError(f"cannot repair {path}: {exc.strerror}") from None
        created = not existed and not resume
        return cls(path, fd, flush_lines=flush_lines, repaired=repaired, created=created)

    @property
    def buffered(self) -> int:
        """Lines waiting for the OS."""
        return self._buffered_lines

    def write(self, result: Mapping[str, Any] | ResultLine) -> None:
        """Queue one result line; it reaches the file at the next flush (at most ``flush_lines`` away)."""
        self._buffer += _encode(result)
        self._buffered_lines += 1
        if self._buffered_lines >= self._flush_lines:
            self.flush()

    def hold(self, result: Mapping[str, Any] | ResultLine) -> None:
        """Queue one result line without flushing (after a write error, until the last try)."""
        self._buffer += _encode(result)
        self._buffered_lines += 1

    def hold_lines(self, lines: bytes, count: int) -> None:
        """Queue ``count`` encoded lines at once (a reply's, see :func:`encode_lines`), without flushing."""
        self._buffer += lines
        self._buffered_lines += count

    def flush(self, *, fsync: bool = False) -> None:
        """Hand buffered lines to the OS (looping on short writes); fsync when asked.

        Raises :class:`ResultsWriteError`; what the OS did not take stays buffered for the next try.
        """
        buffer = self._buffer
        if buffer:
            done = 0
            try:
                # The buffer itself, not a copy (a single push's line: 4.4 → 3.2 µs a flush, timeit). The
                # rest after a short write (rare) is a copied slice: a view of the buffer held by an
                # exception's traceback would keep it from being resized.
                done = os.write(self._fd, buffer)
                while done < len(buffer):
                    done += os.write(self._fd, buffer[done:])
            except OSError as exc:
                self._consume(done)
                raise ResultsWriteError(self.path, exc) from None
            self.lines_written += self._buffered_lines
            self._buffered_lines = 0
            buffer.clear()
        if fsync:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise ResultsWriteError(self.path, exc) from None

    def _consume(self, written: int) -> None:
        """Drop the first ``written`` bytes, which the OS took before a write failed."""
        if written:
            lines = self._buffer.count(b"\n", 0, written)
            del self._buffer[:written]
            self.lines_written += lines
            self._buffered_lines -= lines

    def close(self) -> None:
        """Flush, fsync and close; the file is closed even when the flush raises. Idempotent."""
        if self._fd < 0:
            return
        try:
            self.flush(fsync=True)
        except ResultsWriteError:
            # Giving up: a short write may have left half a line at the end; cut it (that frees space,
            # so it works on a full disk), and its record goes again on --resume.
            with contextlib.suppress(OSError):
                cut_torn_tail(self._fd, self.path)
            raise
        finally:
            os.close(self._fd)
            self._fd = -1
