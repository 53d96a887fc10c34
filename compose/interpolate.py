"""Variable interpolation, as docker compose (compose-go ``template``) does it.

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}``
(unset), ``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` /
``${VAR+alt}`` (alternative), nesting in defaults and messages, and ``$$`` for a
literal ``$``. Names are ``[_a-zA-Z][_a-zA-Z0-9]*``; a ``$`` followed by anything
else is kept as written; ``${`` without a valid name and a closing brace is an error.

Only values are interpolated, never keys. This module is pure: the caller supplies the
lookup and receives warnings, and turns :class:`InterpolationError` into a located
:class:`~pycompose.compose.errors.ComposeError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ComposeError
from .yamlsrc import MDict, MList, Override, key_path

Lookup = Callable[[str], "str | None"]

_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class InterpolationError(Exception):
    """A template that cannot be expanded; the message is the user's."""


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


class Template:
    """Expands one string. ``unset`` receives the names of variables used without a
    default while unset (docker compose warns about each and uses "")."""

    def __init__(self, lookup: Lookup, unset: Callable[[str], None] | None = None) -> None:
        self.lookup = lookup
        self.unset = unset

    def expand(self, text: str) -> str:
        if "$" not in text:
            return text
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c != "$":
                j = text.find("$", i)
                j = n if j < 0 else j
                out.append(text[i:j])
                i = j
                continue
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                value, i = self._braced(text, i)
                out.append(value)
            elif nxt and _is_name_start(nxt):
                j = i + 1
                while j < n and _is_name_char(text[j]):
                    j += 1
                out.append(self._value(text[i + 1:j]))
                i = j
            else:  # "$5", "$-", a trailing "$": kept as written
                out.append("$")
                i += 1
        return "".join(out)

    def _value(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            if self.unset is not None:
                self.unset(name)
            return ""
        return value

    def _braced(self, text: str, start: int) -> tuple[str, int]:
        """Expand ``${...}`` starting at ``text[start] == "$"``; return the value and the
        index after the closing brace."""
        i = start + 2
        n = len(text)
        j = i
        while j < n and _is_name_char(text[j]):
            j += 1
        name = text[i:j]
        if not name or not _is_name_start(name[0]):
            raise InterpolationError(f"invalid interpolation format for {text!r}: "
                                     f"bad variable name in {text[start:start + 20]!r}")
        if j < n and text[j] == "}":
            return self._value(name), j + 1
        op = next((o for o in _OPERATORS if text.startswith(o, j)), None)
        if op is None:
            raise InterpolationError(f"invalid interpolation format for {text!r}: "
                                     f"expected '}}' or an operator after ${{{name}")
        arg_start = j + len(op)
        end = self._closing_brace(text, arg_start)
        if end < 0:
            raise InterpolationError(f"invalid interpolation format for {text!r}: "
                                     "missing closing '}'")
        arg = text[arg_start:end]
        value = self.lookup(name)
        colon = op.startswith(":")
        missing = value is None or (colon and value == "")
        kind = op[-1]
        if kind == "-":
            result = self.expand(arg) if missing else value
        elif kind == "?":
            if missing:
                message = self.expand(arg)
                raise InterpolationError(
                    f"required variable {name} is missing a value"
                    + (f": {message}" if message else ""))
            result = value
        else:  # "+"
            result = "" if missing else self.expand(arg)
        return result or "", end + 1

    @staticmethod
    def _closing_brace(text: str, i: int) -> int:
        """The ``}`` that closes the ``${`` whose argument starts at ``i``.

        Every ``{`` counts, not only those of a nested ``${``, as compose-go counts
        them: ``${VAR:-{"json":1}}`` has the default ``{"json":1}``, and no stray
        ``}`` is left over when VAR is set.
        """
        depth = 0
        n = len(text)
        while i < n:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                if depth == 0:
                    return i
                depth -= 1
            i += 1
        return -1


def interpolate_tree(
    tree: Any,
    lookup: Lookup,
    *,
    file: str,
    warn: Callable[[str], None] | None = None,
    path: tuple[str | int, ...] = (),
) -> Any:
    """A copy of ``tree`` with every string value expanded (keys untouched).

    Marks are kept. An error names the file, line and key path of the value. ``warn``
    gets docker compose's warning for each unset variable (once per name).
    """
    warned: set[str] = set()

    def unset(name: str) -> None:
        if warn is not None and name not in warned:
            warned.add(name)
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')

    template = Template(lookup, unset)

    def walk(node: Any, where: tuple[str | int, ...], mark: Any) -> Any:
        if isinstance(node, str):
            try:
                return template.expand(node)
            except InterpolationError as e:
                raise ComposeError(str(e), file=mark.file if mark else file,
                                   line=mark.line if mark else None,
                                   column=mark.column if mark else None,
                                   key=key_path(where) or None)
        if isinstance(node, MDict):
            out = MDict(mark=node.mark)
            for k, v in node.items():
                out.set(k, walk(v, (*where, k), node.value_mark(k) or node.mark),
                        node.key_marks.get(k))
            return out
        if isinstance(node, MList):
            return MList([walk(v, (*where, i), node.item_mark(i) or node.mark)
                          for i, v in enumerate(node)],
                         mark=node.mark, item_marks=list(node.item_marks))
        if isinstance(node, dict):
            return {k: walk(v, (*where, k), mark) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*where, i), mark) for i, v in enumerate(node)]
        if isinstance(node, Override):
            return Override(walk(node.value, where, node.mark or mark), node.mark)
        return node

    return walk(tree, path, getattr(tree, "mark", None))


# --- the variables a model uses (``config --variables``) ------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](?:.*))?)\}|(?P<invalid>)))",
    re.IGNORECASE)


@dataclass(frozen=True)
class Variable:
    """One variable of a model, as ``docker compose config --variables`` lists it."""

    name: str
    default: str = ""
    alternate: str = ""
    required: bool = False


def _first_closing_brace(s: str) -> int:
    """compose-go's ``getFirstBraceClosingIndex``: every ``{`` opens (and hides the
    character after it), every ``}`` closes."""
    depth = 0
    i = 0
    while i < len(s):
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if s[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _variables_in(text: str) -> list[Variable]:
    out: list[Variable] = []
    for m in _VARIABLE.finditer(text):
        if m.group("escaped"):
            continue
        val = m.group("named") or ""
        if not val:
            s = m.group(0)
            i = _first_closing_brace(s)
            if i <= 0:
                continue  # "${" without a valid name: nothing to list
            val = s[2:i]
            out.extend(_variables_in(s[i + 1:]))
        j = next((k for k, c in enumerate(val) if not (c.isascii() and (c.isalnum()
                                                                        or c == "_"))), -1)
        name, rest = (val[:j], val[j:]) if j > 0 else (val, "")
        default = alternate = ""
        required = rest.startswith(("?", ":?"))
        if rest.startswith(":-"):
            default = rest[2:]
        elif rest.startswith("-"):
            default = rest[1:]
        elif rest.startswith(":+"):
            alternate = rest[2:]
        elif rest.startswith("+"):
            alternate = rest[1:]
        out.append(Variable(name, default, alternate, required))
        for nested in (default, alternate):
            if nested:
                out.extend(_variables_in(nested))
    return out


def extract_variables(tree: Any) -> dict[str, Variable]:
    """Every variable the string values of ``tree`` use, with its default, its
    alternate value and whether it is required (keys are never interpolated, so
    never looked at). A name used twice keeps what its last use says."""
    found: dict[str, Variable] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str):
            for v in _variables_in(node):
                found[v.name] = v
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, Override):
            walk(node.value)

    walk(tree)
    return found
