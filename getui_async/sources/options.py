"""How to read an input: :class:`SourceOptions` and the vocabularies of formats, encodings, delimiters.

One frozen value the CLI builds from its flags and the engine passes through untouched, so a resume can
reuse exactly what the first run decided (the encoding auto-detection picked, for instance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

Format: TypeAlias = Literal["csv", "tsv", "jsonl", "xlsx"]
Encoding: TypeAlias = Literal["auto", "utf-8", "gb18030", "utf-16"]

FORMATS: Final[tuple[str, ...]] = get_args(Format)
ENCODINGS: Final[tuple[str, ...]] = get_args(Encoding)
#: Delimiter names a person types (``tab``, ``comma``, or the character) and the character each means;
#: ``auto`` reads the header. The choices are the names: a help line of bare punctuation is unreadable.
DELIMITERS: Final[dict[str, str]] = {
    "comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", ",": ",", ";": ";", "\t": "\t", "|": "|"
}  # fmt: skip
DELIMITER_CHOICES: Final = ("auto", "comma", "semicolon", "tab", "pipe")


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Choices for reading one input; every default means "work it out from the input".

    ``encoding``: ``auto`` (a BOM decides, else UTF-8 if valid, else GB18030 if that decodes) or a name.
    ``delimiter``: ``auto`` (the most frequent of ``, ; tab |`` outside quotes in the header line) or one
    of them. ``cid_column``/``alias_column``: the header names of the identifier columns, matched trimmed
    and case-insensitively (default: ``cid``/``clientid``/``client_id`` and ``alias``). ``sheet``: the
    worksheet of an ``.xlsx`` (default: the first). ``format``: overrides the one the file name implies.
    """

    encoding: Encoding = "auto"
    delimiter: str = "auto"
    cid_column: str | None = None
    alias_column: str | None = None
    sheet: str | None = None
    format: Format | None = None

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding {self.encoding!r} is not one of {', '.join(ENCODINGS)}")
        if self.delimiter != "auto" and self.delimiter not in DELIMITERS:
            raise ValueError(f"delimiter {self.delimiter!r} is not one of {', '.join(DELIMITER_CHOICES)}")
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        for name in ("cid_column", "alias_column", "sheet"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ValueError(f"{name} must not be empty")

    @property
    def delimiter_char(self) -> str | None:
        """The delimiter character, or None for ``auto``."""
        return None if self.delimiter == "auto" else DELIMITERS[self.delimiter]


#: Every choice left to the input: what ``open_source`` uses when given no options.
DEFAULT_OPTIONS: Final = SourceOptions()
