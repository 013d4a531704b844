"""The results log: one complete JSON line per input record, and the state a resume needs.

It owns the line schema (the field names below), the one :class:`Status` vocabulary, the counts, the
writer, the lock that allows one run per results file, the resume state and its validation. It does
not decide outcomes: the engine tells it what became of each record.

:class:`ResultsWriter` is the only writer of the file. It appends whole lines with ``os.write``, and
drops bytes from its buffer only once the OS has taken them (a short write keeps the rest). A write
error is raised as :class:`ResultsWriteError` with the buffer intact, so a later retry loses nothing.
A kill can still cut the last write short; on resume the file is first truncated back to its last
complete line (the one repair, reported): what remains is always whole lines.

Next to ``RESULTS`` a sidecar ``RESULTS.meta.json`` records the campaign id, the message template's
fingerprint and the input's fingerprint (its whole-content sha256); a resume against another input or
message is refused. ``RESULTS.lock`` holds an ``flock`` for the life of a run, with the holder's PID.

:func:`load_resume_state` reads and validates a results file in one pass into a low-water mark plus the
set of record numbers done above it. Records complete out of order only within the in-flight window,
so that set stays small whatever the file size.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from . import _json
from ._version import __version__
from .errors import Action, ApiError, InvalidTargetError, ResultsFileError, error_for_reply, error_for_status
from .events import Observers, RecordDone
from .outcome import FINAL_STATUSES, RETRYABLE_ACTIONS, FailedKind, Status

__all__ = [
    "CLI_WORDS",
    "FINAL_STATUSES",
    "LIBRARY_WORDS",
    "RETRYABLE_ACTIONS",
    "FailedKind",
    "ResultsLocked",
    "ResultsLog",
    "ResultsWriteError",
    "ResultsWriter",
    "ResumeState",
    "RunLock",
    "RunMeta",
    "Status",
    "Words",
    "compact_results",
    "compact_tmp_path",
    "failed_kind",
    "is_retryable",
    "is_unconfirmed",
    "load_resume_state",
    "lock_path",
    "meta_path",
    "record_run",
    "stored_encoding",
]

log = logging.getLogger(__name__)


# The line schema: field names of a result line.
F_LINE: Final = "line"  # input line number of the record
F_RECORD: Final = "record"  # record number, from 1, in input order
F_CID: Final = "cid"
F_ALIAS: Final = "alias"
F_REQUEST_ID: Final = "request_id"
F_STATUS: Final = "status"
F_CODE: Final = "code"  # Getui's code, when there is one
F_MSG: Final = "msg"
F_FIELD: Final = "field"  # rejected lines: the record's field at fault
F_TASKID: Final = "taskid"
F_ATTEMPTS: Final = "attempts"
F_TS: Final = "ts"
F_HTTP_STATUS: Final = "http_status"  # failed lines: the HTTP status of a reply without a Getui code
F_RETRYABLE: Final = "retryable"  # failed lines: may pass when sent again later
F_UNCONFIRMED: Final = "unconfirmed"  # failed list lines: the chunk may have reached Getui (reply lost)
F_SUPERSEDES: Final = "supersedes"  # a --retry-failed line: the earlier status this line replaces

#: Actions after which a failed line's record may pass when sent again later (a daily quota: tomorrow).
_LATER: Final = RETRYABLE_ACTIONS | {Action.STOP_QUOTA}


def failed_kind(line: Mapping[str, Any]) -> FailedKind:
    """The kind of one ``failed`` result line (a decoded JSON object); the one place this is decided.

    The engine's own ``retryable`` field wins when present; older lines without it are classified by
    :mod:`getui_async.errors` (the code table and the HTTP-status bands).
    """
    code, msg = _int_or_none(line.get(F_CODE)), line.get(F_MSG)
    http_status = _int_or_none(line.get(F_HTTP_STATUS))
    exc = None
    if code is not None and code != 0:
        exc = error_for_reply(code, msg if isinstance(msg, str) else "", http_status=http_status)
        if isinstance(exc, InvalidTargetError):
            return FailedKind.DEAD
    flag = line.get(F_RETRYABLE)
    if isinstance(flag, bool):
        return FailedKind.RETRYABLE if flag else FailedKind.FINAL
    if code == 0:
        return FailedKind.FINAL  # Getui took it but named an unknown status: re-sending would be dropped
    if exc is None:
        if http_status is None:
            # No Getui code and no HTTP status: a transport failure (or an older file's 5xx/timeout).
            return FailedKind.RETRYABLE
        exc = error_for_status(http_status)
    return FailedKind.RETRYABLE if exc.action in _LATER else FailedKind.FINAL


def is_retryable(line: Mapping[str, Any], *, unconfirmed: bool = False) -> bool:
    """True when a final line is one ``--retry-failed`` sends again: ``failed`` for a cause that may pass.

    With ``unconfirmed`` (``--retry-unconfirmed``) also a list line whose chunk may have reached Getui.
    """
    if line.get(F_STATUS) != Status.FAILED.value:
        return False
    return failed_kind(line) is FailedKind.RETRYABLE or (unconfirmed and is_unconfirmed(line))


def is_unconfirmed(line: Mapping[str, Any]) -> bool:
    """True for a ``failed`` list line whose chunk may have reached Getui (its reply was lost)."""
    return line.get(F_STATUS) == Status.FAILED.value and line.get(F_UNCONFIRMED) is True


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_FILE_MODE: Final = 0o600
#: The lock file's first bytes: the holder's PID; any disk reserve follows.
_PID_BYTES: Final = 32
_MIN_RESERVE: Final = 16 << 10
_READ_CHUNK: Final = 1 << 20
#: Record numbers a results file may name for an input of unknown size (stdin), at most.
UNBOUNDED_RECORDS: Final = 1 << 32


def meta_path(results: Path) -> Path:
    """The sidecar that identifies the run a results file belongs to."""
    return results.with_name(results.name + ".meta.json")


def lock_path(results: Path) -> Path:
    """The lock file that allows one run per results file."""
    return results.with_name(results.name + ".lock")


def compact_tmp_path(results: Path) -> Path:
    """Where :func:`compact_results` writes the compacted file before renaming it over ``results``."""
    return results.with_name(results.name + ".tmp")


class ResultsWriteError(ResultsFileError):
    """Writing the results file (or its sidecar) failed; ``strerror`` is the OS's reason."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        self.strerror = exc.strerror or str(exc)
        self.errno = exc.errno
        super().__init__(f"could not write {path}: {self.strerror}")


