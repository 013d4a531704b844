"""``FdReader``: standard input read straight from its descriptor, with no lock a thread could hold.

``sys.stdin.buffer`` is an ``io.BufferedReader`` the interpreter owns: a reader thread blocked in it
holds its lock, and at shutdown the interpreter closes stdin, cannot take that lock, and aborts
("Fatal Python error: _enter_buffered_busy", SIGABRT) instead of exiting with the run's status. A
fresh ``io.BufferedReader`` would bring its own lock again; ``FileIO`` has none but its ``readline``
reads a byte at a time. The text source only needs ``read``, ``read1`` and ``fileno`` (it buffers and
splits lines itself), so this reader offers those over ``os.read``: a thread blocked in it holds
nothing, and is simply left behind at exit.
"""

from __future__ import annotations

import os
import select
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["STDIN_FD", "FdReader"]

STDIN_FD: Final = 0
_READ_SIZE: Final = 64 << 10


class FdReader:
    """Reads a descriptor it does not own (never closes it); every read is one or more ``os.read``."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int = STDIN_FD) -> None:
        self._fd = fd

    def __repr__(self) -> str:
        return f"FdReader(fd={self._fd})"

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1, /) -> bytes:
        """What one read gives (at most ``size`` bytes): a pipe is never waited on for more than it has."""
        while True:  # bounded: a non-blocking descriptor is waited on until it is readable, then read
            try:
                return os.read(self._fd, size if size > 0 else _READ_SIZE)
            except BlockingIOError:  # stdin inherited in non-blocking mode: wait for data, never spin
                select.select([self._fd], [], [])

    def read(self, size: int = -1, /) -> bytes:
        """``size`` bytes, fewer only at the end (all of it for ``size < 0``), as a buffered read gives."""
        parts: list[bytes] = []
        got = 0
        while size < 0 or got < size:  # each pass reads more or reaches the end
            data = self.read1(size - got if size >= 0 else _READ_SIZE)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view:
            data = self.read1(len(view))
            view[: len(data)] = data
            return len(data)

    def close(self) -> None:
        """Nothing to release: the descriptor belongs to the process."""
