"""``RESULTS.lock``: one run per results file, and a disk reserve so a full disk still takes the lines
of requests already in flight.

The lock is an ``flock`` held for the life of a run; the kernel drops it if the process dies. The lock
file's first bytes name the holder's PID, so a second run can say who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from getui_async.errors import ResultsFileError
from getui_async.safe_open import PlantedLink, open_private, refuse_links

from .sidecar import lock_path, written_paths

__all__ = ["CLI_WORDS", "LIBRARY_WORDS", "ResultsLocked", "RunLock", "Words", "lock_holder"]

#: The lock file's first bytes: the holder's PID; any disk reserve follows.
_PID_BYTES: Final = 32
_MIN_RESERVE: Final = 16 << 10


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
        """Take the lock, first refusing a link planted at any name the run writes (exit 2, named)."""
        try:
            refuse_links(written_paths(self._results))
        except PlantedLink as exc:
            raise ResultsFileError(str(exc)) from None
        try:
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise ResultsFileError(f"cannot lock {self.path}: {exc.strerror}") from None
        if os.fstat(fd).st_nlink > 1:  # a hard link to someone's file: truncating would empty it
            os.close(fd)
            raise ResultsFileError(
                f"{self.path}: has other hard links; refusing to use it as the lock (remove it)"
            )
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


def lock_holder(results: Path) -> tuple[bool, int | None]:
    """(whether a run holds the lock of ``results`` now, its PID if the lock file names it), for a
    reader such as ``report`` that must not take the lock. The probe is a shared ``flock`` held for a
    few microseconds; no lock file means no run."""
    try:
        fd = os.open(lock_path(results), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True, _read_pid(fd)
            return False, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, _PID_BYTES, 0).decode("ascii", "replace").strip("\0\n ")
    except OSError:
        return None
    return int(text) if text.isdigit() else None
