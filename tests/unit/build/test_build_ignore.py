""".dockerignore with docker's rules (moby/patternmatcher): Go's filepath.Match, ``**``,
``!`` exceptions, a matched directory hides what is under it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.builder.ignore import IgnoreError, Matcher, clean, read_patterns


def excluded(lines: list[str], path: str) -> bool:
    return Matcher.of(read_patterns("\n".join(lines))).excluded(path)


@pytest.mark.parametrize(("lines", "path", "want"), [
    (["*.md"], "README.md", True),
    (["*.md"], "docs/guide.md", False),  # * never crosses /
    (["*/*.md"], "docs/guide.md", True),
    (["**/*.md"], "docs/a/b/guide.md", True),
    (["**/*.md"], "top.md", True),  # ** matches no directory too
    (["docs/**"], "docs/a/b", True),
    (["docs/**"], "docsx", False),
    (["**/tmp"], "a/b/tmp", True),
    (["a/**/z"], "a/z", True),
    (["a/**/z"], "a/b/c/z", True),
    (["node_modules"], "node_modules/pkg/index.js", True),  # a parent dir matched
    (["/build/"], "build/out.o", True),  # leading / and trailing / are cleaned
    (["./src//gen"], "src/gen/x.go", True),
    (["file?.txt"], "file1.txt", True),
    (["file?.txt"], "file12.txt", False),
    (["v[0-9].txt"], "v5.txt", True),
    (["v[^0-9].txt"], "v5.txt", False),
    (["v[^0-9].txt"], "vx.txt", True),
    (["\\*.txt"], "*.txt", True),
    (["\\*.txt"], "a.txt", False),
    (["*", "!keep.txt"], "keep.txt", False),
    (["*", "!keep.txt"], "other.txt", True),
    (["*.log", "!important.log", "important.log"], "important.log", True),  # last wins
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/drop", True),
    (["# comment", "x"], "# comment", False),
    (["  spaced.txt  "], "spaced.txt", True),
    ([".git"], ".git/objects/ab", True),
    (["Dockerfile"], "Dockerfile", True),
])
def test_patterns(lines: list[str], path: str, want: bool) -> None:
    assert excluded(lines, path) is want


def test_read_patterns_cleans_and_skips_comments() -> None:
    assert read_patterns("\ufeff# c\n\n /a/b/ \n!./c\n#d\nx//y\n") == ["a/b", "!c", "x/y"]


def test_bad_patterns_are_errors() -> None:
    with pytest.raises(IgnoreError):
        Matcher.of(["a[b"])
    with pytest.raises(IgnoreError):
        Matcher.of(["!"])


def test_clean_is_go_filepath_clean() -> None:
    assert [clean(p) for p in ["", "a//b/", "./a/../b", "/..", "a/./b/."]] == \
        [".", "a/b", "b", "/", "a/b"]


def test_parent_results_give_the_same_answer() -> None:
    m = Matcher.of(["a", "!a/keep", "**/*.tmp"])
    top, info = m.match_info("a")
    for child in ("a/keep", "a/x", "a/x.tmp"):
        assert m.match_info(child, info)[0] == m.excluded(child)
    assert top


@given(st.lists(st.sampled_from(["a", "b", "*", "**", "?", "x.y", "!a", "a/b", "[ab]"]),
                max_size=5),
       st.lists(st.sampled_from(["a", "b", "c.y", "x.y"]), min_size=1, max_size=4))
def test_matching_never_crashes(patterns: list[str], parts: list[str]) -> None:
    try:
        m = Matcher.of(patterns)
    except IgnoreError:
        return
    assert m.excluded("/".join(parts)) in (True, False)
