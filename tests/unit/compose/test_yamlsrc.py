"""YAML with positions: what the loader promises the rest of the project."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycompose.compose.errors import ComposeError
from pycompose.compose.yamlsrc import (
    MDict,
    MList,
    Override,
    Reset,
    key_path,
    load_yaml,
    locate,
    plain,
)

DOC = """\
x-common: &common
  restart: always
  labels: [a=1]
services:
  web:
    <<: *common
    image: nginx
    ports:
      - "80:80"
      - 99999:80
  db:
    image: postgres
    created: 2024-01-01
"""


def test_marks_point_at_values() -> None:
    doc = load_yaml(DOC, "compose.yaml")
    assert isinstance(doc, MDict) and isinstance(doc["services"]["web"]["ports"], MList)
    mark, exact = locate(doc, ("services", "web", "ports", 1))
    assert exact and (mark.file, mark.line, mark.column) == ("compose.yaml", 10, 9)
    mark, exact = locate(doc, ("services", "web", "image"))
    assert (mark.line, mark.column) == (7, 12)


def test_locate_missing_key_falls_back_to_the_enclosing_mapping() -> None:
    doc = load_yaml(DOC, "compose.yaml")
    mark, exact = locate(doc, ("services", "db", "nosuch", 3))
    assert not exact and mark.line == 12


def test_merge_keys_and_anchors() -> None:
    web = load_yaml(DOC, "c.yml")["services"]["web"]
    assert web["restart"] == "always" and web["labels"] == ["a=1"]


def test_timestamps_stay_strings() -> None:
    assert load_yaml(DOC, "c.yml")["services"]["db"]["created"] == "2024-01-01"


def test_compose_tags() -> None:
    doc = load_yaml("a: !reset null\nb: !override [1]\nc: !override {x: 1}\n", "c.yml")
    assert isinstance(doc["a"], Reset)
    assert isinstance(doc["b"], Override) and doc["b"].value == [1]
    assert isinstance(doc["c"], Override) and doc["c"].value == {"x": 1}
    assert plain(doc["b"]) == [1]


def test_key_path() -> None:
    assert key_path(("services", "web", "ports", 1)) == "services.web.ports[1]"
    assert key_path(()) == ""


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", (3, 1), "mapping key 'a' already defined at line 1"),
        ("services:\n  web:\n    image: [\n", (4, 1), "invalid YAML"),
        ("a: 1\n---\nb: 2\n", (3, 1), "expected a single YAML document"),
        ("a: *nosuch\n", (1, 4), "invalid YAML"),
        ("a:\n\tb: 1\n", (2, 1), "invalid YAML"),
        ("? [1, 2]\n: x\n", (1, 3), "a mapping key must be a plain value"),
    ],
)
def test_errors(text: str, where: tuple[int, int], message: str) -> None:
    with pytest.raises(ComposeError) as e:
        load_yaml(text, "bad.yml")
    assert (e.value.file, e.value.line, e.value.column) == ("bad.yml", *where)
    assert message in str(e.value)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ComposeError, match="expands to more than"):
        load_yaml("\n".join(lines) + "\n", "bomb.yml")


def test_empty_document() -> None:
    assert load_yaml("", "e.yml") is None
    assert load_yaml("# only a comment\n", "e.yml") is None


@settings(max_examples=300)
@given(st.text())
def test_random_text_never_raises_anything_else(text: str) -> None:
    try:
        load_yaml(text, "fuzz.yml")
    except ComposeError:
        pass


def test_underscores_make_no_float_as_go_yaml_reads_them() -> None:
    # go-yaml's floats have no "_": these are strings (PyYAML's float constructor
    # crashed on "._": an internal error instead of a project)
    doc = plain(load_yaml("a: ._\nb: 1_0.5\nc: -._1\nd: 1.5\ne: 1e3\nf: 1_000\n", "x.yml"))
    assert doc == {"a": "._", "b": "1_0.5", "c": "-._1", "d": 1.5, "e": 1000.0, "f": 1000}
