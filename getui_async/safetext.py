"""``printable``: text from outside (Getui's replies, input files, results lines) made safe to show.

A server or a file can carry terminal control sequences: ``ESC [2J`` clears the screen, ``ESC ]0;...BEL``
retitles the window, a C1 ``CSI`` (U+009B) does the same on some terminals, and bidi overrides make a
line read differently than it is. Wherever such text reaches a terminal or a log, it goes through
:func:`printable` once, at the point where it is written, so it is shown and never obeyed.
"""

from __future__ import annotations

from typing import Final

__all__ = ["has_lone_surrogate", "printable"]

#: Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_BIDI: Final = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: C0 controls, DEL and C1 controls as ``\xNN``; bidi controls as ``\uNNNN``.
_ESCAPES: Final[dict[int, str]] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    **{code: f"\\u{code:04x}" for code in _BIDI},
}
_SINGLE_LINE: Final = str.maketrans(_ESCAPES)
_MULTI_LINE: Final = str.maketrans({k: v for k, v in _ESCAPES.items() if chr(k) not in "\n\t"})


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control character shown as a visible escape (ESC as the 4 characters ``\\x1b``).

    ``multiline`` keeps newline and tab, for a message of several lines or a table; otherwise they are
    escaped too, so one field stays one line.
    """
    if text.isprintable():  # the usual case: nothing to escape, no copy
        return text
    return text.translate(_MULTI_LINE if multiline else _SINGLE_LINE)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (what a ``surrogateescape`` decode leaves of a bad
    byte): such text has no UTF-8 form, so JSON and the results file cannot carry it."""
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False