@dataclass(frozen=True, slots=True)
class Words:
    """How a message names the caller's options: the CLI's flags, or the library's arguments."""

    #: Continue an earlier run into the same results file.
    resume: str
    #: The results file.
    out: str
    #: Continue the same run (after a stop the caller can fix, such as a full disk).
    again: str


LIBRARY_WORDS: Final = Words("resume=True", "out=", "run the campaign again with resume=True")
CLI_WORDS: Final = Words("--resume", "--out", "run the same command with --resume")


class ResultsLocked(ResultsFileError):
    """Another run holds the results file (its PID is named)."""

    def __init__(self, path: Path, pid: int | None, words: Words = LIBRARY_WORDS) -> None:
        self.path = path
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"{path} is in use by {holder} (a run or a {words.resume} into the same results file is "
            f"running); wait for it to end, or choose another {words.out}"
        )


class RunLock:
    """An exclusive ``flock`` on ``RESULTS.lock`` holding our PID; the kernel drops it if we die."""

    def __init__(self, results: Path, words: Words = LIBRARY_WORDS) -> None:
        self.words = words
        self.path = lock_path(results)
        self._fd = -1
        self._results = results
        self._reserved = 0

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
        except OSError as exc:
            raise ResultsFileError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ResultsLocked(self._results, holder, self.words) from None
            raise ResultsFileError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode().ljust(_PID_BYTES, b"\n"), 0)
        except OSError:
            pass  # the lock holds without the PID note; only the message to a second run is poorer
        self._fd = fd
        return self

    def reserve(self, nbytes: int) -> int:
        """Set aside up to ``nbytes`` of disk in the lock file, freed when a results write fails, so the
        lines of requests already in flight can still be written on a full disk; returns the bytes held.
        """
        while nbytes >= _MIN_RESERVE and self._fd >= 0:
            try:
                os.posix_fallocate(self._fd, _PID_BYTES, nbytes)
            except OSError:
                nbytes //= 2
                continue
            self._reserved = nbytes
            return nbytes
        return 0

    def free_reserve(self) -> int:
        """Give the reserved disk back (a results write failed); returns the bytes freed."""
        freed, self._reserved = self._reserved, 0
        if freed and self._fd >= 0:
            try:
                os.ftruncate(self._fd, _PID_BYTES)
            except OSError:
                return 0
        return freed

    def release(self) -> None:
        """Drop the lock (the file stays: unlinking it would let two runs lock two different files)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, _PID_BYTES, 0).decode("ascii", "replace").strip("\0\n ")
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class RunMeta:
    """What a results file was written for: campaign, message and input."""

    campaign_id: str
    template_fingerprint: str
    input: Mapping[str, Any]
    tool_version: str = __version__
    #: A send to test devices (``--test``), so a results file says which kind of run wrote it.
    test: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "getui-async",
            "tool_version": self.tool_version,
            "campaign_id": self.campaign_id,
            "template_fingerprint": self.template_fingerprint,
            "input": dict(self.input),
            "test": self.test,
        }

    def mismatch(self, other: Mapping[str, Any]) -> str | None:
        """Why a stored meta (``other``) belongs to a different run, or None if it is this run."""
        if other.get("campaign_id") != self.campaign_id:
            return f"it belongs to campaign {other.get('campaign_id')!r}, not {self.campaign_id!r}"
        if other.get("template_fingerprint") != self.template_fingerprint:
            return "it was written for a different message"
        theirs = other.get("input")
        theirs = theirs if isinstance(theirs, Mapping) else {}
        mine, stored = self.input.get("encoding"), theirs.get("encoding")
        if mine is not None and stored is not None and mine != stored:
            return f"the earlier run read the input as {stored}, this one as {mine}"
        for key in ("format", "size", "head_sha256", "sha256"):
            mine, stored = self.input.get(key), theirs.get(key)
            if mine is not None and stored is not None and mine != stored:
                what = "content" if key.endswith("sha256") else key
                return f"it was written for a different input ({what} differs)"
        return None


class ResumeState:
    """Which records (numbered from 1 in input order) already have a result line, and which of those
    ``--retry-failed`` sends again.

    Below :attr:`low_water` every record is done. Done records above it are bits in a bytearray, so
    memory is one bit per record of the window: a stopped run can leave old holes (records it held
    back and never sent) far behind its last line, and a set of ints would then cost ~60 bytes a record.
    Records whose *last* line is retryable are a second bitmap over every record (125 KB a million).
    :attr:`counts` counts the last line of each record (the campaign's outcomes so far).
    """

    __slots__ = (
        "_base",
        "_bits",
        "_pending",
        "_retry",
        "counts",
        "lines",
        "low_water",
        "max_above",
        "repaired",
        "retry_failed",
        "retryable",
        "superseded",
        "unconfirmed",
    )

    #: Bytes of bits below the low-water mark kept before they are dropped.
    _COMPACT_BYTES: Final = 1 << 16

    def __init__(self) -> None:
        self.low_water = 1
        self.counts: Counter[str] = Counter()
        self.lines = 0
        #: The most done records ever waiting above the low-water mark (the completion window).
        self.max_above = 0
        #: Bytes of a torn last line (a killed write) that the writer will cut; 0 if none.
        self.repaired = 0
        self._base = 1  # the record number of bit 0
        self._bits = bytearray()
        self._pending = 0  # done records >= low_water
        self._retry = bytearray()  # bit r: record r's last line is retryable
        #: Records whose last line is retryable (what --retry-failed sends again).
        self.retryable = 0
        #: Lines an earlier line of the same record was superseded by (compaction removes those).
        self.superseded = 0
        #: Set for ``--retry-failed``: :meth:`skip` then lets retryable records through.
        self.retry_failed = False
        #: Records whose last line is unconfirmed: a later line may supersede them (``--retry-unconfirmed``).
        self.unconfirmed: set[int] = set()

    def add(self, record: int) -> bool:
        """Mark ``record`` done; False if it already was."""
        if record < self.low_water:
            return False
        index = record - self._base
        byte, mask = index >> 3, 1 << (index & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 64))
        if bits[byte] & mask:
            return False
        bits[byte] |= mask
        self._pending += 1
        if record == self.low_water:
            self._advance()
        self.max_above = max(self.max_above, self._pending)
        return True

    def _advance(self) -> None:
        low, base, bits = self.low_water, self._base, self._bits
        while True:
            index = low - base
            byte = index >> 3
            if byte >= len(bits) or not bits[byte] & (1 << (index & 7)):
                break
            low += 1
            self._pending -= 1
        self.low_water = low
        drop = (low - base) >> 3
        if drop >= self._COMPACT_BYTES:
            del bits[:drop]
            self._base = base + drop * 8

    def done(self, record: int) -> bool:
        """True when ``record`` already has its line."""
        if record < self.low_water:
            return True
        index = record - self._base
        byte = index >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (index & 7)))

    def is_retry(self, record: int) -> bool:
        """True when ``record``'s last line is retryable."""
        byte = record >> 3
        return byte < len(self._retry) and bool(self._retry[byte] & (1 << (record & 7)))

    def set_retry(self, record: int, retryable: bool) -> None:
        """Note whether ``record``'s last line (so far) is retryable."""
        byte, mask = record >> 3, 1 << (record & 7)
        bits = self._retry
        if retryable:
            if byte >= len(bits):
                bits.extend(bytes(max(byte - len(bits) + 1, len(bits))))  # doubling: few copies
            if not bits[byte] & mask:
                bits[byte] |= mask
                self.retryable += 1
        elif byte < len(bits) and bits[byte] & mask:
            bits[byte] &= ~mask
            self.retryable -= 1

    def skip(self, record: int) -> bool:
        """True when this run leaves ``record`` alone: it has a line, and is not one to send again."""
        return self.done(record) and not (self.retry_failed and self.is_retry(record))

    def supersedes(self, record: int) -> str | None:
        """The earlier status a new line for ``record`` replaces (``--retry-failed``), or None."""
        return Status.FAILED.value if self.retry_failed and self.is_retry(record) else None

    @property
    def above(self) -> set[int]:
        """The done records above the low-water mark (for diagnostics and tests)."""
        start = self.low_water - self._base
        return {
            self._base + i for i in range(start, len(self._bits) * 8) if self._bits[i >> 3] & (1 << (i & 7))
        }


def _plausible(value: Any, limit: int) -> bool:
    """A record or line number: an int (never a bool) from 1 to ``limit``."""
    return type(value) is int and 1 <= value <= limit


def load_resume_state(
    path: Path,
    *,
    max_record: int = UNBOUNDED_RECORDS,
    retry_failed: bool = False,
    retry_unconfirmed: bool = False,
) -> ResumeState:
    """Read and validate ``path`` (if any) into a :class:`ResumeState`; the last line per record wins.

    Every complete line must be a result line of ours whose ``record`` and ``line`` are integers from 1
    to ``max_record`` (what the input can hold), with a known status, and no record may appear twice
    unless the later line says it supersedes the earlier, whose last line was then retryable (what
    ``--retry-failed`` sends again; with ``retry_unconfirmed`` an unconfirmed list line too; a line that
    superseded an unconfirmed one is always accepted). Anything else raises :class:`ResultsFileError`
    naming the file and line. A torn final line (a killed write) is the one thing repaired: it is counted in
    :attr:`ResumeState.repaired` and cut by the writer.
    """
    state = ResumeState()
    state.retry_failed = retry_failed
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise ResultsFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                state.repaired = len(raw)
                break

            def refuse(why: str, number: int = number) -> ResultsFileError:
                return ResultsFileError(f"{path}:{number}: {why}; refusing to resume from this file")

            try:
                obj = _json.loads(raw)
            except _json.JSONDecodeError:
                raise refuse("not a getui-push result line (not JSON)") from None
            if not isinstance(obj, dict):
                raise refuse("not a getui-push result line (not a JSON object)")
            record, line, status = obj.get(F_RECORD), obj.get(F_LINE), obj.get(F_STATUS)
            if not _plausible(record, max_record):
                raise refuse(
                    f"'{F_RECORD}' is {record!r}, not a record number of this input (1..{max_record})"
                )
            if not _plausible(line, max_record if max_record == UNBOUNDED_RECORDS else max_record + 1):
                raise refuse(f"'{F_LINE}' is {line!r}, not a line number of this input")
            if line < record:  # type: ignore[operator]
                # Each record takes at least one input line: a record number above its line was edited.
                raise refuse(f"'{F_RECORD}' {record} cannot be on input line {line}")
            if status not in FINAL_STATUSES:
                raise refuse(f"unknown status {status!r}")
            assert type(record) is int
            if not state.add(record):
                if not obj.get(F_SUPERSEDES):
                    raise refuse(f"a second line for record {record} (a duplicated or edited line)")
                if not state.is_retry(record) and record not in state.unconfirmed:
                    raise refuse(
                        f"a second line for record {record} supersedes an outcome that was final "
                        "(only a retryable failure is sent again)"
                    )
                # The last line wins: the record's earlier (retryable, failed) outcome is replaced.
                state.counts[Status.FAILED.value] -= 1
                state.superseded += 1
            state.counts[status] += 1
            state.lines += 1
            state.set_retry(record, is_retryable(obj, unconfirmed=retry_unconfirmed))
            if is_unconfirmed(obj):
                state.unconfirmed.add(record)
            else:
                state.unconfirmed.discard(record)
    return state


class ResultsWriter:
    """Appends result lines to ``path``; the file and its sidecar are created readable by the owner only.

    Use :meth:`open`; then :meth:`write` per record, :meth:`flush` after each request's lines,
    ``flush(fsync=True)`` at checkpoints, :meth:`close` at the end. Bytes leave the buffer only once
    ``os.write`` took them, so a failed flush can be retried without losing or tearing a line.
    """

    def __init__(self, path: Path, fd: int, *, flush_lines: int, repaired: int = 0) -> None:
        self.path = path
        self._fd = fd
        self._buffer = bytearray()
        self._buffered_lines = 0
        self._flush_lines = flush_lines
        self.lines_written = 0
        #: Bytes of a torn last line cut when the file was opened (0: none).
        self.repaired = repaired

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
        _remove_stale_tmp(path)
        has_lines = path.exists() and path.stat().st_size > 0
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
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), _FILE_MODE
            )
        except OSError as exc:
            raise ResultsFileError(f"cannot write results to {path}: {exc.strerror}") from None
        try:
            repaired = _truncate_torn_tail(fd, path)
        except OSError as exc:
            os.close(fd)
            raise ResultsFileError(f"cannot repair {path}: {exc.strerror}") from None
        return cls(path, fd, flush_lines=flush_lines, repaired=repaired)

    @property
    def buffered(self) -> int:
        """Lines waiting for the OS."""
        return self._buffered_lines

    def write(self, result: Mapping[str, Any]) -> None:
        """Queue one result line; it reaches the file at the next flush (at most ``flush_lines`` away)."""
        self._buffer += _json.dumps_line(result)
        self._buffered_lines += 1
        if self._buffered_lines >= self._flush_lines:
            self.flush()

    def hold(self, result: Mapping[str, Any]) -> None:
        """Queue one result line without flushing (after a write error, until the last try)."""
        self._buffer += _json.dumps_line(result)
        self._buffered_lines += 1

    def flush(self, *, fsync: bool = False) -> None:
        """Hand buffered lines to the OS (looping on short writes); fsync when asked.

        Raises :class:`ResultsWriteError`; what the OS did not take stays buffered for the next try.
        """
        buffer = self._buffer
        if buffer:
            view = memoryview(bytes(buffer))  # a copy: the buffer stays resizable whatever holds the view
            done = 0
            try:
                while done < len(view):
                    done += os.write(self._fd, view[done:])
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
                _truncate_torn_tail(self._fd, self.path)
            raise
        finally:
            os.close(self._fd)
            self._fd = -1


