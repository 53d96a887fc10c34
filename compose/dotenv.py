"""``.env`` and ``env_file`` files, with docker compose's (compose-go ``dotenv``) rules.

- ``KEY=VALUE`` or ``KEY: VALUE``, an optional ``export`` prefix, ``#`` comment lines,
  blank lines; a UTF-8 BOM at the start is ignored.
- A bare ``KEY`` takes its value from the lookup (the shell); unset, it is left out.
- Unquoted values end at `` #`` (a comment needs a space before it), are trimmed, and
  are interpolated.
- ``'single quoted'`` values are literal but for ``\\'``, an escaped quote
  (``'Let\\'s go!'`` is ``Let's go!``). ``"double quoted"`` values may span lines,
  honour ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\" \\$`` and XSI octal ``\\0NNN``
  escapes, and are interpolated. A quote that never closes is an error at the line
  where the value starts.
- Interpolation inside the file looks in the lookup (the shell) first, then at keys
  defined earlier in the same file (docker/compose#9045).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .errors import ComposeError
from .interpolate import InterpolationError, Template

_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
#: The escapes of a double-quoted value: C's, ``\$`` (a literal ``$``), and XSI octal
#: ``\0NNN`` (``"\0123"`` is ``S``), as compose-go's dotenv has them.
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")


def _unescape(m: re.Match[str]) -> str:
    seq = m.group(0)
    if seq.startswith("\\0"):
        digits = seq[2:]
        # exactly three octal digits, one byte's worth; anything else stays as written
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return seq
    return _ESCAPES.get(seq[1], seq)


def _expand_escapes(value: str) -> str:
    return _ESCAPE.sub(_unescape, value)


def parse_dotenv(
    text: str,
    *,
    file: str,
    lookup: Callable[[str], str | None] = lambda _name: None,
    interpolate: bool = True,
    earlier: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Parse the content of an env file; errors name the file and line.

    ``${X}`` (and a bare ``X``) looks in ``lookup`` (the shell), then at this file's
    own earlier lines, then in ``earlier`` (what the env files before this one set):
    with several ``--env-file``, a file sees its own redefinition of a name first, as
    compose-go's one shared map gives it.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    values: dict[str, str] = {}
    before = earlier or {}

    def look(name: str) -> str | None:
        v = lookup(name)
        if v is None:
            v = values.get(name)
        return v if v is not None else before.get(name)

    template = Template(look)
    i, n, line = 0, len(text), 1

    def fail(msg: str, at_line: int) -> ComposeError:
        return ComposeError(msg, file=file, line=at_line)

    while i < n:
        # one logical line (a double-quoted value may span several)
        eol = text.find("\n", i)
        eol = n if eol < 0 else eol
        raw = text[i:eol]
        stripped = raw.strip()
        start_line = line
        if not stripped or stripped.startswith("#"):
            i = eol + 1
            line += 1
            continue
        body = raw.lstrip()
        if body.startswith("export ") or body.startswith("export\t"):
            body = body[7:].lstrip()
        m = _KEY.match(body)
        if not m:
            raise fail(f"invalid line {stripped!r}: expected KEY=VALUE", start_line)
        key = m.group(0)
        rest = body[m.end():].lstrip(" \t")
        if not rest or rest.startswith("#"):
            inherited = look(key)
            if inherited is not None:
                values[key] = inherited
            i = eol + 1
            line += 1
            continue
        if rest[0] not in "=:":
            raise fail(f"invalid line {stripped!r}: expected KEY=VALUE", start_line)
        rest = rest[1:].lstrip(" \t")
        # offset of the value in text, so that quoted values can run past this line
        vpos = i + (len(raw) - len(rest))
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            j = vpos + 1
            chunk: list[str] = []
            escaped = False
            while True:
                if j >= n:
                    raise fail(f"unterminated quoted value for {key}: the closing {quote} is "
                               "missing (an escaped quote does not close it)", start_line)
                c = text[j]
                if c == "\n":
                    line += 1
                if c == quote and not escaped:
                    break
                if escaped:
                    # \' in '...' and \" in "..." are the quote itself; any other
                    # escape keeps its backslash here (double quotes expand it below)
                    escaped = False
                    if c != quote:
                        chunk.append("\\")
                elif c == "\\":
                    escaped = True
                    j += 1
                    continue
                chunk.append(c)
                j += 1
            value = "".join(chunk)
            if quote == '"':
                value = _expand_escapes(value)
                if interpolate:
                    value = _expand(template, value, fail, start_line)
            values[key] = value
            eol = text.find("\n", j)
            eol = n if eol < 0 else eol
            trailing = text[j + 1:eol].strip()
            if trailing and not trailing.startswith("#"):
                raise fail(f"unexpected text after the quoted value of {key}: {trailing!r}",
                           line)
        else:
            # an inline comment needs a space before it; a tab before "#" does not
            # start one (compose-go)
            value = rest.split(" #", 1)[0].strip()
            if interpolate:
                value = _expand(template, value, fail, start_line)
            values[key] = value
        i = eol + 1
        line += 1
    return values


def _expand(template: Template, value: str,
            fail: Callable[[str, int], ComposeError], line: int) -> str:
    try:
        return template.expand(value)
    except InterpolationError as e:
        raise fail(str(e), line)
