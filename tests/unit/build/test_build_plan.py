"""Stages as a DAG: only what the target needs is built; the meta args and the platform
args expand FROM lines; cache keys change exactly with their inputs."""

from __future__ import annotations

import pytest

from pycompose.engine.builder import cache as C
from pycompose.engine.builder.dockerfile import parse
from pycompose.engine.builder.plan import host_platform, make_plan, parse_platform
from pycompose.engine.errors import InvalidArgument

DF = """\
ARG BASE=busybox
ARG TAG
FROM $BASE AS deps
RUN make deps
FROM busybox${TAG:+:$TAG} AS tools
RUN build-tools
FROM deps AS build
COPY --from=tools /bin/tool /bin/
RUN make
FROM scratch AS docs
RUN --mount=type=bind,from=build,target=/b make docs
FROM scratch AS final
COPY --from=build /out /app
"""


def plan(target: str = "", **args: str):  # type: ignore[no-untyped-def]
    return make_plan(parse(DF), target=target, build_args=dict(args), plat=host_platform())


def test_only_what_the_target_needs() -> None:
    p = plan()
    assert [sp.stage.name for sp in p.stages] == ["deps", "tools", "build", "final"]
    assert p.target == 4
    build = p.by_index(2)
    assert build.base_stage == 0 and build.deps == {0, 1}


def test_target_and_its_dependencies() -> None:
    assert [sp.stage.name for sp in plan("tools").stages] == ["tools"]
    assert {sp.stage.name for sp in plan("docs").stages} == {"deps", "build", "tools", "docs"}
    with pytest.raises(InvalidArgument, match="target stage 'nope' could not be found"):
        plan("nope")


def test_meta_args_expand_from() -> None:
    assert plan().by_index(0).base == "busybox"
    assert plan(BASE="debian").by_index(0).base == "debian"
    assert plan().by_index(1).base == "busybox"
    assert plan(TAG="1.36").by_index(1).base == "busybox:1.36"
    p = plan(UNUSED="1")
    assert p.unused_args == ["UNUSED"]
    assert "TARGETARCH" in p.meta and p.meta["TARGETOS"] == "linux"


def test_a_stage_cannot_use_a_later_one() -> None:
    df = parse("FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n")
    with pytest.raises(InvalidArgument, match="used before it is defined"):
        make_plan(df, target="", build_args={}, plat=host_platform())


def test_empty_base_is_an_error() -> None:
    df = parse("ARG BASE\nFROM $BASE\n")
    with pytest.raises(InvalidArgument, match="Dockerfile:2: .*base image name is empty"):
        make_plan(df, target="", build_args={}, plat=host_platform())


def test_other_platforms_are_refused() -> None:
    assert parse_platform("")["os"] == "linux"
    with pytest.raises(InvalidArgument, match="own platform only"):
        parse_platform("linux/s390x-not-here")


def test_cache_keys() -> None:
    base = C.key("run", "sha256:parent", argv=["sh", "-c", "x"], env=["A=1"])
    assert base == C.key("run", "sha256:parent", env=["A=1"], argv=["sh", "-c", "x"])
    assert base != C.key("run", "sha256:other", argv=["sh", "-c", "x"], env=["A=1"])
    assert base != C.key("run", "sha256:parent", argv=["sh", "-c", "x"], env=["A=2"])
    assert base != C.key("copy", "sha256:parent", argv=["sh", "-c", "x"], env=["A=1"])