def read_meta(results: Path) -> dict[str, Any] | None:
    """The sidecar of ``results`` as a dict, or None when missing or unreadable."""
    try:
        stored = _json.loads(meta_path(results).read_bytes())
    except (OSError, _json.JSONDecodeError):
        return None
    return stored if isinstance(stored, dict) else None


def stored_encoding(results: Path) -> str | None:
    """The text encoding the run that wrote ``results`` read its input with (None: unknown or none)."""
    stored = read_meta(results)
    found = stored.get("input") if stored else None
    encoding = found.get("encoding") if isinstance(found, dict) else None
    return encoding if isinstance(encoding, str) else None


#: Sidecar keys about the runs so far, which rewriting the run's identity keeps.
_RUN_KEYS: Final = ("runs", "requests", "retries", "group_name")


def write_meta(results: Path, meta: RunMeta, *, keep_runs: bool = True) -> None:
    """Replace the sidecar atomically, keeping its record of runs unless ``keep_runs`` is False (a new
    campaign); raises :class:`ResultsWriteError`."""
    sidecar = meta_path(results)
    data = meta.to_dict()
    stored = read_meta(results) if keep_runs else None
    if stored:
        data.update({key: stored[key] for key in _RUN_KEYS if key in stored})
    try:
        _write_atomically(sidecar, _json.dumps(data))
    except OSError as exc:
        raise ResultsWriteError(sidecar, exc) from None


