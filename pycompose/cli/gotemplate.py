"""``--format`` as docker reads it: ``table``, ``json``, or a Go template.

The templates people write are a small language: ``{{.Field}}`` (and ``.A.B``),
``{{json .}}`` / ``{{json .Field}}``, ``{{.Field | json}}``, ``{{upper .X}}``,
``{{lower .X}}``, ``{{title .X}}``, ``{{join .List ","}}``, and a leading ``table``
that prints a header of the fields' names and aligns the columns; ``\\t`` and ``\\n``
escapes as docker unquotes them. That is what this module renders. Anything else
(``{{range}}``, ``{{if}}``, pipelines of other functions) is refused with a message
naming it, never silently printed as the table.
"""

from __future__ import annotations

import json
import re

from pycompose.errors import PycomposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
_FUNCS = {"json", "upper", "lower", "title", "join", "truncate", "pad", "println"}


class TemplateError(PycomposeError):
    """A ``--format`` template this renderer does not understand."""


def go_json(obj: Any) -> str:
    """Go's ``json.Marshal``: compact, keys as given, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _lookup(obj: Any, path: str) -> Any:
    if path == ".":
        return obj
    value = obj
    for part in path.lstrip(".").split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise TemplateError(f"template: can't evaluate field {part} in {path!r}")
    return value


def _text(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return go_json(v)
    return str(v)


def _arg(obj: Any, word: str) -> Any:
    if word.startswith('"') and word.endswith('"') and len(word) >= 2:
        return json.loads(word)
    if word.startswith("."):
        return _lookup(obj, word)
    if word.lstrip("-").isdigit():
        return int(word)
    raise TemplateError(f"template: unsupported argument {word!r}")


def _call(name: str, args: list[Any]) -> Any:
    if name == "json":
        return go_json(args[0] if args else None)
    if name == "upper":
        return _text(args[0]).upper()
    if name == "lower":
        return _text(args[0]).lower()
    if name == "title":
        return _text(args[0]).title()
    if name == "join":
        items = args[0] if isinstance(args[0], list) else [args[0]]
        return (args[1] if len(args) > 1 else "").join(_text(i) for i in items)
    if name == "truncate":
        return _text(args[0])[: int(args[1])]
    if name == "pad":
        return " " * int(args[1]) + _text(args[0]) + " " * int(args[2])
    if name == "println":
        return " ".join(_text(a) for a in args) + "\n"
    raise TemplateError(f"template: function {name!r} not supported")


def _eval(obj: Any, expr: str) -> str:
    value: Any = None
    first = True
    for stage in (s.strip() for s in expr.split("|")):
        words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', stage)
        if not words:
            raise TemplateError(f"template: empty pipeline in {{{{{expr}}}}}")
        head = words[0]
        if head in ("range", "if", "with", "else", "end", "define", "template", "block"):
            raise TemplateError(f"template: {{{{{head}}}}} is not supported by pycompose's "
                                "--format (fields, json, upper/lower/title, join are)")
        if head.startswith(".") or head.startswith('"'):
            if len(words) != 1:
                raise TemplateError(f"template: can't give arguments to {head}")
            value = _arg(obj, head)
        elif head in _FUNCS:
            args = [_arg(obj, w) for w in words[1:]]
            if not first:
                args.append(value)
            value = _call(head, args)
        else:
            raise TemplateError(f"template: function {head!r} not defined")
        first = False
    return _text(value)


def unescape(fmt: str) -> str:
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def render(fmt: str, obj: Any) -> str:
    """One object through the template ``fmt`` (without ``table``)."""
    out, pos = [], 0
    for m in _ACTION.finditer(fmt):
        out.append(fmt[pos:m.start()])
        out.append(_eval(obj, m.group(1)))
        pos = m.end()
    out.append(fmt[pos:])
    return "".join(out)


def _header(fmt: str) -> str:
    """The header row of ``table FMT``: each ``{{.Field}}`` becomes its upper-cased name
    with spaces where Go's names join words (docker's headers: ``CONTAINER ID``)."""
    def name(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        field = expr.split()[-1] if expr.split() else expr
        field = field.lstrip(".").split(".")[-1] or "."
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()
    return _ACTION.sub(name, fmt)


def tabulate(rows: Sequence[Sequence[str]], padding: int = 3) -> list[str]:
    """Aligned columns, as Go's tabwriter with docker's padding."""
    if not rows:
        return []
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows)
              for i in range(max(len(r) for r in rows))]
    return [(" " * padding).join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
            for r in rows]


def format_rows(fmt: str | None, rows: Sequence[Mapping[str, Any]],
                default_table: Sequence[tuple[str, str]]) -> list[str]:
    """Lines for ``--format fmt`` over ``rows``: ``table`` (or None) is the default
    columns ((header, field) pairs), ``json`` one compact object per line, ``table
    TEMPLATE`` a header and aligned cells, any other text a template per row."""
    if fmt is None or fmt.strip() == "table":
        table = [[h for h, _ in default_table]]
        table += [[_text(r.get(f, "")) for _, f in default_table] for r in rows]
        return tabulate(table)
    if fmt.strip() == "json":
        return [go_json(dict(r)) for r in rows]
    fmt = unescape(fmt)
    if fmt.startswith("table"):
        body = fmt[len("table"):].lstrip(" ")
        if "\t" in body:
            lines = [_header(body).split("\t")]
            lines += [render(body, r).split("\t") for r in rows]
            return tabulate(lines)
        return [_header(body), *(render(body, r) for r in rows)]
    return [render(fmt, r) for r in rows]
