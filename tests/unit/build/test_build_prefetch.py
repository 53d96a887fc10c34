"""Which COPY steps may be staged while the RUN before them runs (prefetch.plan_for):
only those whose output does not depend on the image below, and never one with an
error (its step reports it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycompose.engine.builder.context import Context
from pycompose.engine.builder.dockerfile import parse
from pycompose.engine.builder.prefetch import Plan, plan_for
from pycompose.engine.builder.state import State


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    return Context.open(tmp_path)


def _plan(ctx: Context, line: str, env: dict[str, str] | None = None) -> Plan | None:
    df = parse(f"FROM scratch\n{line}\n")
    state = State.scratch({})
    for k, v in (env or {}).items():
        state.set_env(k, v)
    return plan_for(df, state, df.stages[0].instructions[-1], ctx)


def test_a_plain_copy_into_a_directory_is_staged(ctx: Context) -> None:
    assert _plan(ctx, "COPY data/ b.txt /app/") == Plan("/app/", ("data", "b.txt"), None,
                                                      None, True)
    assert _plan(ctx, "COPY --chown=1000 --chmod=0640 data/ $D/",
                 {"D": "/srv"}) == Plan("/srv/", ("data",), (1000, 1000), 0o640, False)
    p = _plan(ctx, "COPY --chown=7:8 *.txt /x/")
    assert p is not None and p.owner == (7, 8) and p.rels == ("b.txt",)


@pytest.mark.parametrize("line", [
    "COPY b.txt /app",  # a file's name depends on whether /app is a directory below
    "COPY --chown=app data/ /app/",  # a name is looked up in the image below
    "COPY --from=base data/ /app/",
    "COPY --link data/ /app/",
    "ADD data/ /app/",
    "COPY <<EOF /app/\nhello\nEOF",
    "COPY missing/ /app/",  # the step says it is not there
    "COPY --chmod=9z data/ /app/",  # the step says what is wrong
    "RUN true",
])
def test_anything_else_is_left_to_its_step(ctx: Context, line: str) -> None:
    assert _plan(ctx, line) is None
