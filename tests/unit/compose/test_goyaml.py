"""The YAML emitter writes what go-yaml (docker compose's encoder) writes: scalar
styles, folding past 80 columns, literal blocks, Go's float format. Cases written
from go-yaml's representer and emitter rules."""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pycompose.compose.goyaml import dump, go_float, scalar
from pycompose.compose.yamlsrc import load_yaml, plain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # plain when it reads back as the same string
        ("nginx:1.27", "nginx:1.27"), ("-fsS", "-fsS"), ("--loglevel=${X}", "--loglevel=${X}"),
        ("a b c", "a b c"), ("it's", "it's"), ("http://x:80/a?b=c", "http://x:80/a?b=c"),
        ("a#b", "a#b"), ("key=value", "key=value"), ("=", "="), ("é ü", "é ü"),
        # double-quoted when plain would read as another type
        ("1", '"1"'), ("8080", '"8080"'), ("1.5", '"1.5"'), ("1e3", '"1e3"'),
        ("0x1F", '"0x1F"'), ("true", '"true"'), ("False", '"False"'), ("null", '"null"'),
        ("~", '"~"'), ("", '""'), ("2024-01-01", '"2024-01-01"'), (".inf", '".inf"'),
        ("-0", '"-0"'), ("127.0.0.1", "127.0.0.1"), ("1.2.3", "1.2.3"),
        # single-quoted: YAML 1.1 booleans and base-60 numbers, and what plain can't hold
        ("yes", "'yes'"), ("Off", "'Off'"), ("y", "'y'"), ("22:22", "'22:22'"),
        ("1:20:30.5", "'1:20:30.5'"), ("<<", "'<<'"), ("- x", "'- x'"), ("a: b", "'a: b'"),
        ("a #b", "'a #b'"), ("#x", "'#x'"), ("*x", "'*x'"), ("{x}", "'{x}'"),
        ("[a]", "'[a]'"), (" lead", "' lead'"), ("trail ", "'trail '"), ("x:", "'x:'"),
        ("-", "'-'"), ("---", "'---'"), ("@a", "'@a'"), ("%a", "'%a'"), ("'q'", "'''q'''"),
        # double-quoted with escapes: tabs, controls, characters outside the BMP
        ("a\tb", '"a\\tb"'), ("bell\a", '"bell\\a"'), ("\x7f", '"\\x7F"'),
        ("\x85", '"\\N"'), ("a\u2028b", '"a\\Lb"'), ("😀", '"\\U0001F600"'),
        ('say "hi"\t', '"say \\"hi\\"\\t"'), ("back\\slash\t", '"back\\\\slash\\t"'),
        ("\ufeffbom", '"\\uFEFF\\x62\\x6F\\x6D"'),
        # line breaks: a literal block when it can be one
        ("a\nb", "|-\n  a\n  b"), ("a\nb\n", "|\n  a\n  b\n"),
        ("a\n\n", "|+\n  a\n\n"), ("\n", '"\\n"'), (" a\nb", "|2-\n   a\n  b"),
        ("a \nb", '"a \\nb"'), ("x\n\ny", "|-\n  x\n\n  y"),
        ("\n\t0", "|2-\n\n  \t0"),  # an empty first line gets the hint, as libyaml's
        ("\t0\n", "|2\n  \t0\n"),  # a tab first: the hint too, or no reader takes it
        # other scalars
        (None, "null"), (True, "true"), (False, "false"), (42, "42"), (-7, "-7"),
        (1.0, "1"), (0.5, "0.5"),
    ],
)
def test_scalar_styles(value: object, text: str) -> None:
    assert scalar(value) == text
    # and every form reads back as what was written
    doc = f"k: {text}" + ("" if text.endswith("\n") else "\n")
    assert plain(load_yaml(doc, "t.yaml"))["k"] == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (1.0, "1"), (-2.0, "-2"), (0.5, "0.5"), (123456.0, "123456"),
     (1234567.0, "1.234567e+06"), (1e6, "1e+06"), (1e21, "1e+21"), (0.0001, "0.0001"),
     (0.00001, "1e-05"), (1.5e-07, "1.5e-07"), (3.14159, "3.14159"),
     (float("inf"), ".inf"), (float("-inf"), "-.inf"), (float("nan"), ".nan")],
)
def test_floats_as_go_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_layout() -> None:
    data = {"name": "p", "services": {"web": {
        "command": ["sh", "-c"], "environment": {"A": "1"}, "ports": [
            {"mode": "ingress", "target": 80, "published": "8080"}],
        "empty_map": {}, "empty_list": [], "nested": [["a", "b"], {}]}}}
    assert dump(data) == (
        "name: p\n"
        "services:\n"
        "  web:\n"
        "    command:\n"
        "      - sh\n"
        "      - -c\n"
        "    environment:\n"
        '      A: "1"\n'
        "    ports:\n"
        "      - mode: ingress\n"
        "        target: 80\n"
        '        published: "8080"\n'
        "    empty_map: {}\n"
        "    empty_list: []\n"
        "    nested:\n"
        "      - - a\n"
        "        - b\n"
        "      - {}\n")


