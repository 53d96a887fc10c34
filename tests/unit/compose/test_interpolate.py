"""Interpolation as docker compose does it (cases after compose-go's template tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.compose.errors import ComposeError
from pycompose.compose.interpolate import (
    InterpolationError,
    Template,
    Variable,
    extract_variables,
    interpolate_tree,
)
from pycompose.compose.yamlsrc import load_yaml

ENV = {"FOO": "first", "BAR": "", "NUM": "8080", "lower": "yes"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain", "plain"),
        ("$FOO", "first"),
        ("${FOO}", "first"),
        ("x${FOO}y", "xfirsty"),
        ("$FOO.txt", "first.txt"),
        ("${lower}", "yes"),
        ("$$FOO", "$FOO"),
        ("$${FOO}", "${FOO}"),
        ("a $ b", "a $ b"),
        ("price $5", "price $5"),
        ("end$", "end$"),
        ("${UNSET}", ""),
        ("${UNSET:-def}", "def"),
        ("${BAR:-def}", "def"),
        ("${BAR-def}", ""),
        ("${UNSET-def}", "def"),
        ("${FOO:-def}", "first"),
        ("${FOO:+alt}", "alt"),
        ("${BAR:+alt}", ""),
        ("${BAR+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${FOO}}", "first"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a${FOO}b${NUM}}", "afirstb8080"),
        ("${UNSET:-with spaces and : colons}", "with spaces and : colons"),
        ("${UNSET:-$$literal}", "$literal"),
        ("${FOO:?must}", "first"),
        ("${BAR?must}", ""),
        ("127.0.0.1:${NUM}:80", "127.0.0.1:8080:80"),
    ],
)
def test_expand(template: str, expected: str) -> None:
    assert Template(ENV.get).expand(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${UNSET:?please set it}", "required variable UNSET is missing a value: please set it"),
        ("${BAR:?empty too}", "required variable BAR is missing a value: empty too"),
        ("${UNSET?}", "required variable UNSET is missing a value"),
        ("${UNSET?needs $FOO}", "needs first"),
        ("${", "bad variable name"),
        ("${}", "bad variable name"),
        ("${1abc}", "bad variable name"),
        ("${FOO", "expected '}'"),
        ("${FOO:-never closed", "missing closing '}'"),
        ("${FOO BAR}", "expected '}' or an operator"),
    ],
)
def test_errors(template: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message.replace("$", r"\$")):
        Template(ENV.get).expand(template)


def test_defaults_are_lazy() -> None:
    """A default that would fail is not evaluated when the variable is set."""
    assert Template(ENV.get).expand("${FOO:-${UNSET:?boom}}") == "first"


def test_unset_variables_are_reported_once() -> None:
    warnings: list[str] = []
    doc = load_yaml("a: $X\nb: ${X}\nc: ${Y:-ok}\n", "c.yml")
    out = interpolate_tree(doc, {}.get, file="c.yml", warn=warnings.append)
    assert out == {"a": "", "b": "", "c": "ok"}
    assert warnings == ['The "X" variable is not set. Defaulting to a blank string.']


def test_keys_are_not_interpolated_and_marks_are_kept() -> None:
    doc = load_yaml("services:\n  $NAME:\n    image: ${IMG}\n", "c.yml")
    out = interpolate_tree(doc, {"NAME": "web", "IMG": "nginx"}.get, file="c.yml")
    assert out == {"services": {"$NAME": {"image": "nginx"}}}
    assert out["services"]["$NAME"].value_mark("image").line == 3


def test_error_names_file_line_and_key() -> None:
    doc = load_yaml("services:\n  web:\n    ports:\n      - ${PORT:?set PORT}\n", "c.yml")
    with pytest.raises(ComposeError) as e:
        interpolate_tree(doc, {}.get, file="c.yml")
    assert str(e.value) == (
        "c.yml:4:9: services.web.ports[0]: required variable PORT is missing a value: set PORT")


@given(st.text())
def test_never_raises_anything_else(text: str) -> None:
    try:
        Template(ENV.get).expand(text)
    except InterpolationError:
        pass


@given(st.text(alphabet=st.characters(blacklist_characters="$")))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    assert Template(ENV.get).expand(text) == text


# Braces inside a default or alternative belong to it (compose-go counts every "{"):
# a set variable leaves no stray "}" behind, an unset one gives the whole default.
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('${FOO:-{"json":1}}', "first"),
        ('${UNSET:-{"json":1}}', '{"json":1}'),
        ('${BAR:-{"json":1}}', '{"json":1}'),
        ("${FOO-{a}}", "first"),
        ("${UNSET-{a}}", "{a}"),
        ("${BAR-{a}}", ""),
        ("${FOO:+{x: [1, 2]}}", "{x: [1, 2]}"),
        ("${UNSET:+{x}}", ""),
        ("${FOO:-${UNSET:-{b}}}", "first"),
        ("${UNSET:-${ALSO:-{b}}}", "{b}"),
        ("${UNSET:-{{nested}}}-tail", "{{nested}}-tail"),
        ('pre ${FOO:-{"a":{"b":2}}} post', "pre first post"),
        ("${UNSET:-a}b}", "ab}"),
        ("${FOO:?{oops}}", "first"),
    ],
)
def test_braces_inside_defaults(template: str, expected: str) -> None:
    assert Template(ENV.get).expand(template) == expected


# --- the variables a model uses (config --variables) ------------------------------------


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({}, {}),
        ({"image": "plain"}, {}),
        ({"image": "$$escaped ${}"}, {}),
        ({"image": "$IMG"}, {"IMG": Variable("IMG")}),
        ({"image": "$img_2x"}, {"img_2x": Variable("img_2x")}),
        ({"image": "${TAG?}"}, {"TAG": Variable("TAG", required=True)}),
        ({"image": "${TAG:?why}"}, {"TAG": Variable("TAG", required=True)}),
        ({"image": "${TAG:-1.0}"}, {"TAG": Variable("TAG", default="1.0")}),
        ({"image": "${TAG-1.0}"}, {"TAG": Variable("TAG", default="1.0")}),
        ({"image": "${ON:+yes}"}, {"ON": Variable("ON", alternate="yes")}),
        ({"image": "${ON+yes}"}, {"ON": Variable("ON", alternate="yes")}),
        # several in one string, in lists and nested mappings; keys are never read
        ({"services": {"${NOT_A_KEY}": {"ports": ["${HOST:-127.0.0.1}:${PORT:?}:80"]}}},
         {"HOST": Variable("HOST", default="127.0.0.1"),
          "PORT": Variable("PORT", required=True)}),
        # a default that uses another variable lists both
        ({"x": "${SUB:-$ROOT}"}, {"SUB": Variable("SUB", default="$ROOT"),
                                  "ROOT": Variable("ROOT")}),
        ({"x": "${A:-${B:-${C}}}"}, {"A": Variable("A", default="${B:-${C}}"),
                                     "B": Variable("B", default="${C}"), "C": Variable("C")}),
        # braces inside a default stay in it
        ({"x": '${J:-{"a":1}} and $K'}, {"J": Variable("J", default='{"a":1}'),
                                        "K": Variable("K")}),
    ],
)
def test_extract_variables(tree: dict[str, object], expected: dict[str, Variable]) -> None:
    assert extract_variables(tree) == expected
