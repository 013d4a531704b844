"""The checks every request body is built of: typed field getters that refuse in Getui's own words.

Each raises :class:`Invalid` (code 20001) with Getui's message style (``{param} is invalid``, ``can not be
empty``, ``size over limit``, ``type error``); ``param`` is a dotted path from the body's root.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_INT32",
    "NUMERIC",
    "ClickRule",
    "Invalid",
    "as_object",
    "check_click",
    "check_keys",
    "exactly_one",
    "get_bool",
    "get_int",
    "get_str",
    "join",
]

MAX_INT32: Final = 2_147_483_647
NUMERIC: Final = re.compile(r"[+-]?\d{1,10}")


class Invalid(Exception):
    """A request Getui refuses with code 20001; ``msg`` is Getui's message."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{path} type error")
    return value


def check_keys(obj: dict[str, Any], allowed: Collection[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise Invalid(f"{join(path, key)} is invalid")


def get_str(
    obj: dict[str, Any], key: str, path: str, limit: int | None, *, required: bool = False
) -> str | None:
    """The string at ``obj[key]``: an empty or missing required one and an over-long one are refused."""
    value = obj.get(key)
    if value.__class__ is str and value and (limit is None or len(value) <= limit):
        return value  # the fast path: names are built only for errors
    if value is None or value == "":
        if required:
            raise Invalid(f"{join(path, key)} can not be empty")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{join(path, key)} type error")
    raise Invalid(f"{join(path, key)} size over limit")


def get_int(
    obj: dict[str, Any], key: str, path: str, lo: int, hi: int, *, numeric_string: bool = False
) -> int | None:
    """An int in ``[lo, hi]``; with ``numeric_string`` also a JSON string of decimal digits ("3").

    The official Java SDK declares ``notify_id``, ``channel_level``, ``badge_add_num`` (and the
    vendor/Harmony ``notify_id``) as ``String``, so Getui accepts them as numeric strings.
    """
    value = obj.get(key)
    if value is None:
        return None
    if numeric_string and value.__class__ is str:
        if not NUMERIC.fullmatch(value):
            raise Invalid(f"{join(path, key)} is invalid")
        value = int(value)
    elif value.__class__ is not int:  # bool is an int subclass, and not a number here
        raise Invalid(f"{join(path, key)} type error")
    if not lo <= value <= hi:
        raise Invalid(f"{join(path, key)} is invalid")
    return int(value)


def get_bool(obj: dict[str, Any], key: str, path: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise Invalid(f"{join(path, key)} type error")
    return value


def exactly_one(obj: dict[str, Any], keys: tuple[str, ...], msg: str) -> str:
    present = [k for k in keys if obj.get(k) is not None]
    if len(present) != 1:
        raise Invalid(msg)
    return present[0]


@dataclass(frozen=True, slots=True)
class ClickRule:
    """click_type -> (the field it requires, its limit) or None; ``fields`` = every such field, once."""

    table: dict[str, tuple[str, int] | None]
    fields: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, table: dict[str, tuple[str, int] | None]) -> ClickRule:
        return cls(table, tuple(dict.fromkeys(v for v in table.values() if v is not None)))


def check_click(obj: dict[str, Any], path: str, rule: ClickRule) -> None:
    """``click_type`` is required, one of the rule's, and brings its required field within its limit."""
    click = get_str(obj, "click_type", path, None, required=True)
    if click not in rule.table:
        raise Invalid(f"{join(path, 'click_type')} is invalid")
    needed = rule.table[click]
    if needed is not None:
        get_str(obj, needed[0], path, needed[1], required=True)
    for name, limit in rule.fields:
        if name in obj:
            get_str(obj, name, path, limit)
