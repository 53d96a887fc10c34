"""Which services pull, decided as data (compose/pull.py), and ``pull``/``up``/``push``
on a fake engine that records the pulls and pushes it is asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio.testing
from pctest.fake_engine import FakeEngine

from pycompose.compose import orchestrate as O
from pycompose.compose import pull as PL
from pycompose.compose.errors import ComposeError
from pycompose.compose.execute import Progress
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate
from pycompose.engine.api import NotFound, PulledImage, PullResult, PushedImage, PushResult, Version

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def project(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo")))


@pytest.mark.parametrize(("policy", "present", "age", "pulls"), [
    ("always", True, None, True), ("never", False, None, False), ("build", False, None, False),
    ("missing", True, None, False), ("missing", False, None, True),
    ("daily", True, timedelta(hours=23), False), ("daily", True, timedelta(hours=25), True),
    ("weekly", True, timedelta(days=6), False), ("every_12h", True, timedelta(hours=13), True),
    ("every_1h30m", True, timedelta(minutes=80), False), ("daily", True, None, True),
    ("daily", False, timedelta(0), True),
])
def test_up_must_pull(policy: str, present: bool, age: timedelta | None, pulls: bool) -> None:
    last = NOW - age if age is not None else None
    assert PL.must_pull(policy, present=present, last_moved=last, now=NOW) is pulls


def test_refresh_windows_and_bad_durations() -> None:
    assert PL.refresh_window("refresh", "2d") == timedelta(days=2)
    assert PL.refresh_window("refresh") == timedelta(hours=24)
    assert PL.refresh_window("missing") is None
    with pytest.raises(ComposeError, match="invalid pull_policy duration 'soon'"):
        PL.refresh_window("every_soon")


class Registry(FakeEngine):
    """The fake engine, able to pull (what is in ``remote``) and push."""

    def __init__(self, clock: Any, remote: set[str], present: dict[str, str]) -> None:
        super().__init__(clock)
        self.remote = remote
        self.images.update(present)
        self.pulled: list[str] = []
        self.pushed: list[str] = []
        self.root = Path("/nonexistent")
        self.moved: dict[str, str] = {}

    async def pull_async(self, req: Any, progress: Any = None) -> PullResult:
        self.pulled.append(req.reference)
        if req.reference not in self.remote:
            raise NotFound(f"manifest {req.reference}: not found")
        self.images[req.reference] = "sha256:" + "1" * 64
        return PullResult([PulledImage(req.reference, "sha256:x", "d", "d", True)])

    async def push_async(self, req: Any, progress: Any = None) -> PushResult:
        self.pushed.append(req.reference)
        return PushResult([PushedImage(req.reference, "d", 1, 2, 1, 0, 1, 100)])

    def image_versions(self, name: str) -> list[Version]:
        t = self.moved.get(name)
        return [Version(name, 1, t, "u", "h", "c", "pull", "sha256:x")] if t else []


COMPOSE = """
services:
  web: {image: "reg.test/web:1"}
  db: {image: "reg.test/db:1", pull_policy: always}
  cache: {image: "reg.test/cache:1", pull_policy: daily}
  twin: {image: "reg.test/web:1"}
  local: {image: "reg.test/local:1", pull_policy: never}
  built: {build: ., image: "reg.test/built:1"}
  anon: {build: .}
"""


async def test_up_pulls_what_each_policy_says(tmp_path: Path,
                                              autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, COMPOSE)
    remote = {"reg.test/web:1", "reg.test/db:1", "reg.test/cache:1"}
    eng = Registry(autojump_clock, remote, {"reg.test/web:1": "w", "reg.test/cache:1": "c",
                                            "reg.test/local:1": "l", "reg.test/built:1": "b",
                                            "demo-anon": "a"})
    eng.moved["reg.test/cache:1"] = (NOW - timedelta(hours=30)).isoformat()
    progress = Progress()
    pulled = await PL.ensure_images(p, eng, ["web", "db", "cache", "twin", "local", "built",
                                             "anon"], None, progress, now=NOW)
    assert sorted(pulled) == ["reg.test/cache:1", "reg.test/db:1"]
    eng.pulled.clear()
    assert await PL.ensure_images(p, eng, ["web", "db"], "never", progress, now=NOW) == []
    assert await PL.ensure_images(p, eng, ["web", "twin"], "always", progress, now=NOW) == \
        ["reg.test/web:1"]  # one image, pulled once for both services
    assert eng.pulled == ["reg.test/web:1"]


async def test_pull_command_skips_and_warns(tmp_path: Path,
                                            autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, COMPOSE)
    eng = Registry(autojump_clock, {"reg.test/web:1", "reg.test/db:1", "reg.test/cache:1"},
                   {"reg.test/local:1": "l"})
    progress = Progress()
    pulled = await PL.pull(p, eng, PL.PullOptions(), progress)
    assert sorted(pulled) == ["reg.test/built:1", "reg.test/cache:1", "reg.test/db:1",
                              "reg.test/web:1"]
    text = "\n".join(progress.lines)
    assert "Image reg.test/local:1" in text and "Skipped - pull_policy: never" in text
    assert "it can be built" in text and "pycompose build built" in text

    eng.pulled.clear()
    await PL.pull(p, eng, PL.PullOptions(ignore_buildable=True, services=["built", "web"]),
                  Progress())
    assert eng.pulled == ["reg.test/web:1"]

    bad = project(tmp_path, 'services:\n  x: {image: "reg.test/missing:1"}\n')
    progress = Progress()
    with pytest.raises(ComposeError, match=r"service x: manifest reg.test/missing:1: not found"):
        await PL.pull(bad, eng, PL.PullOptions(), progress)
    # the image's line says why, once ("Error Error" said nothing)
    assert any("reg.test/missing:1" in line and "not found" in line and
               "Error Error" not in line for line in progress.lines), progress.lines
    progress = Progress()
    await PL.pull(bad, eng, PL.PullOptions(ignore_failures=True), progress)
    assert any(line.startswith("WARN: pull of reg.test/missing:1 for x failed")
               for line in progress.lines)


async def test_up_runs_the_pull_first_and_push_sends_built_images(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, 'services:\n  web: {image: "reg.test/web:1"}\n')
    eng = Registry(autojump_clock, {"reg.test/web:1"}, {})
    await O.up(p, eng, O.UpOptions())
    assert eng.pulled == ["reg.test/web:1"]
    assert [op for op in eng.ops("create")] == [("create", "demo-web-1")]

    p2 = project(tmp_path, COMPOSE)
    res = await PL.push(p2, eng, PL.PushOptions(), Progress())
    assert eng.pushed == ["reg.test/built:1"] and res[0].bytes_sent == 100


@pytest.mark.parametrize(("build", "present", "building"), [
    ("missing", False, True), ("always", True, True),
    ("never", False, False), ("missing", True, False)])
async def test_a_failed_pull_of_a_buildable_image_says_what_up_will_do(
        tmp_path: Path, autojump_clock: trio.testing.MockClock, build: str, present: bool,
        building: bool) -> None:
    """``up --no-build`` (or an image already here) builds nothing: the warning then
    says how to build, not that it is building."""
    p = project(tmp_path, 'services:\n  app: {build: ., image: "reg.test/gone:1"}\n')
    eng = Registry(autojump_clock, set(), {"reg.test/gone:1": "g"} if present else {})
    progress = Progress()
    await PL.ensure_images(p, eng, ["app"], "always", progress, build=build, now=NOW)
    text = "\n".join(progress.lines)
    assert "it can be built" in text
    assert (": building it" in text) is building
    assert ("pycompose build app" in text) is not building
