"""YAML written as docker compose writes it: go-yaml's encoder, byte for byte.

``docker compose config`` marshals the project with go-yaml (``yaml.NewEncoder``,
its v3 defaults: indent set to 2, sequences indented under their key, lines folded
past 80 columns, Unicode kept). Users diff its output against ours, so this emitter
follows the same rules (read from go-yaml's representer and emitter, written anew):

- a string that plain would read back as something else (``null``, ``true``,
  ``"8080"``, ``2024-01-01``) is double-quoted; one that YAML 1.1 would read as a
  boolean or a base-60 number (``yes``, ``22:22``) single-quoted;
- otherwise plain, unless the emitter's analysis forbids it (indicators, leading or
  trailing spaces, tabs, characters outside the printable set): then single-quoted,
  or double-quoted when single quotes cannot hold it either;
- a string with a line break is a literal block (``|``, ``|-``, ``|+``) when it can
  be, else double-quoted with escapes;
- plain, single- and double-quoted scalars fold at a space once the line is past 80
  columns (never in a mapping key);
- floats as Go's shortest ``%g`` (``1``, ``0.5``, ``1e+06``).

Only what the model holds is supported: mappings with scalar keys, sequences,
strings, numbers, booleans and null.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

#: Past this column a foldable scalar breaks at its next space (go-yaml's default).
WIDTH = 80

_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_OLD_BOOL = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                       "n", "N", "no", "No", "NO", "off", "Off", "OFF"})
_YAML_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INT = re.compile(r"^[-+]?(?:0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)$")
_RESOLVED = frozenset({"true", "True", "TRUE", "false", "False", "FALSE", "", "~", "null",
                       "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                       "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "-0", "-0.0"})
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[-+][0-9]{2}:[0-9]{2}))"
    r"|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]{1,9})?))?$")


def _resolves_to_non_string(s: str) -> bool:
    """Would go-yaml read this plain scalar as anything but a string?"""
    if s in _RESOLVED:
        return True
    first = s[0]
    if first == ".":
        return bool(_YAML_FLOAT.match(s))
    if first in "+-0123456789":
        if _TIMESTAMP.match(s):
            return True
        plain = s.replace("_", "")
        return bool(_INT.match(plain) or _YAML_FLOAT.match(plain))
    return False


def _printable(c: str) -> bool:
    o = ord(c)
    return (o == 0x0A or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF
            or (0xE000 <= o <= 0xFFFD and o != 0xFEFF))


_BREAKS = "\r\n\x85\u2028\u2029"


class _Analysis:
    """What go-yaml's emitter allows for one string (``analyzeScalar``), in block
    context (this emitter writes no flow collections but ``{}`` and ``[]``)."""

    __slots__ = ("block", "multiline", "plain", "single")

    def __init__(self, s: str) -> None:
        if not s:
            self.multiline, self.plain, self.single, self.block = False, True, True, False
            return
        block_ind = line_breaks = special = tabs = False
        leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = previous_space = previous_break = False
        if s[:3] in ("---", "..."):  # whatever follows (go-yaml's check)
            block_ind = True
        preceded_by_ws = True
        n = len(s)
        for i, c in enumerate(s):
            followed_by_ws = i + 1 >= n or s[i + 1] in " \t"
            if i == 0:
                if c in "#,[]{}&*!|>'\"%@`" or (c in "?:-" and followed_by_ws):
                    block_ind = True
            elif (c == ":" and followed_by_ws) or (c == "#" and preceded_by_ws):
                block_ind = True
            if c == "\t":
                tabs = True
            elif not _printable(c) or c in "\u2028\u2029":
                # (go-yaml would write LS/PS raw in single quotes, where a reader
                # folds them: escaped instead, so the value reads back the same)
                special = True
            if c == " ":
                leading_space = leading_space or i == 0
                trailing_space = trailing_space or i == n - 1
                break_space = break_space or previous_break
                previous_space, previous_break = True, False
            elif c in _BREAKS:
                line_breaks = True
                leading_break = leading_break or i == 0
                trailing_break = trailing_break or i == n - 1
                space_break = space_break or previous_space
                previous_space, previous_break = False, True
            else:
                previous_space = previous_break = False
            preceded_by_ws = c in " \t\0" + _BREAKS
        plain = single = block = True
        if leading_space or leading_break or trailing_space or trailing_break:
            plain = False
        if trailing_space:
            block = False
        if break_space:
            plain = single = False
        if space_break or tabs or special:
            plain = single = False
        if space_break or special:
            block = False
        if line_breaks or block_ind:
            plain = False
        self.multiline, self.plain, self.single, self.block = line_breaks, plain, single, block


def _style(s: str, key: bool) -> str:
    """``plain``, ``single``, ``double`` or ``literal`` for one string, as go-yaml
    (representer, then emitter) chooses it."""
    if "\n" in s:
        wanted = "literal" if len(s) >= 2 and not s.isspace() else "double"
    elif _BASE60.match(s) or s in _OLD_BOOL or s == "<<":
        wanted = "single"
    elif _resolves_to_non_string(s):
        wanted = "double"
    else:
        wanted = "plain"
    a = _Analysis(s)
    if key and a.multiline:
        wanted = "double"
    if wanted == "plain" and (not a.plain or (not s and key)):
        wanted = "single"
    if wanted == "single" and not a.single:
        wanted = "double"
    if wanted == "literal" and (not a.block or key):
        wanted = "double"
    return wanted


_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f",
            "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_",
            "\u2028": "L", "\u2029": "P"}


def _escape(c: str) -> str:
    if c in _ESCAPES:
        return "\\" + _ESCAPES[c]
    o = ord(c)
    if o <= 0xFF:
        return f"\\x{o:02X}"
    if o <= 0xFFFF:
        return f"\\u{o:04X}"
    return f"\\U{o:08X}"


class _Out:
    """The text so far, with the column of its current line (go-yaml counts
    characters, not bytes) and whether that line is still empty."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.column = 0
        self.line_start = True

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.column += len(text)
        self.line_start = False

    def newline(self, indent: int) -> None:
        """go-yaml's writeIndent: a line break unless the line is still empty, then
        the indentation."""
        if not self.line_start:
            self.parts.append("\n")
            self.column = 0
        self.parts.append(" " * (indent - self.column))
        self.column = indent
        self.line_start = False

    def line_break(self) -> None:
        self.parts.append("\n")
        self.column = 0
        self.line_start = True


