"""Text for a terminal wrapped on spaces, so a narrow window never splits a word (``successed_i`` /
``gnore``): each long line breaks between words and its continuation is indented under its start."""

from __future__ import annotations

import shutil
import textwrap
from typing import IO

__all__ = ["terminal_width", "wrap_text"]


def terminal_width(stream: IO[str]) -> int | None:
    """The width of the terminal ``stream`` writes to, or None when it is not a terminal."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns


def wrap_text(text: str, width: int | None) -> str:
    """``text`` with every line longer than ``width - 1`` broken on spaces (None: unchanged). A word
    longer than the line (a long path) is left whole."""
    if width is None or width < 20:
        return text
    out = []
    for line in text.split("\n"):
        if len(line) < width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        out.extend(
            textwrap.wrap(
                line,
                width=width - 1,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [line]
        )
    return "\n".join(out)
