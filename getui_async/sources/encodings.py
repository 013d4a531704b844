"""Which text encoding an input uses, and a byte layer that turns it into UTF-8 for the readers above.

Chinese Windows saves "CSV" as GBK (GB18030 is its superset) and some exports are UTF-16 with a BOM.
The readers parse UTF-8 bytes only (orjson, and one ``decode()`` per CSV line: the fast path stays as it
was), so any other encoding is transcoded to UTF-8 underneath them. Bytes that don't decode pass through
unchanged, so the record holding them is still rejected at its own line instead of being altered.
"""

from __future__ import annotations

import codecs
import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .options import Encoding

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["DETECT_BYTES", "Transcoded", "detect", "label"]

log = logging.getLogger(__name__)

#: Auto-detection looks at this much of a file's (decompressed) start; stdin: at its first read only.
DETECT_BYTES: Final = 1 << 20

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LABELS: Final[dict[str, str]] = {"utf-8": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}
_PASS_THROUGH: Final = "getui-async-passthrough"


def _pass_through(error: UnicodeError) -> tuple[str, int]:
    """Keep undecodable bytes as they are: ``surrogateescape`` for bytes >= 0x80, the byte itself below."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + b) if b >= 0x80 else chr(b) for b in bad), error.end


codecs.register_error(_PASS_THROUGH, _pass_through)


def label(encoding: str) -> str:
    """The name a person reads: ``GB18030``, ``UTF-16``, ``UTF-8``."""
    return _LABELS.get(encoding, encoding.upper())


def _decodes(head: bytes, encoding: str, *, final: bool) -> bool:
    """Whether ``head`` is valid ``encoding``; a character cut at the end of an unfinished head is fine."""
    decoder = codecs.getincrementaldecoder(encoding)()
    step = 64 << 10  # in slices: the text of a whole MiB at once would cost several MiB
    with memoryview(head) as view:
        try:
            for start in range(0, len(head), step):
                decoder.decode(view[start : start + step], final=False)
            decoder.decode(b"", final=final)
        except UnicodeDecodeError:
            return False
    return True


def detect(head: bytes, *, complete: bool, name: str) -> str:
    """The encoding of an input that starts with ``head`` (``complete``: head is the whole input).

    A BOM decides; else UTF-8 if the head is valid UTF-8; else GB18030 if it decodes as GB18030 (said on
    the log at WARNING, since the user may not know their file is GBK); else UTF-8, whose invalid records
    the readers reject one by one.
    """
    if head.startswith(_UTF8_BOM):
        return "utf-8"
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    if _decodes(head, "utf-8", final=complete):
        return "utf-8"
    if _decodes(head, "gb18030", final=complete):
        log.warning("%s: input decoded as GB18030: it is not valid UTF-8", name)
        return "gb18030"
    return "utf-8"


class Transcoded(io.RawIOBase):
    """``inner``'s bytes in ``encoding``, served as UTF-8 (undecodable bytes passed through)."""

    def __init__(self, read: Callable[[int], bytes], encoding: Encoding | str) -> None:
        super().__init__()
        self._read = read
        self._decoder = codecs.getincrementaldecoder(encoding)(_PASS_THROUGH)
        self._pending = b""
        self._eof = False
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view:
            while not self._pending and not self._eof:  # each pass reads more input or reaches EOF
                raw = self._read(len(view))
                self._eof = not raw
                text = self._decoder.decode(raw, final=self._eof)
                self._pending = text.encode("utf-8", "surrogateescape")
            data, self._pending = self._pending[: len(view)], self._pending[len(view) :]
            view[: len(data)] = data
            self.served += len(data)
            return len(data)

    @property
    def pending(self) -> bool:
        """Whether transcoded bytes are waiting to be served (a read would not wait for the input)."""
        return bool(self._pending)