#: Strings with nothing the emitter's analysis would object to (printable ASCII, no
#: space to fold at, no indicator first, no ``:`` last): their style depends only on
#: how they would read back, so they skip the character-by-character analysis.
_SIMPLE = re.compile(r"[\w./~^()=+-][\w./@%+=,~^():-]*(?<!:)", re.ASCII)


#: simple string -> how it is written (or None: not simple); keys and values repeat
#: a lot in a project, so each is decided once
_SIMPLE_TEXT: dict[str, str | None] = {}


def _simple_text(s: str) -> str | None:
    if s in _SIMPLE_TEXT:
        return _SIMPLE_TEXT[s]
    text: str | None
    if not _SIMPLE.fullmatch(s) or s == "-" or s.startswith(("---", "...")):
        text = None
    elif _BASE60.match(s) or s in _OLD_BOOL:
        text = f"'{s}'"
    else:
        text = f'"{s}"' if _resolves_to_non_string(s) else s
    if len(_SIMPLE_TEXT) > 100_000:
        _SIMPLE_TEXT.clear()
    _SIMPLE_TEXT[s] = text
    return text


def _write_scalar(out: _Out, s: str, indent: int, key: bool, width: int,
                  step: int = 2) -> None:
    """Write string ``s``: after ``key:``/``- `` with a space first, or as a key at
    the start of its line (never folded). ``indent`` is where continuation lines
    start; ``step`` the indentation unit (a literal block's indentation hint)."""
    simple = _simple_text(s)
    if simple is not None:
        out.put(simple if key else " " + simple)
        return
    style = _style(s, key)
    fold = not key
    lead = "" if key else " "
    if style == "plain":
        if s:
            out.put(lead)
        spaces = False
        for i, c in enumerate(s):
            if c == " ":
                if fold and not spaces and out.column > width and s[i + 1:i + 2] != " ":
                    out.newline(indent)
                else:
                    out.put(c)
                spaces = True
            else:
                out.put(c)
                spaces = False
        return
    if style == "single":
        out.put(lead + "'")
        spaces = False
        for i, c in enumerate(s):
            if c == " ":
                if fold and not spaces and out.column > width and 0 < i < len(s) - 1 \
                        and s[i + 1] != " ":
                    out.newline(indent)
                else:
                    out.put(c)
                spaces = True
            else:
                out.put("''" if c == "'" else c)
                spaces = False
        out.put("'")
        return
    if style == "literal":
        # an indentation hint when the first line starts with a space or is empty (a
        # reader would take the indentation from the next line that has text), as
        # libyaml's emitter writes it; also when it starts with a tab, where go-yaml
        # writes none and its own reader (and libyaml's) then refuses the tab as
        # indentation: there the output that reads back wins over the byte parity
        hints = "|" + (str(step) if s[0] in " \t" or s[0] in _BREAKS else "")
        if s[-1] not in _BREAKS:
            hints += "-"
        elif len(s) == 1 or s[-2] in _BREAKS:
            hints += "+"
        out.put(lead + hints)
        out.line_break()
        breaks = True
        for c in s:
            if c in _BREAKS:
                out.line_break()
                breaks = True
            else:
                if breaks:
                    out.newline(indent)
                out.put(c)
                breaks = False
        return
    # double-quoted
    out.put(lead + '"')
    bom = s.startswith("\ufeff")  # go-yaml checks the value's start for every char
    spaces = False
    for i, c in enumerate(s):
        if bom or not _printable(c) or c in '"\\' or c in _BREAKS:
            out.put(_escape(c))
            spaces = False
        elif c == " ":
            if fold and not spaces and out.column > width and 0 < i < len(s) - 1:
                out.newline(indent)
                if s[i + 1] == " ":
                    out.put("\\")
            else:
                out.put(c)
            spaces = True
        else:
            out.put(c)
            spaces = False
    out.put('"')


