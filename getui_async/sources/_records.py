"""What every reader produces: :class:`Record` / :class:`BadRecord`, identifier rules and value text.

One place for the record vocabulary, so the CSV, JSONL, xlsx and iterable readers agree on what a valid
cid or alias is and on how a typed value (number, boolean, date) becomes template text.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, TypeAlias

from getui_async.outcome import Kind

CID_MAX_CHARS: Final = 64
ALIAS_MAX_CHARS: Final = 40
#: Keys a JSONL line or a mapping may use to override the message per record.
OVERRIDE_KEYS: Final = ("title", "body", "payload")
#: Floats at or beyond this lose integer digits (2**53): an id written as a bare number is refused.
EXACT_FLOAT_LIMIT: Final = float(1 << 53)


_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One recipient, ready for the planner. ``line`` is the physical line where the record starts."""

    line: int
    kind: Kind
    target: str
    variables: dict[str, str]
    overrides: dict[str, str]


# A frozen dataclass's generated __init__ calls object.__setattr__ per field (~0.6 µs for Record); every
# input record makes one, so the readers set the slots through their descriptors instead (~0.3 µs).
_SET_RECORD: Final = tuple(getattr(Record, f.name).__set__ for f in fields(Record))


def new_record(
    line: int,
    kind: Kind,
    target: str,
    variables: dict[str, str],
    overrides: dict[str, str],
    _new: Callable[[type[Record]], Record] = object.__new__,
    _set: tuple[Callable[[Record, Any], None], ...] = _SET_RECORD,
) -> Record:
    """``Record(line, kind, target, variables, overrides)``, built faster (one per input record)."""
    record = _new(Record)
    set_line, set_kind, set_target, set_variables, set_overrides = _set
    set_line(record, line)
    set_kind(record, kind)
    set_target(record, target)
    set_variables(record, variables)
    set_overrides(record, overrides)
    return record


@dataclass(frozen=True, slots=True)
class BadRecord:
    """One input record that can't be sent; it becomes a ``rejected`` result line, never a request.

    ``field`` names the column/key at fault, or is None when the record could not be split at all.
    ``kind``/``target`` carry the identifier when it could still be read, so the result names it.
    """

    line: int
    field: str | None
    reason: str
    kind: Kind | None = None
    target: str | None = None

    def describe(self, path: str) -> str:
        """A message such as ``recipients.csv:7: field 'cid': missing``."""
        where = f"{path}:{self.line}"
        if self.field is None:
            return f"{where}: {self.reason}"
        return f"{where}: field {self.field!r}: {self.reason}"


SourceItem: TypeAlias = Record | BadRecord


class Bad(Exception):
    """A record-level problem found while building a record; turned into a BadRecord at its line."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason

    def at(self, line: int, identity: tuple[Kind | None, str | None] = (None, None)) -> BadRecord:
        return BadRecord(line, self.field, self.reason, *identity)


def shown(value: str) -> str:
    """A value quoted for a reason text: ``repr`` escapes control characters and stray surrogates."""
    return repr(value) if len(value) <= 48 else repr(value[:48]) + "..."


def identify(cid: str, alias: str) -> tuple[Kind, str]:
    """The record's one identifier, validated; raises :class:`Bad` naming the field otherwise.

    Both limits are lenient versions of Getui's rules, but a comma or a control character never passes:
    list endpoints and paths join identifiers with commas.
    """
    cid = cid.strip()
    alias = alias.strip()
    if cid:
        if alias:
            raise Bad("alias", "both cid and alias are set; give exactly one")
        if (
            len(cid) <= CID_MAX_CHARS
            and cid.isascii()
            and cid.isprintable()
            and " " not in cid
            and "," not in cid
        ):
            return "cid", cid
        raise Bad(
            "cid",
            f"invalid cid {shown(cid)}: needs 1-{CID_MAX_CHARS} printable ASCII characters"
            " without spaces or commas",
        )
    if alias:
        if len(alias) <= ALIAS_MAX_CHARS and alias.isprintable() and "," not in alias:
            return "alias", alias
        raise Bad(
            "alias",
            f"invalid alias {shown(alias)}: needs 1-{ALIAS_MAX_CHARS} characters"
            " without commas or control characters",
        )
    raise Bad("cid", "missing: the record needs a cid or an alias")


def try_identify(cid: Any, alias: Any) -> tuple[Kind | None, str | None]:
    """The identifier of a record rejected for another reason, or (None, None) if it isn't clean."""
    if not isinstance(cid, str) or not isinstance(alias, str):
        return None, None
    try:
        return identify(cid, alias)
    except Bad:
        return None, None


def type_name(value: Any) -> str:
    """A JSON-ish name of a value's type, for reason texts."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def number_text(key: str, value: float) -> str:
    """A float as a person reads it: ``12345`` for a whole number (spreadsheets store ids as floats)."""
    if abs(value) >= EXACT_FLOAT_LIMIT:
        raise Bad(key, f"number {value!r} is too large to keep exactly; write it as a string")
    if value.is_integer():
        return str(int(value))
    return repr(value)


def value_text(key: str, value: Any) -> str | None:
    """A JSON or Python value as template text (None = absent); raises :class:`Bad` for what can't be one.

    Used by the JSONL reader (str/int/float/bool/None) and the mapping reader, which also takes dates,
    times and decimals, since rows from a database query carry them.
    """
    kind = type(value)
    if kind is str:
        return str(value)  # the same object: str() of an exact str is free
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if abs(value) >= EXACT_FLOAT_LIMIT:
            raise Bad(key, f"number {value!r} is too large to keep exactly; write it as a string")
        return repr(value)
    if isinstance(value, (dt.date, dt.time)):
        return iso_text(value)
    if isinstance(value, (decimal.Decimal, int)):
        return str(value)
    raise Bad(key, f"expected a string, number or boolean, got {type_name(value)}")


def iso_text(value: dt.date | dt.time) -> str:
    """A date as ``2024-05-01``; a date-time as ``2024-05-01 10:30:00`` (or the date alone at midnight)."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    return value.isoformat()


def record_from_mapping(number: int, obj: Mapping[Any, Any]) -> SourceItem:
    """One JSONL object or library mapping as a Record, or a BadRecord naming the key at fault.

    ``cid``/``alias`` identify it, ``title``/``body``/``payload`` override the message, other keys are
    template variables (:func:`value_text`); the first bad key is reported, with the recipient when known.
    Keys must be strings (a JSON object's always are; :mod:`.iterables` checks a caller's mapping first).
    """
    values: dict[str, str] = {}
    problem: Bad | None = None
    for key, value in obj.items():
        try:
            text = value_text(key, value)
        except Bad as bad:
            problem = problem or bad
            continue
        if text is not None:
            values[key] = text
    cid, alias = values.pop("cid", ""), values.pop("alias", "")
    if problem is not None:
        clean = problem.field not in ("cid", "alias")
        return problem.at(number, try_identify(cid, alias) if clean else (None, None))
    try:
        kind, target = identify(cid, alias)
    except Bad as bad:
        return bad.at(number)
    overrides: dict[str, str] = {key: values[key] for key in OVERRIDE_KEYS if key in values}
    return new_record(number, kind, target, values, overrides)
