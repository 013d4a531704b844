"""``closest``: the "did you mean" of every typo the tool names (flags, commands, config keys, placeholders).

One rule for all of them, so a Chinese column name gets the same help as an English flag: a case-only
difference, else the one choice the word begins, else difflib's similarity ratio, case-folded. A
one-character typo in an ``n``-character word scores ``(n - 1) / n``, so the usual 0.6 cutoff would never
match a two-character name such as ``姓名``; short words get 0.5.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final

__all__ = ["closest"]

_CUTOFF: Final = 0.6
_SHORT_CUTOFF: Final = 0.5
_SHORT: Final = 2


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (a case-only difference first), or None when none is close."""
    known = list(dict.fromkeys(choices))
    folded = {choice.casefold(): choice for choice in known}
    if word.casefold() in folded:
        return folded[word.casefold()]
    starting = [choice for key, choice in folded.items() if key.startswith(word.casefold())]
    if len(starting) == 1:  # a word cut short (``--dry``) is most likely that one
        return starting[0]
    cutoff = _SHORT_CUTOFF if len(word) <= _SHORT else _CUTOFF
    match = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None
