"""``.dockerignore``: which files of the build context the build never sees.

The rules are docker's (moby/patternmatcher and its ``ignorefile`` reader):

- one pattern a line; ``#`` at the start of a line is a comment; surrounding blanks are
  trimmed; patterns are cleaned like Go's ``filepath.Clean`` and a leading ``/`` dropped,
  so ``/a/b``, ``a/b/`` and ``./a//b`` are the same;
- a pattern is Go's ``filepath.Match`` (``*`` and ``?`` never cross ``/``, ``[a-z]`` and
  ``[^a-z]`` classes, ``\\`` escapes) plus ``**``, which matches any number of
  directories (none included);
- a pattern that matches a directory excludes everything below it;
- ``!pattern`` re-includes what earlier patterns excluded; the last matching line wins.

``Dockerfile.dockerignore`` next to the Dockerfile wins over the context's
``.dockerignore`` (BuildKit's rule). Pure functions.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from pycompose.util.records import field, record

__all__ = ["IgnoreError", "Matcher", "clean", "read_patterns"]


class IgnoreError(ValueError):
    """A pattern that Go's filepath.Match would refuse."""


def clean(path: str) -> str:
    """Go's ``filepath.Clean`` for slash paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out = posixpath.normpath(path)
    if out.startswith("//"):
        out = out[1:]
    if rooted and not out.startswith("/"):
        out = "/" + out
    return out


def read_patterns(text: str) -> list[str]:
    """The patterns of an ignore file's text."""
    out = []
    for i, raw in enumerate(text.splitlines()):
        if i == 0:
            raw = raw.removeprefix("\ufeff")
        if raw.startswith("#"):
            continue
        p = raw.strip()
        if not p:
            continue
        invert = p.startswith("!")
        if invert:
            p = p[1:].strip()
        if p:
            p = clean(p)
            if len(p) > 1 and p.startswith("/"):
                p = p[1:]
        out.append("!" + p if invert else p)
    return out


def _check_class(pattern: str, i: int) -> int:
    """Validate a ``[...]`` class starting at ``pattern[i] == '['``; return the index
    after its ``]`` (Go's filepath.Match rejects unterminated or empty classes)."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    first = True
    while True:
        if j >= len(pattern):
            raise IgnoreError(f"syntax error in pattern {pattern!r}: unterminated [")
        ch = pattern[j]
        if ch == "]" and not first:
            return j + 1
        if ch == "]" and first and j > i + 1 and pattern[j - 1] == "^":
            raise IgnoreError(f"syntax error in pattern {pattern!r}")
        if ch == "\\":
            j += 1
            if j >= len(pattern):
                raise IgnoreError(f"syntax error in pattern {pattern!r}")
        if ch in "-]" and first:
            raise IgnoreError(f"syntax error in pattern {pattern!r}")
        first = False
        j += 1


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    """(kind, regex): kind is exact, prefix (``dir/**``), suffix (``**/x``) or regex."""
    out = ["^"]
    kind = "exact"
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                at_start = i == 0
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regex"
                else:
                    out.append("(.*/)?")
                    kind = "regex"
                if at_start:
                    kind = "suffix"  # later wildcards make it a regex again
                continue
            out.append("[^/]*")
            kind = "regex"
        elif ch == "?":
            out.append("[^/]")
            kind = "regex"
        elif ch in ".+()|{}$^":
            out.append("\\" + ch)
        elif ch == "\\":
            if i + 1 < n:
                i += 1
                out.append(re.escape(pattern[i]))
                kind = "regex"
            else:
                out.append("\\\\")
        elif ch == "[":
            end = _check_class(pattern, i)
            body = pattern[i + 1:end - 1]
            neg = body.startswith("^")
            if neg:
                body = body[1:]
            body = body.replace("\\\\", "\0").replace("[", "\\[").replace("\0", "\\\\")
            out.append("[" + ("^/" if neg else "") + body + "]")
            kind = "regex"
            i = end
            continue
        elif ch == "]":
            out.append("\\]")
            kind = "regex"
        else:
            out.append(ch)
        i += 1
    if kind != "regex":
        return kind, None  # exact, prefix and suffix compare strings
    try:
        return "regex", re.compile("".join(out) + "$", re.DOTALL)
    except re.error as e:
        raise IgnoreError(f"syntax error in pattern {pattern!r}: {e}") from None


@record
class _Pattern:
    text: str
    exclusion: bool
    kind: str = ""
    regex: re.Pattern[str] | None = None
    dirs: int = 0

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


@record
class Matcher:
    """Compiled patterns; ``excluded(path)`` for slash paths relative to the context."""

    patterns: list[_Pattern] = field(default_factory=list)

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Matcher:
        out = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise IgnoreError('illegal exclusion pattern: "!"')
                p = p[1:]
            p = clean(p)
            kind, regex = _compile(p)
            out.append(_Pattern(p, exclusion, kind, regex, p.count("/") + 1))
        return cls(out)

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str, parent_matched: list[bool] | None = None) -> bool:
        """Whether ``path`` is left out of the context (a parent directory that a
        pattern matches counts as a match for everything below it)."""
        return self.match_info(path, parent_matched)[0]

    def match_info(self, path: str, parent: list[bool] | None = None
                   ) -> tuple[bool, list[bool]]:
        """(excluded, per-pattern matches) of ``path``; pass the second value of a
        directory's result as ``parent`` for its entries (a walk's fast path)."""
        path = clean(path).lstrip("/") or "."
        matched = False
        info = [False] * len(self.patterns)
        parents: list[str] | None = None
        for i, pat in enumerate(self.patterns):
            hit = bool(parent[i]) if parent else False
            if not hit:
                if pat.exclusion != matched:
                    continue
                hit = pat.match(path)
                if not hit and not parent:
                    if parents is None:
                        d = posixpath.dirname(path)
                        parts = d.split("/") if d else []
                        parents = ["/".join(parts[:k + 1]) for k in range(len(parts))]
                    hit = any(pat.match(p) for p in parents)
            info[i] = hit
            if hit:
                matched = not pat.exclusion
        return matched, info
