"""The byte layers under a text source: sniffed bytes put back, and the content that hashes what it serves.

:class:`Content` is what every text reader reads through: the decompressed bytes, hashed in full (the
resume's input digest), with lines counted so a read error names its line, and a prefetch that lets the
encoding be detected before the first record. :class:`Prefixed` puts bytes sniffed from a stream that
cannot seek (stdin) back in front.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from getui_async.errors import InputError

from .base import RunningDigest

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["Content", "Prefixed", "Reader"]

_READ_SIZE: Final = 64 << 10


class Reader(Protocol):
    """Anything with ``read`` (a file, gzip, stdin's fd reader)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Prefixed:
    """A stream with the bytes sniffed from its start put back in front (stdin cannot seek)."""

    def __init__(self, inner: Reader, head: bytes) -> None:
        self._inner = inner
        self._head = head
        # read1 returns what one read of a pipe gives, instead of blocking until ``size`` bytes arrived.
        self._read1: Callable[[int], bytes] = getattr(inner, "read1", inner.read)

    def read(self, size: int = -1, /) -> bytes:
        head, self._head = self._head, b""
        if not head:
            return self._inner.read(size)
        if size < 0:
            return head + self._inner.read()
        if size <= len(head):
            self._head = head[size:]
            return head[:size]
        return head + self._inner.read(size - len(head))

    def read1(self, size: int = -1, /) -> bytes:
        head, self._head = self._head, b""
        if size < 0:
            size = _READ_SIZE
        if size <= len(head):
            self._head = head[size:]
            return head[:size]
        return head + self._read1(size - len(head))

    def seek(self, offset: int, /) -> int:
        """Part of gzip's file protocol; reading forward never calls it."""
        raise io.UnsupportedOperation("seek")


class Content(io.RawIOBase):
    """The decompressed content: hashes all of it, counts lines, turns read errors into InputError.

    :meth:`prefetch` reads the start ahead (kept until served) so the encoding can be detected.
    """

    def __init__(
        self, inner: Reader, *, name: str, gzipped: bool, streaming: bool, digest: RunningDigest
    ) -> None:
        super().__init__()
        # read1 (gzip and Prefixed have it) returns what one underlying read gives, so the lines before
        # a corrupt spot still come out and the line reached is exact, and a pipe is never waited on
        # for more than it has; read() would drop them with the error, or block.
        self._read: Callable[[int], bytes] = getattr(inner, "read1", inner.read)
        self._name = name
        self._gzipped = gzipped
        self._streaming = streaming
        self.digest = digest
        self.dry = False  # the last read of a pipe returned less than asked: it has no more for now
        self.eof = False
        self._newlines = 0
        self.served = 0
        self.pending = False  # like a transcoder's: nothing is held between reads here
        self._ahead = b""
        self._ahead_pos = 0
        self._failure: InputError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view:
            if self._ahead_pos < len(self._ahead):
                data = self._ahead[self._ahead_pos : self._ahead_pos + len(view)]
                self._ahead_pos += len(data)
                if self._ahead_pos == len(self._ahead):
                    self._ahead, self._ahead_pos = b"", 0
            else:
                data = self._pull(len(view))
            view[: len(data)] = data
            self.served += len(data)
            return len(data)

    @property
    def holds_ahead(self) -> bool:
        """Whether bytes read ahead are still waiting to be served."""
        return self._ahead_pos < len(self._ahead)

    def prefetch(self, limit: int) -> bytes:
        """The first ``limit`` bytes (a file) or what the first read gave (a pipe), served again later."""
        pending = [self._ahead[self._ahead_pos :]] if self._ahead_pos < len(self._ahead) else []
        got = sum(map(len, pending))
        try:
            while got < limit and not self.eof:  # each pass reads more or reaches EOF
                pending.append(self._pull(limit - got))
                got += len(pending[-1])
                if self._streaming:
                    break
        except InputError:
            pass  # the lines before a corrupt spot are still served; the next read raises it again
        finally:
            self._ahead = pending[0] if len(pending) == 1 else b"".join(pending)  # one part: no copy
            self._ahead_pos = 0
        return self._ahead

    def _pull(self, size: int) -> bytes:
        if self._failure is not None:  # sticky: a broken stream is never read past its break
            raise self._failure
        try:
            data = self._read(size)
        except (OSError, EOFError, zlib.error) as exc:
            line = self._newlines + 1
            what = "corrupt gzip stream" if self._gzipped else "read error"
            self._failure = InputError(self._name, f"{what}: {exc}", line=line)
            raise self._failure from exc
        if not data:
            self.eof = True
            return data
        self.dry = self._streaming and len(data) < size
        self.digest.update(data)
        self._newlines += data.count(b"\n")
        return data
