"""``--format`` as docker reads it: ``table``, ``json``, or a Go template.

The templates people write are a small language: ``{{.Field}}`` (and ``.A.B``),
``{{json .}}`` / ``{{json .Field}}``, ``{{.Field | json}}``, ``{{upper .X}}``,
``{{lower .X}}``, ``{{title .X}}``, ``{{join .List ","}}``, ``{{range .X}}...{{end}}``
(``range $k, $v := .Map``; a map's keys in order, as Go's), ``{{if .X}}...{{else}}...
{{end}}``, ``{{with .X}}...{{end}}``, variables (``$``, ``$v.Field``), ``{{-``/``-}}``
trimming, and a leading ``table`` that prints a header of the fields' names and aligns
the columns; ``\\t`` and ``\\n`` escapes as docker unquotes them. That is what this
module renders. Anything else (``define``, other functions) is refused with a message
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

    Node = Any  # ("text", s) | ("act", expr) | (block, expr, body, else_body)

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
_FUNCS = {"json", "upper", "lower", "title", "join", "truncate", "pad", "println"}


class TemplateError(PycomposeError):
    """A ``--format`` template this renderer does not understand."""


def go_json(obj: Any) -> str:
    """Go's ``json.Marshal``: compact, keys as given, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _NoValue:
    """A map's missing key, as Go prints it for ``map[string]interface{}``."""

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


NO_VALUE = _NoValue()
_MAPS = "$ maps"  # in the variables: missing keys print <no value> (docker inspect's JSON)


def _lookup(obj: Any, path: str, maps: bool = False) -> Any:
    if path == ".":
        return obj
    value = obj
    for part in path.lstrip(".").split("."):
        if not part:
            continue
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif maps and (isinstance(value, dict) or value is None or value is NO_VALUE):
            value = NO_VALUE
        else:
            raise TemplateError(f"template: can't evaluate field {part} in {path!r}")
    return value


def _text(v: Any) -> str:
    if v is NO_VALUE:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return go_json(v)
    return str(v)


def _arg(obj: Any, word: str, env: dict[str, Any] | None = None) -> Any:
    if word.startswith('"') and word.endswith('"') and len(word) >= 2:
        return json.loads(word)
    maps = bool(env and env.get(_MAPS))
    if word.startswith("."):
        return _lookup(obj, word, maps)
    if word.startswith("$"):
        name, dot, rest = word.partition(".")
        if env is None or name not in env or name == _MAPS:
            raise TemplateError(f"template: undefined variable {name!r}")
        return _lookup(env[name], "." + rest, maps) if dot else env[name]
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


def _eval(obj: Any, expr: str, env: dict[str, Any] | None = None) -> str:
    return _text(_value(obj, expr, env))


def _value(obj: Any, expr: str, env: dict[str, Any] | None = None) -> Any:
    value: Any = None
    first = True
    for stage in (s.strip() for s in expr.split("|")):
        words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', stage)
        if not words:
            raise TemplateError(f"template: empty pipeline in {{{{{expr}}}}}")
        head = words[0]
        if head in ("range", "if", "with", "else", "end", "define", "template", "block"):
            raise TemplateError(f"template: {{{{{head}}}}} is not supported here by "
                                "pycompose's --format")
        if head.startswith((".", '"', "$")):
            if len(words) != 1:
                raise TemplateError(f"template: can't give arguments to {head}")
            value = _arg(obj, head, env)
        elif head in _FUNCS:
            args = [_arg(obj, w, env) for w in words[1:]]
            if not first:
                args.append(value)
            value = _call(head, args)
        else:
            raise TemplateError(f"template: function {head!r} not defined")
        first = False
    return value


def unescape(fmt: str) -> str:
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


_TRIM = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)
_BLOCKS = ("range", "if", "with")


def _tokens(fmt: str) -> list[tuple[str, str]]:
    """("text", s) and ("act", expr), with ``{{-`` / ``-}}`` trimming applied."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _TRIM.finditer(fmt):
        text = fmt[pos:m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        out.append(("text", text))
        out.append(("act", m.group(2)))
        pos, trim_next = m.end(), bool(m.group(3))
    tail = fmt[pos:]
    if "{{" in tail:  # Go's parser: an action opened and never closed
        raise TemplateError(f"template: :1: unclosed action in {fmt!r}")
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


def _parse(tokens: list[tuple[str, str]], i: int, inside: str | None
           ) -> tuple[list[Node], list[Node] | None, int]:
    """Nodes up to the ``{{end}}`` of ``inside`` (and its ``{{else}}`` part)."""
    body: list[Node] = []
    other: list[Node] | None = None
    current = body
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        head = value.split(None, 1)[0] if kind == "act" and value.split() else ""
        if kind == "text":
            current.append((kind, value))
        elif head in ("define", "template", "block"):
            raise TemplateError(f"template: {{{{{head}}}}} is not supported by pycompose's "
                                "--format")
        elif head in _BLOCKS:
            inner, alt, i = _parse(tokens, i, head)
            current.append((head, value[len(head):].strip(), inner, alt))
        elif head == "else":
            if inside is None or other is not None:
                raise TemplateError("template: unexpected {{else}}")
            other = current = []
        elif head == "end":
            if inside is None:
                raise TemplateError("template: unexpected {{end}}")
            return body, other, i
        else:
            current.append((kind, value))
    if inside is not None:
        raise TemplateError(f"template: unexpected EOF: {{{{{inside}}}}} has no {{{{end}}}}")
    return body, other, i


def _truth(v: Any) -> bool:
    """Go's: false, 0, nil and empty strings, lists and maps are false."""
    return bool(v)


def _exec(nodes: list[Node], obj: Any, env: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "act":
            out.append(_eval(obj, node[1], env))
        elif kind == "if":
            _, expr, body, alt = node
            _exec(body if _truth(_value(obj, expr, env)) else alt or [], obj, env, out)
        elif kind == "with":
            _, expr, body, alt = node
            v = _value(obj, expr, env)
            if _truth(v):
                _exec(body, v, env, out)
            else:
                _exec(alt or [], obj, env, out)
        else:  # range
            _, expr, body, alt = node
            names: list[str] = []
            if ":=" in expr:
                left, _, expr = expr.partition(":=")
                names = [n.strip() for n in left.split(",")]
                if not all(n.startswith("$") for n in names) or len(names) > 2:
                    raise TemplateError(f"template: bad range variables {left.strip()!r}")
                expr = expr.strip()
            v = _value(obj, expr, env)
            items = sorted(v.items()) if isinstance(v, dict) else \
                list(enumerate(v)) if isinstance(v, list) else []
            if v is not None and v is not NO_VALUE and not isinstance(v, (dict, list)):
                raise TemplateError(f"template: range can't iterate over {_text(v)}")
            if not items:
                _exec(alt or [], obj, env, out)
            for key, item in items:
                inner = dict(env)
                if len(names) == 1:
                    inner[names[0]] = item
                elif len(names) == 2:
                    inner[names[0]], inner[names[1]] = key, item
                _exec(body, item, inner, out)


def render(fmt: str, obj: Any, *, maps: bool = False) -> str:
    """One object through the template ``fmt`` (without ``table``). ``maps``: the
    object is JSON (docker inspect's), where a missing key prints ``<no value>``; else
    it is a row of known fields, where a missing one is an error, as Go's are."""
    nodes, _, _ = _parse(_tokens(fmt), 0, None)
    out: list[str] = []
    _exec(nodes, obj, {"$": obj, _MAPS: maps}, out)
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
