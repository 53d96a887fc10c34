"""Dockerfile words: quotes, escapes and variable substitution, as the Dockerfile
reference describes them (and BuildKit's shell lexer implements them).

The builder expands variables in the arguments of ADD, COPY, ENV, EXPOSE, FROM, LABEL,
STOPSIGNAL, USER, VOLUME, WORKDIR, ONBUILD-free instructions and the flags of RUN's
``--mount``; RUN, CMD and ENTRYPOINT are left to the container's shell. Supported forms:
``$v``, ``${v}``, ``${v:-word}``/``${v-word}`` (default), ``${v:+word}``/``${v+word}``
(alternative), ``${v:?msg}``/``${v?msg}`` (required), ``${v#pat}``, ``${v##pat}``,
``${v%pat}``, ``${v%%pat}`` (trim), ``${v/pat/rep}``, ``${v//pat/rep}`` (replace). The
``:`` forms treat an empty value as unset. Single quotes keep everything literal; double
quotes keep spaces but expand ``$``; the escape character (``\\`` or the ``# escape``
directive's) makes the next character literal.

Pure: no I/O. Errors are :class:`WordError`; the parser adds ``Dockerfile:LINE``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pycompose.util.records import field, record

__all__ = ["Lexer", "WordError"]


class WordError(ValueError):
    """A word that cannot be expanded: an unterminated quote, a bad substitution."""


_SPECIAL = set("@*#?-$!0")


def _shell_pattern(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, ``\\x``; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue  # escaped for the ${...} syntax, not for the pattern
            if i >= len(pattern) or pattern[i] not in "*?\\":
                raise WordError(f"invalid escape in pattern {pattern!r}")
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each ``\\x`` escape in front of its character."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i:i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy, True).match(value)
    return value[m.end():] if m else value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


@record
class _Words:
    """Word splitting of a processed string: unquoted whitespace separates words."""

    words: list[str] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
        return self.words


class Lexer:
    """Expands one word (or splits a line into words) against an environment.

    ``raw_quotes`` keeps the quote characters in the result, ``raw_escapes`` the escape
    characters; ``skip_unset`` leaves references to unset variables as written (used to
    find heredoc markers before any variable is known); ``skip_quotes`` treats quotes as
    ordinary characters (heredoc bodies).
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_unset: bool = False,
                 skip_quotes: bool = False) -> None:
        if len(escape) != 1:
            raise ValueError("the escape token is one character")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.skip_quotes = skip_quotes
        self._src = ""
        self._pos = 0
        self._env: Mapping[str, str] = {}
        self.used: set[str] = set()

    # -- public ----------------------------------------------------------------------
    def word(self, text: str, env: Mapping[str, str]) -> str:
        """``text`` with quotes removed and variables expanded, as one word."""
        return self._run(text, env)[0]

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """``text`` split into words after expansion (quoted spaces kept)."""
        return self._run(text, env)[1]

    # -- the scanner -----------------------------------------------------------------
    def _run(self, text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
        self._src, self._pos, self._env = text, 0, env
        self.used = set()
        try:
            return self._until(None, self.raw_escapes)
        except WordError as e:
            raise WordError(f"failed to process {text!r}: {e}") from None

    def _peek(self) -> str:
        return self._src[self._pos] if self._pos < len(self._src) else ""

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self._pos += 1
        return ch

    def _until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to (and consuming) ``stop``, or to the end when ``stop`` is None."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            out: list[str] = []
            words = _Words()
            while self._peek():
                ch = self._peek()
                if stop is not None and ch == stop:
                    self._next()
                    return "".join(out), words.result()
                if ch == "$":
                    value = self._dollar()
                    out.append(value)
                    words.add_text(value)
                    continue
                if ch == "<":
                    value = self._maybe_heredoc()
                    out.append(value)
                    words.add_raw(value)
                    continue
                if not self.skip_quotes and ch in "'\"":
                    value = self._single() if ch == "'" else self._double()
                    out.append(value)
                    words.add_raw(value)
                    continue
                self._next()
                if ch == self.escape:
                    if self.raw_escapes:
                        out.append(ch)
                        words.add_raw(ch)
                    ch = self._next()
                    if not ch:
                        break  # an escape at the very end is dropped
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
            if stop is not None:
                raise WordError(f"unexpected end of statement while looking for matching "
                                f"{stop}")
            return "".join(out), words.result()
        finally:
            self.raw_escapes = saved

    def _single(self) -> str:
        quote = self._next()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self._next()
            if not ch:
                raise WordError("unexpected end of statement while looking for matching "
                                "single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _double(self) -> str:
        quote = self._next()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self._peek()
            if not ch:
                raise WordError("unexpected end of statement while looking for matching "
                                "double-quote")
            if ch == '"':
                self._next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self._next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self._peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self._next()
            out.append(ch)

    def _maybe_heredoc(self) -> str:
        self._next()
        if self._peek() != "<":
            return "<"
        self._next()
        space = []
        while self._peek() in (" ", "\t", "\r") and self._peek():
            space.append(self._next())
        return "<<" + "".join(space)

    def _name(self) -> str:
        ch = self._peek()
        if ch.isdigit():
            start = self._pos
            while self._peek().isdigit():
                self._next()
            return self._src[start:self._pos]
        if ch and ch in _SPECIAL:
            return self._next()
        start = self._pos
        while self._peek() and (self._peek().isalnum() or self._peek() == "_"):
            self._next()
        return self._src[start:self._pos]

    def _get(self, name: str) -> tuple[str, bool]:
        if name in self._env:
            self.used.add(name)
            return self._env[name], True
        return "", False

    def _dollar(self) -> str:
        self._next()  # the $
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self._next()  # the {
        first = self._peek()
        if not first:
            raise WordError("syntax error: missing '}'")
        if first in "{}:":
            raise WordError("syntax error: bad substitution")
        name = self._name()
        op = self._next()
        if op == "}":
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value
        if not name:
            raise WordError("syntax error: bad substitution")
        colon = False
        mods = op
        if op == ":":
            colon = True
            op = self._next()
            mods += op
        if op in "+-?#%" and op:
            trims = op in "#%"
            if colon and trims:
                raise WordError(f"unsupported modifier ({mods}) in substitution")
            at_end = False
            try:
                word, _ = self._until("}", trims)
            except WordError:
                at_end = not self._peek()
                if at_end:
                    raise WordError("syntax error: missing '}'") from None
                raise
            value, found = self._get(name)
            if self.skip_unset and not found:
                return "${" + name + mods + word + "}"
            empty_is_unset = colon and value == ""
            if op == "-":
                return word if not found or empty_is_unset else value
            if op == "+":
                return "" if not found or empty_is_unset else word
            if op == "?":
                if not found:
                    raise WordError(f"{name}: {word or 'is not allowed to be unset'}")
                if empty_is_unset:
                    raise WordError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = word.startswith(op)
            if greedy:
                word = word[1:]
            return _trim_suffix(word, value, greedy) if op == "%" else \
                _trim_prefix(word, value, greedy)
        if op == "/" and not colon:
            replace_all = self._peek() == "/"
            if replace_all:
                self._next()
            try:
                pattern, _ = self._until("/", True)
            except WordError:
                raise WordError("syntax error: missing '/' in ${}") from None
            try:
                replacement, _ = self._until("}", True)
            except WordError:
                raise WordError("syntax error: missing '}'") from None
            value, found = self._get(name)
            if self.skip_unset and not found:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            rx = _shell_pattern(pattern, True, False)
            if replace_all:
                return rx.sub(lambda _m: replacement, value)
            return rx.sub(lambda _m: replacement, value, count=1)
        if not op:
            raise WordError("syntax error: missing '}'")
        raise WordError(f"unsupported modifier ({mods}) in substitution")
