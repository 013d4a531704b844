"""The lock-free reader of a descriptor that stands in for ``sys.stdin.buffer``."""

from __future__ import annotations

import io
import os
import threading

from getui_async.sources import open_source
from getui_async.sources.fd_reader import FdReader


def _jsonl(count: int) -> bytes:
    return b"".join(b'{"cid": "%032x", "name": "User %d"}\n' % (i, i) for i in range(count))


def test_fd_reader_reads_exact_sizes_across_short_reads() -> None:
    """read(n) gathers short pipe reads up to n bytes or EOF; read1(n) returns what one read gives."""
    rfd, wfd = os.pipe()
    reader = FdReader(rfd)
    try:
        os.write(wfd, b"ab")
        assert reader.read1(10) == b"ab"
        writer = threading.Thread(target=lambda: (os.write(wfd, b"cd"), os.write(wfd, b"efg"), os.close(wfd)))
        writer.start()
        assert reader.read(4) == b"cdef"
        assert reader.read() == b"g"
        assert reader.read(3) == b""
        writer.join()
    finally:
        os.close(rfd)
    assert reader.fileno() == rfd


def test_stdin_source_reads_through_the_fd_reader_when_given_one() -> None:
    """A source over an ``FdReader`` yields the same records as over a buffered stream."""
    data = _jsonl(3000)
    rfd, wfd = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(wfd, data), os.close(wfd)))
    writer.start()
    try:
        with open_source("-", format="jsonl", stdin=FdReader(rfd)) as piped:  # type: ignore[arg-type]
            got = [item.line for item in piped]
        with open_source("-", format="jsonl", stdin=io.BytesIO(data)) as buffered:
            expected = [item.line for item in buffered]
    finally:
        writer.join()
        os.close(rfd)
    assert got == expected == list(range(1, 3001))
