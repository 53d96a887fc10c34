"""The Dockerfile's lexical layer: text to a list of :class:`Node`, one per instruction.

What happens here is what the Dockerfile reference calls "parsing": the parser
directives (``# syntax=``, ``# escape=``, ``# check=``) at the top, comments, line
continuations with the escape character (``\\`` or `````), instruction flags
(``--from=x``), the JSON (exec) form, and heredocs (``RUN <<EOF``, ``COPY <<EOF /f``).
Variables are *not* expanded here: that needs the build's arguments, and happens when the
instruction is dispatched (:mod:`.words`).

Every node carries the lines it came from; every error is :class:`SyntaxProblem` with
the line, which :mod:`.dockerfile` turns into ``Dockerfile:LINE: ...``.
"""

from __future__ import annotations

import json
import re

from pycompose.util.records import field, record

from .words import Lexer, WordError

__all__ = ["Directives", "Heredoc", "Node", "SyntaxProblem", "split_nodes"]

#: instructions whose arguments are a JSON array or, failing that, one string
_MAYBE_JSON = {"CMD", "ENTRYPOINT", "RUN", "SHELL"}
#: instructions whose arguments are a JSON array or whitespace-separated words
_MAYBE_JSON_LIST = {"ADD", "COPY", "VOLUME"}
_WORDS = {"EXPOSE", "FROM"}
_STRING = {"MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"}
_NAME_VALUE = {"ENV", "LABEL"}
KNOWN = _MAYBE_JSON | _MAYBE_JSON_LIST | _WORDS | _STRING | _NAME_VALUE | {
    "ARG", "HEALTHCHECK", "ONBUILD"}
_HEREDOC_OK = {"ADD", "COPY", "RUN"}

_WS = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVE_NAMES = {"syntax", "escape", "check"}


class SyntaxProblem(ValueError):
    """A Dockerfile that cannot be parsed; ``line`` is 1-based (0: the whole file)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@record(frozen=True)
class Heredoc:
    """One here-document: ``<<[-]NAME`` and the lines up to ``NAME``.

    ``expand`` is False when the name was quoted (``<<"EOF"``): then its content is
    taken literally; ``chomp`` (``<<-``) strips leading tabs."""

    name: str
    content: str
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    def text(self) -> str:
        return re.sub(r"(?m)^\t+", "", self.content) if self.chomp else self.content


@record
class Node:
    """One instruction as written: keyword, flags, arguments and where it is."""

    keyword: str  # upper case: "RUN"
    args: list[str]
    flags: list[str]
    line: int
    end_line: int
    original: str  # the logical line, continuations joined
    json: bool = False  # the arguments were a JSON array (exec form)
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Node | None = None  # ONBUILD's instruction
    comments: list[str] = field(default_factory=list)


@record
class Directives:
    escape: str = "\\"
    syntax: str = ""
    check: str = ""


def _continuation(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


class _Lines:
    """The file's lines (with their endings), a cursor, and the current line number."""

    def __init__(self, text: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = text.splitlines(keepends=True)
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.lines)

    def take(self) -> str:
        line = self.lines[self.i]
        self.i += 1
        return line

    @property
    def number(self) -> int:
        """1-based number of the line last taken."""
        return self.i


def _strip_eol(s: str) -> str:
    return s.rstrip("\r\n")


def _is_comment(s: str) -> bool:
    return s.lstrip().startswith("#")


def _read_directives(lines: _Lines) -> Directives:
    d = Directives()
    seen: set[str] = set()
    while lines.more():
        raw = _strip_eol(lines.lines[lines.i])
        if not raw.startswith("#"):
            break
        m = _DIRECTIVE.match(raw[1:].lstrip())
        if not m or m.group(1).lower() not in _DIRECTIVE_NAMES:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in seen:
            raise SyntaxProblem(f"only one {key} parser directive can be used", lines.i + 1)
        seen.add(key)
        if key == "escape":
            if value not in ("\\", "`"):
                raise SyntaxProblem(f"invalid escape token {value!r}: use ` or \\",
                                    lines.i + 1)
            d.escape = value
        elif key == "syntax":
            d.syntax = value
        else:
            d.check = value
        lines.take()
    return d


