"""Dockerfile words: quotes, escapes and ``${...}`` substitution as the reference has them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.builder.words import Lexer, WordError

ENV = {"HOME": "/root", "NAME": "app", "EMPTY": "", "SPACED": "a  b", "PATH": "/x/y/z.tar.gz"}


@pytest.mark.parametrize(("text", "want"), [
    ("plain", "plain"),
    ("$HOME/bin", "/root/bin"),
    ("${HOME}x", "/rootx"),
    ("$UNSET.", "."),
    ("pre${UNSET}post", "prepost"),
    ("'$HOME'", "$HOME"),  # single quotes keep everything
    ('"$HOME"', "/root"),  # double quotes expand
    ("\\$HOME", "$HOME"),  # an escaped dollar
    ('"a\\"b"', 'a"b'),
    ("a\\ b", "a b"),
    ("it\\'s", "it's"),
    ("$1x", "x"),  # positional parameters are never set
    ("cost: $", "cost: $"),
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${EMPTY-def}", ""),  # without ':' an empty value counts as set
    ("${NAME:-def}", "app"),
    ("${UNSET:-${NAME:-x}}", "app"),
    ("${NAME:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${NAME?}", "app"),
    ("${PATH#*/}", "x/y/z.tar.gz"),
    ("${PATH##*/}", "z.tar.gz"),
    ("${PATH%.*}", "/x/y/z.tar"),
    ("${PATH%%.*}", "/x/y/z"),
    ("${PATH/y/Y}", "/x/Y/z.tar.gz"),
    ("${NAME//p/P}", "aPP"),
    ("${UNSET:-a b}", "a b"),
    ("${NAME}}", "app}"),
])
def test_word(text: str, want: str) -> None:
    assert Lexer().word(text, ENV) == want


@pytest.mark.parametrize(("text", "message"), [
    ("'open", "single-quote"),
    ('"open', "double-quote"),
    ("${", "missing '}'"),
    ("${HOME", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:-x}", "bad substitution"),
    ("${HOME:=x}", "unsupported modifier"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?must be set}", "EMPTY: must be set"),
    ("${UNSET:?no $NAME here}", "UNSET: no app here"),
    ("${HOME:#x}", "unsupported modifier"),
])
def test_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(WordError) as e:
        Lexer().word(text, ENV)
    assert message in str(e.value)


def test_word_splitting_keeps_quoted_spaces() -> None:
    lex = Lexer()
    assert lex.words("a $SPACED c", ENV) == ["a", "a", "b", "c"]
    assert lex.words('a "$SPACED" c', ENV) == ["a", "a  b", "c"]
    assert lex.words("a\\ b c", ENV) == ["a b", "c"]
    assert lex.words("'x y'z", ENV) == ["x yz"]


def test_backtick_escape_directive() -> None:
    assert Lexer("`").word("C:`\\x `$HOME", ENV) == "C:\\x $HOME"


def test_used_variables_are_recorded() -> None:
    lex = Lexer()
    lex.word("$HOME ${NAME:-x} ${UNSET:-y}", ENV)
    assert lex.used == {"HOME", "NAME"}


def test_skip_unset_leaves_references_as_written() -> None:
    lex = Lexer(skip_unset=True)
    assert lex.word("$HOME $LATER ${LATER:-d}", ENV) == "/root $LATER ${LATER:-d}"


def test_raw_quotes_keep_quotes() -> None:
    assert Lexer(raw_quotes=True).word("'a' \"b\"", ENV) == "'a' \"b\""


@given(st.text(alphabet=st.sampled_from(list("ab $\\{}:-+?#%/'\"*` \t\nHOME")), max_size=30))
def test_any_text_expands_or_fails_cleanly(text: str) -> None:
    """Never a traceback: a WordError or a string."""
    try:
        out = Lexer().word(text, ENV)
    except WordError:
        return
    assert isinstance(out, str)
