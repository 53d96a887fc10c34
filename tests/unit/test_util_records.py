"""util/records.py: dataclass-like records without importing dataclasses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pycompose.util.plain import from_plain, to_plain
from pycompose.util.records import field, fields_of, record


@record
class Inner:
    a: int
    b: list[str] = field(default_factory=list)


@record(frozen=True)
class Point:
    x: int
    y: int = 0


@record
class Outer:
    name: str
    inner: Inner
    items: list[Inner] = field(default_factory=list)
    maybe: Inner | None = None
    tags: dict[str, str] = field(default_factory=dict)


def test_init_defaults_repr_eq() -> None:
    i = Inner(1)
    assert (i.a, i.b) == (1, [])
    assert Inner(1).b is not Inner(1).b  # a factory per instance
    assert i == Inner(a=1, b=[]) and i != Inner(2)
    assert repr(i) == "Inner(a=1, b=[])"
    assert fields_of(Outer) == ("name", "inner", "items", "maybe", "tags")


def test_argument_errors_read_like_pythons() -> None:
    with pytest.raises(TypeError, match="missing required argument: 'a'"):
        Inner()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
        Inner(1, c=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        Inner(1, a=2)  # type: ignore[misc]


def test_frozen_records_hash_and_refuse_changes() -> None:
    p = Point(1)
    assert hash(p) == hash(Point(1, 0)) and {p, Point(1)} == {p}
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 2  # type: ignore[misc]


def test_plain_round_trip_rebuilds_the_exact_types() -> None:
    o = Outer("n", Inner(1, ["x"]), [Inner(2)], Inner(3), {"k": "v"})
    data = to_plain(o)
    assert data == {"name": "n", "inner": {"a": 1, "b": ["x"]}, "items": [{"a": 2, "b": []}],
                    "maybe": {"a": 3, "b": []}, "tags": {"k": "v"}}
    assert from_plain(Outer, data) == o


def test_an_unknown_field_on_the_wire_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown field"):
        from_plain(Inner, {"a": 1, "zz": 2})


def test_the_thin_client_pays_for_neither_dataclasses_nor_typing() -> None:
    code = ("import sys, pycompose.cli.flags, pycompose.engine.client; "
            "print(sorted(m for m in ('dataclasses', 'typing', 'inspect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)}, check=True)
    assert out.stdout.strip() == "[]", out.stderr
