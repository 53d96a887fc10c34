"""pydantic's validation errors, told as one ComposeError at the file, line and key.

pydantic reports ``loc`` paths of the *normalised* data (``depends_on`` as a mapping,
a port list split into groups, union tags); the raw tree from the loader still has
the marks. We walk ``loc`` along the raw tree, keeping the steps that exist there and
dropping synthetic ones, so the key path is what the user wrote
(``services.web.ports[1]``) and the mark is where they wrote it.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from ..errors import ComposeError
from ..yamlsrc import Mark, MDict, MList, key_path, locate
from .base import SYNTAX_ERROR
from .syntax import kind_of


def describe(value: Any) -> str:
    """A value as a message shows it: ``'abc'``, ``a mapping``, ``nothing (null)``,
    cut to 60 characters."""
    text = kind_of(value)
    return text if len(text) <= 60 else text[:57] + "..."


def real_path(tree: Any, loc: tuple[Any, ...]) -> tuple[list[str | int], Any]:
    """The steps of ``loc`` that exist in ``tree`` (plus a final missing/extra key),
    and the raw node reached."""
    node, out = tree, []
    for i, step in enumerate(loc):
        if step == "__extensions__":
            break
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_dict or in_list:
            out.append(step)
            node = node[step]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(step, str) \
                and not step.startswith(("function-", "list[", "dict[", "str", "int")):
            out.append(step)  # a missing key: name it
            node = None
    return out, node


def _expected(err: dict[str, Any], raw_value: Any, path: list[str | int]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input", raw_value)
    got = describe(value)
    last = path[-1] if path else ""
    if kind == SYNTAX_ERROR:
        return str(ctx.get("msg", err["msg"]))
    if kind == "extra_forbidden":
        return f"unknown key {last!r}"
    if kind == "missing":
        return f"missing the required key {last!r}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {got}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"expected a number, got {got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected a boolean (true or false), got {got}"
    if kind in ("string_type", "string_sub_type"):
        return f"expected a string, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping, got {got}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"expected a list, got {got}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {got}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"expected a number >= {ctx.get('ge', ctx.get('gt'))}, got {got}"
    if kind in ("less_than_equal", "less_than"):
        return f"expected a number <= {ctx.get('le', ctx.get('lt'))}, got {got}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg'][0].lower()}{err['msg'][1:]}, got {got}"


def _suggest(word: str, model_keys: list[str]) -> str:
    close = difflib.get_close_matches(word, model_keys, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def translate(exc: ValidationError, tree: Any, *, known_keys: Any = None) -> ComposeError:
    """The first error by position in the files, as one ComposeError."""
    located: list[tuple[tuple[str, int, int], ComposeError]] = []
    for err in exc.errors():
        path, raw_value = real_path(tree, tuple(err["loc"]))
        message = _expected(dict(err), raw_value, path)
        if err["type"] == "extra_forbidden" and known_keys is not None and path:
            message += _suggest(str(path[-1]), known_keys(path))
        mark = _key_mark(tree, path) if err["type"] == "extra_forbidden" else None
        if mark is None:
            mark, _ = locate(tree, path)
        located.append((_order(mark), ComposeError(
            message, file=mark.file if mark else None, line=mark.line if mark else None,
            column=mark.column if mark else None, key=key_path(path) or None)))
    located.sort(key=lambda item: item[0])
    first = located[0][1]
    if len(located) > 1:
        more = len(located) - 1
        first = ComposeError(
            f"{first.detail} (and {more} more error{'s' if more > 1 else ''})",
            file=first.file, line=first.line, column=first.column, key=first.key)
    return first


def _order(mark: Mark | None) -> tuple[str, int, int]:
    return (mark.file, mark.line, mark.column) if mark else ("~", 0, 0)


def _key_mark(tree: Any, path: list[str | int]) -> Mark | None:
    """Where a key itself is written (for an unknown key, point at the key)."""
    node = tree
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, MDict):
        return node.key_mark(path[-1])
    if isinstance(node, MList) and isinstance(path[-1], int):
        return node.item_mark(path[-1])
    return None
