"""Header rows as a person means them, for every reader with one (CSV/TSV and xlsx).

Names are trimmed; the identifier columns are matched case-insensitively (``cid``, ``clientid``,
``client_id``; ``alias``) or named by the caller. Spreadsheets pad rows with columns that have no name:
those are ignored while empty, and a row that puts a value in one is rejected at its line, since the
value has nowhere to go. A header problem is an :class:`InputError` naming the columns found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from getui_async.errors import InputError
from getui_async.outcome import Kind

from ._records import Bad, BadRecord, SourceItem, identify, new_record, shown, try_identify
from .options import DEFAULT_OPTIONS, SourceOptions

__all__ = ["CID_NAMES", "Layout", "blank"]

#: Header names (compared case-insensitively) that name the cid column unless the caller names one.
CID_NAMES: Final = ("cid", "clientid", "client_id")
ALIAS_NAMES: Final = ("alias",)


def blank(row: Sequence[str]) -> bool:
    """A row with nothing in it (spaces, empty cells): skipped like a blank line, as spreadsheets pad."""
    return all(not value or value.isspace() for value in row)


def _columns_text(names: Sequence[str]) -> str:
    shown_names = [repr(n) for n in names if n]
    return ", ".join(shown_names) if shown_names else "none"


def _find(
    names: tuple[str, ...], wanted: str | None, defaults: tuple[str, ...], role: str, refuse: type[Exception]
) -> int | None:
    """The position of the ``role`` column: the one named ``wanted``, else the one default name present."""
    folded = [n.casefold() for n in names]
    if wanted is not None:
        key = wanted.strip().casefold()
        if key not in folded:
            raise refuse(f"no column named {wanted.strip()!r} for the {role}; columns found: ")
        return folded.index(key)
    hits = [i for i, n in enumerate(folded) if n in defaults]
    if len(hits) > 1:
        both = " and ".join(repr(names[i]) for i in hits)
        raise refuse(f"columns {both} both name the {role}; keep one or name it explicitly; columns found: ")
    return hits[0] if hits else None


class _Refused(Exception):
    """A header problem whose text is completed with the list of columns."""


@dataclass(frozen=True, slots=True)
class Layout:
    """A validated header; :meth:`build` turns one row of cells into an item."""

    names: tuple[str, ...]  # trimmed, as in the header ("" for a column without a name)
    cid_at: int | None
    alias_at: int | None
    variables: tuple[tuple[int, str], ...]  # (position, name) of every other named column
    unnamed: tuple[int, ...]  # positions of columns without a name
    named_width: int  # cells up to the last named column; the rest of the header is unnamed padding

    @classmethod
    def from_header(
        cls, row: Sequence[str], *, name: str, line: int, options: SourceOptions = DEFAULT_OPTIONS
    ) -> Layout:
        """Validate a header row; raises :class:`InputError` naming the problem and the columns found."""
        names = tuple(column.strip() for column in row)

        def refuse(reason: str) -> InputError:
            return InputError(name, f"header row: {reason}", line=line)

        seen: set[str] = set()
        for column in names:
            if column and column in seen:
                raise refuse(f"duplicate column name {column!r}")
            seen.add(column)
        try:
            cid_at = _find(names, options.cid_column, CID_NAMES, "cid", _Refused)
            alias_at = _find(names, options.alias_column, ALIAS_NAMES, "alias", _Refused)
        except _Refused as exc:
            raise refuse(f"{exc}{_columns_text(names)}") from None
        if cid_at is None and alias_at is None:
            raise refuse(
                "needs a 'cid' (or 'clientid', 'client_id') or an 'alias' column;"
                f" columns found: {_columns_text(names)}"
            )
        if cid_at == alias_at:
            raise refuse(f"column {names[cid_at]!r} cannot be both the cid and the alias")  # type: ignore[index]
        named = [i for i, n in enumerate(names) if n]
        variables = tuple((i, names[i]) for i in named if i not in (cid_at, alias_at))
        unnamed = tuple(i for i, n in enumerate(names) if not n)
        return cls(names, cid_at, alias_at, variables, unnamed, named[-1] + 1)

    def fits(self, size: int) -> bool:
        """Whether a row of ``size`` cells has the header's width (trailing unnamed cells may be missing)."""
        return size == len(self.names) or self.named_width <= size < len(self.names)

    @property
    def columns(self) -> tuple[str, ...]:
        """The named columns, in header order (what placeholders may refer to)."""
        return tuple(n for n in self.names if n)

    def build(self, line: int, row: Sequence[str]) -> SourceItem | None:
        """The item for one row, or None for a row with nothing in it (treated like a blank line)."""
        width = len(self.names)
        size = len(row)
        if size == width and not self.unnamed:  # the common case, kept as fast as a plain dict(zip())
            values = dict(zip(self.names, row))  # noqa: B905 - the widths were compared
            cid = values.pop(self.names[self.cid_at], "") if self.cid_at is not None else ""
            alias = values.pop(self.names[self.alias_at], "") if self.alias_at is not None else ""
            try:
                kind, target = identify(cid, alias)
            except Bad as bad:
                if blank(row):
                    return None
                return bad.at(line)
            return new_record(line, kind, target, values, {})
        if not self.fits(size):
            if blank(row):
                return None
            return BadRecord(line, None, f"expected {width} columns, found {size}", *self.identity(row))
        for position in self.unnamed:
            if position < size and row[position] and not row[position].isspace():
                if blank(row):
                    return None
                return BadRecord(
                    line,
                    None,
                    f"column {position + 1} has no name in the header but a value here"
                    f" ({shown(row[position])})",
                    *self.identity(row),
                )
        values = {key: row[position] for position, key in self.variables if position < size}
        try:
            kind, target = identify(self._cell(row, self.cid_at), self._cell(row, self.alias_at))
        except Bad as bad:
            if blank(row):
                return None
            return bad.at(line)
        return new_record(line, kind, target, values, {})

    def identity(self, row: Sequence[str]) -> tuple[Kind | None, str | None]:
        """The identifier of a row rejected for another reason, if it is clean (rows of any width)."""
        return try_identify(self._cell(row, self.cid_at), self._cell(row, self.alias_at))

    def field_at(self, position: int) -> str | None:
        """The field name a result uses for the cell at ``position`` (``cid``/``alias`` for the ids)."""
        if position == self.cid_at:
            return "cid"
        if position == self.alias_at:
            return "alias"
        return self.names[position] if position < len(self.names) and self.names[position] else None

    @staticmethod
    def _cell(row: Sequence[str], position: int | None) -> str:
        return row[position] if position is not None and position < len(row) else ""
