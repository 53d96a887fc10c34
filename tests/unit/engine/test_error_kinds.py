"""Error kinds cross the supervisor's socket as themselves (engine/errors.py)."""

from __future__ import annotations

import json

import pytest

from pycompose.engine import errors as E


@pytest.mark.parametrize("cls", list(E.KINDS.values()))
def test_every_kind_is_rebuilt_as_the_same_class(cls: type[E.EngineError]) -> None:
    err = cls("No such container: web") if not issubclass(cls, E.SetupFailed) else \
        cls("mount /data on /srv: No such file or directory", step="mount /data", errno=2)
    back = E.from_wire(json.loads(json.dumps(err.to_wire())))
    assert type(back) is cls
    assert str(back) == str(err)
    if isinstance(err, E.SetupFailed):
        assert isinstance(back, E.SetupFailed)
        assert (back.step, back.errno) == ("mount /data", 2)


def test_kinds_are_unique_and_all_listed() -> None:
    subclasses: set[type[E.EngineError]] = set()
    todo = [E.EngineError]
    while todo:
        c = todo.pop()
        subclasses.add(c)
        todo += c.__subclasses__()
    assert {c for c in subclasses if c.__module__ == E.__name__} == set(E.KINDS.values())
    assert len({c.kind for c in E.KINDS.values()}) == len(E.KINDS)


def test_an_unknown_kind_is_still_an_engine_error() -> None:
    back = E.from_wire({"kind": "from-a-newer-supervisor", "message": "hm"})
    assert type(back) is E.EngineError and str(back) == "hm"


def test_a_not_found_from_the_wire_is_suppressible_as_not_found() -> None:
    import contextlib

    with contextlib.suppress(E.NotFound):
        raise E.from_wire(E.NotFound("No such container: 0123456789ab").to_wire())