def test_keys_are_quoted_like_values_and_never_folded() -> None:
    long_key = "k " * 60
    assert dump({"N": 1, "8080": 2, "a: b": 3, long_key.strip(): 4}) == (
        "'N': 1\n"
        '"8080": 2\n'
        "'a: b': 3\n"
        f"{long_key.strip()}: 4\n")
    assert dump({"multi\nline": 1}) == "? |-\n  multi\n  line\n: 1\n"


def test_long_lines_fold_past_80_columns() -> None:
    words = " ".join(f"word{i}" for i in range(30))
    text = dump({"services": {"web": {"command": ["sh", "-c", words],
                                      "labels": {"a": words + " it's: here"}}}})
    lines = text.splitlines()
    # plain in a sequence: continuation lines line up with the item's text
    assert lines[5].startswith("      - word0 word1") and len(lines[5]) > 80
    assert lines[6].startswith("        word")
    # the break comes at the first space past column 80, not before
    assert len(lines[5]) - len(lines[5].rsplit(" ", 1)[1]) - 1 <= 80 < len(lines[5])
    # single-quoted in a mapping: continuation at the value's indent
    label = next(line for line in lines if line.startswith("      a: '"))
    assert len(label) > 80
    assert yaml.safe_load(text)["services"]["web"]["command"][2] == words
    assert yaml.safe_load(text)["services"]["web"]["labels"]["a"] == words + " it's: here"


def test_double_quoted_folds_and_escapes_a_second_space() -> None:
    value = "x" * 78 + "\t" + "  y" + " z" * 10
    text = dump({"k": value})
    assert text.startswith('k: "' + "x" * 78 + "\\t")
    assert "\n  \\ y" in text  # the folded space before another space is escaped
    assert plain(load_yaml(text, "t.yaml"))["k"] == value
    assert yaml.safe_load(text)["k"] == value


_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


@settings(max_examples=int(os.environ.get("PYCOMPOSE_FUZZ_EXAMPLES", "400")), deadline=None)
@given(st.dictionaries(_texts, st.one_of(_texts, st.lists(_texts, max_size=3)), max_size=4))
def test_anything_reads_back_the_same(data: dict[str, object]) -> None:
    text = dump(data)
    assert plain(load_yaml(text, "t.yaml") or {}) == data
    # PyYAML reads a plain "=" as YAML 1.1's value tag, which it cannot construct
    values = [*data, *(x for v in data.values() for x in (v if isinstance(v, list) else [v]))]
    if "=" not in values:
        assert (yaml.safe_load(text) or {}) == data


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"k": "...x"}, "k: '...x'\n"),
        ({"k": "---x"}, "k: '---x'\n"),
        # a key with a line break, or longer than 128 bytes, is no simple key
        ({"a\nb": 1}, "? |-\n  a\n  b\n: 1\n"),
        ({"k" * 130: 1}, "? " + "k" * 130 + "\n: 1\n"),
        # a word longer than the line is not broken; the fold comes at the next space
        ({"k": ["x" * 100 + " y"]}, "k:\n  - " + "x" * 100 + "\n    y\n"),
        # a literal block that keeps its final line breaks ends the document
        ({"k": "a\n\n"}, "k: |+\n  a\n\n"),
    ],
)
def test_documents(data: dict[str, object], text: str) -> None:
    assert dump(data) == text
    assert plain(load_yaml(text, "t.yaml")) == data
