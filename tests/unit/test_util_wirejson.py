"""The thin clients' JSON without ``json`` (util/wirejson.py) is ``json``'s, text and
objects, for every value the house's channels can carry."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.util import wirejson

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                 max_size=4),
    max_leaves=20)


@given(values)
def test_the_same_text_and_objects_as_json(value: object) -> None:
    text = wirejson.dumps(value)
    assert text == json.dumps(value)
    assert wirejson.loads(text) == json.loads(text)
    assert wirejson.loads(text.encode()) == value or value != value


def test_surrogates_from_an_undecodable_environment_round_trip() -> None:
    env = {"X": b"caf\xe9".decode("utf-8", "surrogateescape"), "E": "\U0001f600"}
    assert wirejson.dumps(env) == json.dumps(env)
    assert wirejson.loads(wirejson.dumps(env)) == env


@pytest.mark.parametrize("bad", ["", "{", '{"a": 1} x', "nope", "[1,]"])
def test_anything_but_one_document_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        wirejson.loads(bad)
    with pytest.raises(ValueError):
        json.loads(bad)


def test_what_the_channels_never_send_is_refused() -> None:
    # json.dumps would turn an int key into text; no channel sends one
    with pytest.raises(TypeError):
        wirejson.dumps({1: "x"})
    with pytest.raises(TypeError):
        wirejson.dumps(object())
