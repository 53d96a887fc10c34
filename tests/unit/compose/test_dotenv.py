"""``.env`` parsing with docker compose's rules (cases after compose-go's fixtures)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.compose.dotenv import parse_dotenv
from pycompose.compose.errors import ComposeError


def parse(text: str, shell: dict[str, str] | None = None) -> dict[str, str]:
    return parse_dotenv(text, file=".env", lookup=(shell or {}).get)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=1\nB=2\n", {"A": "1", "B": "2"}),
        ("export A=1", {"A": "1"}),
        ("A: 1", {"A": "1"}),
        ("  A = spaced  ", {"A": "spaced"}),
        ("A=", {"A": ""}),
        ("# comment\n\nA=1", {"A": "1"}),
        ("A=value # comment", {"A": "value"}),
        ("A=value#not-a-comment", {"A": "value#not-a-comment"}),
        ("A='single $X \\n'", {"A": "single $X \\n"}),
        ('A="double\\nline"', {"A": "double\nline"}),
        ('A="multi\nline"', {"A": "multi\nline"}),
        ('A="quote \\" inside"', {"A": 'quote " inside'}),
        ('A="tab\\there"', {"A": "tab\there"}),
        ('A="keep \\$X"', {"A": "keep $X"}),
        ("A='x' # comment", {"A": "x"}),
        ('A="x" # comment', {"A": "x"}),
        ("\ufeffA=bom", {"A": "bom"}),
        ("A.B-C[0]=odd key", {"A.B-C[0]": "odd key"}),
        ("A=1\nB=${A}2", {"A": "1", "B": "12"}),
        ("B=${UNSET:-fallback}", {"B": "fallback"}),
        ("A=x\r\nB=y\r\n", {"A": "x", "B": "y"}),
    ],
)
def test_parse(text: str, expected: dict[str, str]) -> None:
    assert parse(text) == expected


def test_shell_wins_inside_the_file() -> None:
    """docker/compose#9045: ${A} in .env looks at the shell before earlier keys."""
    assert parse("A=file\nB=${A}", {"A": "shell"}) == {"A": "file", "B": "shell"}


def test_bare_key_inherits_from_the_shell() -> None:
    assert parse("HOME\nMISSING\n", {"HOME": "/root"}) == {"HOME": "/root"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("A=1\n=oops", 2, "expected KEY=VALUE"),
        ("A=1\nB 2", 2, "invalid line 'B 2': expected KEY=VALUE"),
        ('A="never closed\nB=1', 1, "unterminated quoted value for A"),
        ("A='x' junk", 1, "unexpected text after the quoted value of A"),
        ("A=${B:?is needed}", 1, "required variable B is missing a value: is needed"),
    ],
)
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ComposeError) as e:
        parse(text)
    assert e.value.file == ".env"
    assert e.value.line == line
    assert message in str(e.value)


@given(st.text())
def test_never_raises_anything_else(text: str) -> None:
    try:
        parse(text)
    except ComposeError:
        pass
