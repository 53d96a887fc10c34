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


# --- quotes and escapes, as compose-go's dotenv reads them ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an escaped quote inside its own kind of quotes is the quote itself
        ("OPTION='Let\\'s go!'", "Let's go!"),
        ('OPTION="say \\"hi\\""', 'say "hi"'),
        # other backslashes in single quotes stay as written
        ("OPTION='a\\nb'", "a\\nb"),
        ("OPTION='C:\\\\dir'", "C:\\\\dir"),
        ("OPTION='\\\"'", '\\"'),
        # double quotes: C escapes
        ('OPTION="a\\\\b"', "a\\b"),
        ('OPTION="bell\\a"', "bell\a"),
        ('OPTION="\\f\\v\\r\\b"', "\f\v\r\b"),
        ('OPTION="\\x41"', "\\x41"),
        ('OPTION="\\c"', "\\c"),
        ("OPTION=\"it\\'s\"", "it\\'s"),
        # XSI octal: \0 and exactly three octal digits
        ('OPTION="\\0123"', "S"),
        ('OPTION="\\0101\\0102"', "AB"),
        ('OPTION="x\\01234"', "xS4"),
        ('OPTION="\\012"', "\\012"),
        ('OPTION="\\0"', "\\0"),
        ('OPTION="\\0128"', "\\0128"),
        ('OPTION="\\0777"', "\\0777"),
        ('OPTION="\\0377"', "\xff"),
        # \$ and $$ are a literal dollar, never interpolated
        ('OPTION="\\$HOME"', "$HOME"),
        ('OPTION="$$HOME"', "$HOME"),
        ("OPTION='$HOME'", "$HOME"),
        # unquoted: a comment needs a space before '#'; a tab does not start one
        ("OPTION=a\t#b", "a\t#b"),
        ("OPTION=a #b", "a"),
        ("OPTION=  lead and trail  ", "lead and trail"),
    ],
)
def test_quotes_and_escapes(text: str, expected: str) -> None:
    assert parse(text) == {"OPTION": expected}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("KEY='value\\'", 1),
        ("A=1\nKEY='value\\'\nB=2\n", 2),
        ('A=1\n\nKEY="open\nstill open\n', 3),
        ('KEY="ends with an escaped quote \\"', 1),
    ],
)
def test_unterminated_quote_names_file_and_line(text: str, line: int) -> None:
    with pytest.raises(ComposeError) as e:
        parse_dotenv(text, file="conf/app.env")
    assert (e.value.file, e.value.line) == ("conf/app.env", line)
    assert "unterminated quoted value for KEY" in str(e.value)
    assert str(e.value).startswith(f"conf/app.env:{line}")


def test_a_file_sees_its_own_earlier_lines_before_earlier_files() -> None:
    got = parse_dotenv("X=mine\nY=${X}\nZ=${W}", file="b.env", lookup={}.get,
                       earlier={"X": "theirs", "W": "from-a"})
    assert got == {"X": "mine", "Y": "mine", "Z": "from-a"}


def test_shell_still_wins_over_earlier_files() -> None:
    got = parse_dotenv("Y=${X}", file="b.env", lookup={"X": "shell"}.get,
                       earlier={"X": "file"})
    assert got == {"Y": "shell"}