def record_run(results: Path, run: Mapping[str, Any], *, group_name: str | None) -> list[dict[str, Any]]:
    """Append one run (start, end, exit, counts, requests, retries) to the sidecar's ``runs``, update
    the campaign's ``requests``/``retries`` totals and ``group_name``; returns every run so far.

    ``getui-push report`` reads these to say how many runs (resumes) a campaign took. Raises
    :class:`ResultsWriteError`.
    """
    stored = read_meta(results) or {}
    runs = stored.get("runs")
    runs = [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []
    runs.append(dict(run))
    stored["runs"] = runs
    stored["requests"] = sum(_int_or_none(r.get("requests")) or 0 for r in runs)
    stored["retries"] = sum(_int_or_none(r.get("retries")) or 0 for r in runs)
    if group_name:
        stored["group_name"] = group_name
    sidecar = meta_path(results)
    try:
        _write_atomically(sidecar, _json.dumps(stored))
    except OSError as exc:
        raise ResultsWriteError(sidecar, exc) from None
    return runs


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _remove_stale_tmp(results: Path) -> None:
    """Remove what a compaction cut short by a kill left (the results file itself is whole)."""
    tmp = compact_tmp_path(results)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
        log.info("removed %s, left by a compaction that a killed run did not finish", tmp)


def compact_results(path: Path) -> int:
    """Rewrite ``path`` with only the last line of each record; returns the lines removed.

    Two passes in constant memory whatever the size: reading backwards, the first line met for a
    record is its last, so a bitmap of records met marks every other line for it in a bitmap of lines
    to drop (one bit per record and per line); then the kept lines are copied in file order to
    ``RESULTS.tmp`` (0600, fsynced) and renamed over ``path``, so a kill at any moment leaves either the
    old file or the new one, whole. The caller holds the run lock throughout. Raises
    :class:`ResultsWriteError` (the tmp is removed, ``path`` is untouched).
    """
    tmp = compact_tmp_path(path)
    try:
        with path.open("rb") as src:
            size = os.fstat(src.fileno()).st_size
            drop, total = _superseded_lines(src, size)
            removed = sum(b.bit_count() for b in drop)
            if not removed:
                return 0
            src.seek(0)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
            try:
                with os.fdopen(fd, "wb", buffering=_READ_CHUNK, closefd=False) as dst:
                    index = total  # the backward index of the next line is index - 1
                    for raw in src:
                        if not raw.strip():
                            continue
                        index -= 1
                        if not drop[index >> 3] & (1 << (index & 7)):
                            dst.write(raw)
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ResultsWriteError(path, exc) from None
    return removed


#: The record number in a line our writer wrote (compact JSON). A quote inside a JSON string is
#: escaped with a backslash, so this can only match the key itself.
_RECORD_FIELD: Final = re.compile(rb'"record":(\d+)[,}]')


def _superseded_lines(src: Any, size: int) -> tuple[bytearray, int]:
    """(bitmap of lines to drop by backward index, line count): a line is dropped when a later line
    names the same record."""
    seen = bytearray()
    drop = bytearray()
    index = 0
    find = _RECORD_FIELD.search
    for raw in _lines_backwards(src, size):
        found = find(raw)  # much faster than decoding the line
        record = int(found[1]) if found else _record_of(raw)
        if record is not None and record > 0:
            byte, mask = record >> 3, 1 << (record & 7)
            if byte >= len(seen):
                seen.extend(bytes(max(byte - len(seen) + 1, len(seen))))
            if seen[byte] & mask:
                if (index >> 3) >= len(drop):
                    drop.extend(bytes(max((index >> 3) - len(drop) + 1, len(drop))))
                drop[index >> 3] |= 1 << (index & 7)
            seen[byte] |= mask
        index += 1
    drop.extend(bytes(max(0, (index >> 3) + 1 - len(drop))))
    return drop, index


def _record_of(raw: bytes) -> int | None:
    """The record number of a line in another JSON layout (spaces after colons), decoded."""
    try:
        record = _json.loads(raw)[F_RECORD]
    except (_json.JSONDecodeError, KeyError, TypeError):
        return None
    return record if type(record) is int else None


def _lines_backwards(src: Any, size: int) -> Iterator[bytes]:
    """The non-blank lines of ``src`` (first ``size`` bytes) from the last to the first."""
    pos, carry = size, b""
    while pos > 0:
        start = max(0, pos - _READ_CHUNK)
        src.seek(start)
        parts = (src.read(pos - start) + carry).split(b"\n")
        carry = parts.pop(0) if start > 0 else b""
        for raw in reversed(parts):
            if raw.strip():
                yield raw
        pos = start
    if carry.strip():
        yield carry


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: some filesystems refuse to fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _truncate_torn_tail(fd: int, path: Path) -> int:
    """Cut a partial last line (left by a kill mid-write); returns the bytes cut."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        end = size
        while end > 0:
            start = max(0, end - _READ_CHUNK)
            handle.seek(start)
            chunk = handle.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
    if keep != size:
        os.ftruncate(fd, keep)
    return size - keep


# --- the log: schema, counts, writer ---


def _nothing_superseded(record: int) -> str | None:
    return None


class ResultsLog:
    """Where every outcome goes: builds the line, counts it, writes it, tells observers.

    The one owner of the per-status counts. A write error never reaches the caller: the first one is
    handed to ``on_error`` (the campaign frees its disk reserve and stops intake); lines stay buffered
    in memory, every later commit retries, and :meth:`close` tries once more before reporting it.
    """

    def __init__(
        self,
        writer: ResultsWriter | None,
        observers: Observers,
        clock: Callable[[], str],
        *,
        prior: int = 0,
        on_error: Callable[[ResultsWriteError], None] = lambda exc: None,
    ) -> None:
        self._writer = writer
        self._observers = observers
        self._ts = clock
        self._prior = prior
        self._on_error = on_error
        self._supersedes: Callable[[int], str | None] = _nothing_superseded
        self.counts: Counter[str] = Counter()
        #: Earlier statuses this run's lines replaced (``--retry-failed``), by status.
        self.superseded: Counter[str] = Counter()
        self.error: ResultsWriteError | None = None

    def attach(
        self,
        writer: ResultsWriter,
        *,
        prior: int = 0,
        supersedes: Callable[[int], str | None] | None = None,
    ) -> None:
        """Start writing to ``writer`` (opened once the input's first records were read).

        ``supersedes(record)`` names the earlier status a line for ``record`` replaces (see
        :meth:`ResumeState.supersedes`); such a line carries it as ``supersedes``.
        """
        self._writer = writer
        self._prior = prior
        if supersedes is not None:
            self._supersedes = supersedes

    @property
    def path(self) -> Path | None:
        return self._writer.path if self._writer is not None else None

    def add(
        self,
        line: int,
        record: int,
        kind: str,
        target: str | None,
        request_id: str | None,
        status: Status,
        code: int | None,
        msg: str,
        taskid: str | None,
        attempts: int,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """One record's final line (written at the next :meth:`commit`)."""
        value = status.value
        writer = self._writer
        if writer is not None:
            result = {
                F_LINE: line,
                F_RECORD: record,
                kind: target,
                F_REQUEST_ID: request_id,
                F_STATUS: value,
                F_CODE: code,
                F_MSG: msg,
                F_TASKID: taskid,
                F_ATTEMPTS: attempts,
                F_TS: self._ts(),
            }
            if extra:
                result.update(extra)
            earlier = self._supersedes(record)
            if earlier is not None:
                result[F_SUPERSEDES] = earlier
                self.superseded[earlier] += 1
            writer.hold(result)  # reaches the OS at the next commit (after each request)
        self.counts[value] += 1
        if self._observers:
            self._observers.emit(RecordDone(value, line, self._prior))

    def failed_extra(self, exc: ApiError) -> dict[str, Any]:
        """The fields a failed line adds: its HTTP status and whether it may pass later."""
        return {F_HTTP_STATUS: exc.http_status, F_RETRYABLE: exc.action in RETRYABLE_ACTIONS}

    def commit(self, *, fsync: bool = False) -> None:
        """Hand the lines so far to the OS now (after each request; with fsync at checkpoints)."""
        if self._writer is None:
            return
        try:
            self._writer.flush(fsync=fsync)  # after a failure, each commit is a retry
        except ResultsWriteError as exc:
            self._failed(exc)

    def _failed(self, exc: ResultsWriteError) -> None:
        if self.error is None:
            self.error = exc
            log.error("%s", exc)
            self._on_error(exc)

    def flush_quietly(self) -> None:
        """Write what can be written, never raising (for an immediate exit on a second signal)."""
        if self._writer is not None:
            try:
                self._writer.flush(fsync=True)
            except ResultsWriteError as exc:
                log.error("%s; %d result lines were not written", exc, self._writer.buffered)

    def close(self) -> ResultsWriteError | None:
        """Retry what a failed write left, fsync, close; the error that remains, if any."""
        writer = self._writer
        if writer is None:
            return None
        try:
            writer.close()
        except ResultsWriteError as exc:
            self.error = exc
            log.error("%s; %d result lines were not written", exc, writer.buffered)
            return exc
        if self.error is not None:
            log.warning("%s took the held result lines on a retry; the run still stops", writer.path)
        return self.error
