"""The template compiler: placeholder parsing, per-path text rules, and the render plan.

A message tree is walked once; each personalized string becomes a *leaf*, and the tree's JSON is split
at the leaves, so rendering one recipient is a join of fixed byte chunks and JSON-quoted texts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

from getui_async import _json
from getui_async.errors import MessageError

from .rules import _GROUP_NAME, LIMITS, _Checker, _plain, _show

# ---------------------------------------------------------------------------------------------------
# Strings: placeholder parsing and the per-path text rules (length, non-empty, group_name charset).
# ---------------------------------------------------------------------------------------------------


#: A placeholder name: a letter or ``_`` then letters, digits or ``_`` (Unicode, so ``{姓名}`` works).
_IDENT: Final = r"[^\W\d]\w*"
# Leftmost match wins and longer forms come first: ``{{x}}`` is the escaped text ``{x}``, never a
# placeholder, and ``{{`` / ``}}`` are tried before a single brace.
_TOKEN: Final = re.compile(r"\{\{(" + _IDENT + r")\}\}|\{(" + _IDENT + r")\}|\{\{|\}\}|\{|\}")


def _parse(text: str, path: str) -> tuple[str | None, str, tuple[str, ...]]:
    """``(literal, format_map pattern, placeholder names)``; ``literal`` is None when names exist.

    Syntax: ``{name}`` is a placeholder; ``{{`` and ``}}`` are literal braces (so ``{{name}}`` is the
    text ``{name}``); any other brace is literal but must be balanced, so JSON text in a payload
    (``{"a":{"b":"{uid}"}}``) passes through while a typo such as ``{name`` is refused. Inside such
    nesting, ``}}`` closes two levels (JSON), not an escape.
    """
    if "{" not in text and "}" not in text:
        return text, text, ()
    literal: list[str] = []
    pattern: list[str] = []  # the same text, braces doubled for format_map, placeholders kept
    names: list[str] = []
    opened: list[int] = []  # positions of the unclosed single braces

    def add(piece: str) -> None:
        literal.append(piece)
        pattern.append(piece.replace("{", "{{").replace("}", "}}"))

    pos = 0
    for match in _TOKEN.finditer(text):
        add(text[pos : match.start()])
        escaped, name, token = match.group(1), match.group(2), match.group()
        pos = match.end()
        if escaped is not None:
            add("{" + escaped + "}")
        elif name is not None:
            names.append(name)
            pattern.append(token)
        elif token == "{{":
            add("{")
        elif token == "}}" and len(opened) >= 2:
            del opened[-2:]
            add("}}")
        elif token == "}}":
            add("}")
        elif token == "{":
            opened.append(match.start())
            add("{")
        elif opened:
            opened.pop()
            add("}")
        else:
            where = match.start() + 1
            raise MessageError(
                path, f"has an unbalanced '}}' at character {where}; write '}}}}' for a literal '}}'"
            )
    add(text[pos:])
    if opened:
        where = opened[0] + 1
        raise MessageError(
            path, f"has an unbalanced '{{' at character {where}; write '{{{{' for a literal '{{'"
        )
    return (None if names else "".join(literal)), "".join(pattern), tuple(names)


_TextCheck: TypeAlias = Callable[[str], None]


def _text_check(path: str, required: frozenset[str]) -> _TextCheck | None:
    """The rules for the string at ``path``, as one function; None when the path has no rule."""
    limit = LIMITS.get(path)
    must = path in required
    charset = _GROUP_NAME if path == "group_name" else None
    if limit is None and not must and charset is None:
        return None

    def check(text: str) -> None:
        if must and not text:
            raise MessageError(path, "must not be empty")
        if limit is not None and len(text) > limit:
            raise MessageError(path, f"is {len(text)} characters, over Getui's limit of {limit}")
        if charset is not None and not charset.fullmatch(text):
            raise MessageError(path, "may hold only ASCII letters, digits, '-' and '_'")

    return check


# ---------------------------------------------------------------------------------------------------
# Compilation: the message's wire JSON as static byte chunks around the personalized strings.
# ---------------------------------------------------------------------------------------------------

_Values: TypeAlias = Mapping[str, str]
#: Which placeholders may render empty: the names, or True for all (default: none may).
AllowEmpty: TypeAlias = frozenset[str] | bool
_Leaf: TypeAlias = Callable[[_Values, _Values], str]
#: Renders one recipient's message object as JSON bytes.
_Plan: TypeAlias = Callable[[_Values, _Values], bytes]


def _as_text(value: Any) -> str:
    # Records are meant to hold strings; a JSONL number or bool is sent as its text.
    return value if type(value) is str else str(value)


def _text_leaf(pattern: str, names: tuple[str, ...], check: _TextCheck | None) -> _Leaf:
    if pattern == "{" + names[0] + "}":  # the whole string is one placeholder: skip formatting
        name = names[0]

        def whole(values: _Values, overrides: _Values) -> str:
            text = _as_text(values[name])
            if check is not None:
                check(text)
            return text

        return whole
    format_map = pattern.format_map

    def part(values: _Values, overrides: _Values) -> str:
        text = format_map(values)
        if check is not None:
            check(text)
        return text

    return part


def _override_leaf(key: str, check: _TextCheck | None) -> _Leaf:
    def override(values: _Values, overrides: _Values) -> str:
        text = _as_text(overrides[key])
        if check is not None:
            check(text)
        return text

    return override


class _Compiler:
    """Walks a plain message tree once: checks static strings, compiles the personalized ones.

    Each personalized string (a placeholder, or a slot a record's own title/body/payload replaces)
    becomes a *leaf*; :meth:`plan` serializes the tree once with a marker at each leaf and splits the
    JSON there, so rendering a recipient is: the leaves' texts, JSON-quoted, between fixed chunks.
    No dict is built per recipient.
    """

    def __init__(
        self,
        required: frozenset[str],
        slots: Mapping[str, str] | None = None,
        allow_empty: AllowEmpty = False,
    ) -> None:
        self.required = required
        self.slots = slots or {}  # dotted path -> override key
        self.allow_empty = allow_empty
        self.variables: set[str] = set()
        self.leaves: list[_Leaf] = []
        self._marker = f"@@getui-leaf-{secrets.token_hex(8)}-"

    def compile(self, tree: dict[str, Any]) -> bytes | _Plan:
        """A renderer for ``tree``; or, when nothing in it is personalized, its JSON once and for all."""
        marked = self.walk(tree, "")
        if not self.leaves:
            return _json.dumps(marked)  # static strings as sent: ``{{x}}`` escapes resolved
        parts = re.split(rb'"' + re.escape(self._marker.encode()) + rb'(\d+)"', _json.dumps(marked))
        chunks, order = parts[0::2], [int(i) for i in parts[1::2]]
        assert order == list(range(len(self.leaves))), "leaves serialized out of order"
        first, pairs = chunks[0], tuple(zip(self.leaves, chunks[1:], strict=True))
        dumps, join = _json.dumps, b"".join
        allowed = self.allow_empty
        must_fill = () if allowed is True else tuple(sorted(self.variables - (allowed or frozenset())))

        def render(values: _Values, overrides: _Values) -> bytes:
            for name in must_fill:  # once per name, however many strings use it
                value: object = values[name]  # records may hold None (JSON null) despite the type
                if value == "" or value is None:
                    raise MessageError(name, f"template field '{name}' is empty in this record")
            out = [first]
            for leaf, chunk in pairs:
                out.append(dumps(leaf(values, overrides)))
                out.append(chunk)
            return join(out)

        return render

    def _leaf(self, leaf: _Leaf) -> str:
        self.leaves.append(leaf)
        return f"{self._marker}{len(self.leaves) - 1}"

    def walk(self, value: Any, path: str) -> Any:
        """``value`` with every leaf replaced by its marker (static strings are checked here)."""
        if path in self.slots:
            return self._leaf(_override_leaf(self.slots[path], _text_check(path, self.required)))
        if isinstance(value, str):
            return self._text(value, path)
        if path in LIMITS or path in self.required:
            raise MessageError(path, f"must be a string, got {_show(value)}")
        if isinstance(value, dict):
            return {key: self.walk(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, f"{path}.{index}") for index, item in enumerate(value)]
        return value

    def _text(self, text: str, path: str) -> str:
        literal, pattern, names = _parse(text, path)
        check = _text_check(path, self.required)
        if literal is not None:
            if check is not None:
                check(literal)
            return literal
        self.variables.update(names)
        return self._leaf(_text_leaf(pattern, names, check))


def _check_fragment(data: dict[str, Any], path: str, checker: _Checker) -> None:
    """Validate one builder's JSON exactly as a template would: structure, then every string."""
    required: set[str] = set()
    checker(data, path, required)
    _Compiler(frozenset(required)).walk(_plain(data, path), path)
