"""``.env`` and ``env_file`` files, with docker compose's (compose-go ``dotenv``) rules.

- ``KEY=VALUE`` or ``KEY: VALUE``, an optional ``export`` prefix, ``#`` comment lines,
  blank lines; a UTF-8 BOM at the start is ignored.
- A bare ``KEY`` takes its value from the lookup (the shell); unset, it is left out.
- Unquoted values end at `` #`` (a comment needs a space before it), are trimmed, and
  are interpolated.
- ``'single quoted'`` values are literal. ``"double quoted"`` values may span lines,
  honour ``\\n \\t \\r \\\\ \\" \\$`` escapes, and are interpolated.
- Interpolation inside the file looks in the lookup (the shell) first, then at keys
  defined earlier in the same file (docker/compose#9045).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import ComposeError
from .interpolate import InterpolationError, Template

_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$", "'": "'",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def parse_dotenv(
    text: str,
    *,
    file: str,
    lookup: Callable[[str], str | None] = lambda _name: None,
    interpolate: bool = True,
) -> dict[str, str]:
    """Parse the content of an env file; errors name the file and line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    values: dict[str, str] = {}

    def look(name: str) -> str | None:
        v = lookup(name)
        return v if v is not None else values.get(name)

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
            inherited = lookup(key)
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
            while True:
                if j >= n:
                    raise fail(f"unterminated quoted value for {key}", start_line)
                c = text[j]
                if c == quote:
                    break
                if c == "\\" and quote == '"' and j + 1 < n:
                    esc = text[j + 1]
                    chunk.append(_ESCAPES.get(esc, "\\" + esc))
                    j += 2
                    continue
                if c == "\n":
                    line += 1
                chunk.append(c)
                j += 1
            value = "".join(chunk)
            if quote == '"' and interpolate:
                value = _expand(template, value, fail, start_line)
            values[key] = value
            eol = text.find("\n", j)
            eol = n if eol < 0 else eol
            trailing = text[j + 1:eol].strip()
            if trailing and not trailing.startswith("#"):
                raise fail(f"unexpected text after the quoted value of {key}: {trailing!r}",
                           line)
        else:
            value = rest
            cut = value.find(" #")
            tab = value.find("\t#")
            cuts = [c for c in (cut, tab) if c >= 0]
            if cuts:
                value = value[:min(cuts)]
            value = value.strip()
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