def go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 64)``, with YAML's inf and nan."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    dp = len(text) + exponent  # where the decimal point goes
    exp = dp - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{text}"
    if dp >= len(text):
        return f"{neg}{text}{'0' * (dp - len(text))}"
    return f"{neg}{text[:dp]}.{text[dp:]}"


def _scalar_text(value: Any) -> str | None:
    """Non-string scalars as go-yaml prints them; None for strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return None


def _key(out: _Out, k: Any) -> None:
    text = _scalar_text(k)
    if text is not None:
        out.put(text)
    else:
        _write_scalar(out, str(k), 0, True, WIDTH)


def _value(out: _Out, v: Any, indent: int, width: int, step: int = 2) -> None:
    text = _scalar_text(v)
    if text is not None:
        out.put(" " + text)
    else:
        _write_scalar(out, str(v), indent, False, width, step)


def _node(out: _Out, value: Any, indent: int, width: int, first_inline: bool) -> None:
    """A collection whose first line continues the current one when
    ``first_inline`` (after ``- ``), else starts on a new line at ``indent``."""
    if isinstance(value, dict):
        for i, (k, v) in enumerate(value.items()):
            if i or not first_inline:
                out.newline(indent)
            if isinstance(k, str) and (len(k.encode()) > 128
                                       or any(c in _BREAKS for c in k)):
                # no simple key (go-yaml's checkSimpleKey): "? key" then ": value"
                out.put("?")
                _write_scalar(out, k, indent + 2, False, width)
                out.newline(indent)
            else:
                _key(out, k)
            out.put(":")
            if isinstance(v, (dict, list)) and v:
                _node(out, v, indent + 2, width, False)
            elif isinstance(v, dict):
                out.put(" {}")
            elif isinstance(v, list):
                out.put(" []")
            else:
                _value(out, v, indent + 2, width)
    else:
        for i, item in enumerate(value):
            if i or not first_inline:
                out.newline(indent)
            out.put("-")
            if isinstance(item, (dict, list)) and item:
                out.put(" ")
                _node(out, item, indent + 2, width, True)
            elif isinstance(item, dict):
                out.put(" {}")
            elif isinstance(item, list):
                out.put(" []")
            else:
                _value(out, item, indent + 2, width)


def dump(data: Any, width: int = WIDTH) -> str:
    """``data`` (a mapping) as go-yaml's encoder writes it, with a final newline."""
    out = _Out()
    if isinstance(data, (dict, list)) and data:
        _node(out, data, 0, width, True)
    elif isinstance(data, dict):
        out.put("{}")
    elif isinstance(data, list):
        out.put("[]")
    else:
        _value(out, data, 0, width)
        return "".join(out.parts).lstrip(" ") + "\n"
    # (a literal block that keeps its final line breaks has ended the line already)
    return "".join(out.parts) + ("" if out.line_start else "\n")


def scalar(value: Any, indent: int = 2, step: int = 2, width: int = WIDTH) -> str:
    """One value as go-yaml writes it after ``key:`` (without the space), the key
    being at ``indent - step`` in a document indented by ``step``."""
    out = _Out()
    out.put(" " * (indent - step) + ":")
    _value(out, value, indent, width, step)
    return "".join(out.parts)[indent - step + 2:]