def _split_flags(rest: str, escape: str) -> tuple[list[str], str]:
    """Leading ``--flag[=value]`` words of ``rest`` (quotes and escapes removed) and
    what follows them."""
    flags: list[str] = []
    pos = 0
    n = len(rest)
    while True:
        while pos < n and rest[pos].isspace():
            pos += 1
        if not rest.startswith("--", pos):
            return flags, rest[pos:]
        word: list[str] = []
        quote = ""
        while pos < n:
            ch = rest[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == escape and pos + 1 < n:
                    pos += 1
                    word.append(rest[pos])
                else:
                    word.append(ch)
            elif ch.isspace():
                break
            elif ch in "'\"":
                quote = ch
            elif ch == escape and pos + 1 < n:
                pos += 1
                word.append(rest[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return flags, rest[pos:]
        flags.append(text)


def _parse_words(rest: str, escape: str) -> list[str]:
    """Words of ``rest`` with quotes kept (they are removed at expansion)."""
    words: list[str] = []
    buf: list[str] = []
    blank_ok = False
    quote = ""
    in_word = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
        elif ch.isspace():
            if in_word and (blank_ok or buf):
                words.append("".join(buf))
            buf, blank_ok, in_word = [], False, False
        else:
            in_word = True
            if ch in "'\"":
                quote, blank_ok = ch, True
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
        i += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


def _json_args(rest: str) -> list[str] | None:
    """The JSON array form, or None when ``rest`` is not a JSON array. A JSON array
    of something other than strings is an error, as docker's parser has it."""
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(x, str) for x in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of "
                         "strings only")
    return value


def _name_values(rest: str, keyword: str, escape: str) -> list[str]:
    """ENV and LABEL: ``k=v k2="v 2"`` or the legacy ``k value`` form, as a flat list
    ``[key, value, sep, ...]`` (sep "" marks the legacy form)."""
    words = _parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise ValueError(f"{keyword} must have two arguments")
        return [parts[0], parts[1], ""]
    out: list[str] = []
    for w in words:
        if "=" not in w:
            raise ValueError(f"Syntax error - can't find = in {w!r}. Must be of the form: "
                             "name=value")
        k, _, v = w.partition("=")
        out += [k, v, "="]
    return out


def _arguments(keyword: str, rest: str, escape: str) -> tuple[list[str], bool]:
    """The arguments of one instruction and whether they were JSON."""
    if keyword in _MAYBE_JSON:
        if not rest:
            return [], False
        js = _json_args(rest)
        return (js, True) if js is not None else ([rest], False)
    if keyword in _MAYBE_JSON_LIST:
        js = _json_args(rest)
        if js is not None:
            return js, True
        return ([w for w in _WS.split(rest) if w] if rest else []), False
    if keyword in _WORDS:
        return ([w for w in _WS.split(rest) if w] if rest else []), False
    if keyword in _STRING:
        return ([rest] if rest else []), False
    if keyword in _NAME_VALUE:
        return _name_values(rest, keyword, escape), False
    if keyword == "ARG":
        return _parse_words(rest, escape), False
    if keyword == "HEALTHCHECK":
        parts = _WS.split(rest, maxsplit=1) if rest else []
        if not parts:
            return [], False
        typ = parts[0]
        cmd, is_json = _arguments("CMD", parts[1].strip() if len(parts) > 1 else "", escape)
        return [typ, *cmd], is_json
    return [], False  # unknown: the caller refuses it


def _node_from_line(line: str, escape: str, number: int) -> Node:
    stripped = line.strip()
    parts = _WS.split(stripped, maxsplit=1)
    keyword = parts[0].upper()
    rest = parts[1] if len(parts) > 1 else ""
    flags, rest = _split_flags(rest, escape) if rest else ([], "")
    rest = rest.strip()
    if keyword == "ONBUILD":
        sub = _node_from_line(rest, escape, number) if rest else None
        node = Node(keyword, [rest] if rest else [], flags, number, number, line, sub=sub)
        return node
    try:
        args, is_json = _arguments(keyword, rest, escape)
    except ValueError as e:
        raise SyntaxProblem(str(e), number) from None
    return Node(keyword, args, flags, number, number, line, json=is_json)


def _heredoc_marker(word: str) -> Heredoc | None:
    """A ``<<NAME`` word as a heredoc (its content still empty), else None."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    try:
        plain = Lexer(skip_unset=True).words(rest, {})
        raw = Lexer(skip_unset=True, raw_quotes=True).words(rest, {})
    except WordError:
        return None
    if len(plain) != 1 or len(raw) != 1:
        return None
    name = plain[0]
    quotes_plain = name.count("'") + name.count('"')
    quotes_raw = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=name, content="", expand=quotes_plain == quotes_raw,
                   chomp=m.group(2) == "-", fd=int(m.group(1) or 0))


def heredoc_marker(word: str) -> Heredoc | None:
    """Public for the instruction layer: is this argument a heredoc marker?"""
    return _heredoc_marker(word)


def _heredocs_in(line: str) -> list[Heredoc]:
    try:
        words = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True).words(line, {})
    except WordError:
        return []
    return [h for h in (_heredoc_marker(w) for w in words) if h is not None]


def _can_have_heredoc(node: Node) -> bool:
    target = node.sub if node.keyword == "ONBUILD" and node.sub is not None else node
    return target.keyword in _HEREDOC_OK and not target.json


def split_nodes(text: str) -> tuple[Directives, list[Node], list[str]]:
    """The directives, the instructions and the warnings of a Dockerfile's text."""
    lines = _Lines(text)
    directives = _read_directives(lines)
    cont = _continuation(directives.escape)
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    while lines.more():
        raw = _strip_eol(lines.take()).lstrip()
        if _is_comment(raw):
            comment = raw.lstrip()[1:].strip()
            comments = [*comments, comment] if comment else []
            continue
        start = lines.number
        if not raw.strip():
            comments = []
            continue
        buf = []
        m = cont.search(raw)
        done = m is None
        buf.append(cont.sub(r"\1", raw) if m else raw)
        empty_continuation = False
        while not done and lines.more():
            nxt = _strip_eol(lines.take())
            if _is_comment(nxt):
                continue
            if not nxt.strip():
                empty_continuation = True
                continue
            m = cont.search(nxt)
            done = m is None
            buf.append(cont.sub(r"\1", nxt) if m else nxt)
        line = "".join(buf)
        if not line.strip():
            continue
        if empty_continuation:
            warnings.append(f"line {lines.number}: empty continuation line found in: "
                            f"{line.strip()[:60]} (empty continuation lines will become "
                            "errors in a future release)")
        node = _node_from_line(line, directives.escape, start)
        node.comments = comments
        comments = []
        if _can_have_heredoc(node) and "<<" in line:
            docs = []
            for doc in _heredocs_in(line):
                content: list[str] = []
                terminated = False
                while lines.more():
                    body = lines.take()
                    candidate = _strip_eol(body)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    content.append(body)
                if not terminated:
                    raise SyntaxProblem(f"unterminated heredoc <<{doc.name}", start)
                docs.append(Heredoc(doc.name, "".join(content), doc.expand, doc.chomp,
                                    doc.fd))
            target = node.sub if node.keyword == "ONBUILD" and node.sub else node
            target.heredocs = docs
        node.end_line = lines.number
        if node.sub is not None:
            node.sub.end_line = node.end_line
        nodes.append(node)
    if not nodes:
        raise SyntaxProblem("the file has no instructions", lines.number)
    return directives, nodes, warnings
