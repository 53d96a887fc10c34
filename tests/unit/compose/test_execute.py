"""Carrying out ``up``/``down``/``start``/``restart`` on a fake engine under trio's
virtual clock: conditions, failures, ordering and parallel stops, without root."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from pctest.fake_engine import FakeEngine, Script

from pycompose.compose import orchestrate as O
from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate
from pycompose.engine.api import NotFound, SetupFailed


def project(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo")))


CHAIN = """
services:
  a: {image: x, healthcheck: {test: ["CMD", "true"], interval: 1s}}
  b: {image: x, healthcheck: {test: ["CMD", "true"]}, depends_on: {a: {condition: service_healthy}}}
  c: {image: x, depends_on: {b: {condition: service_healthy}}}
"""


async def test_every_container_is_created_before_any_starts_then_by_condition(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, CHAIN)
    fake = FakeEngine(autojump_clock, {"a": Script(healthy_after=3), "b": Script(healthy_after=2)})
    t0 = trio.current_time()
    out = await O.up(p, fake, O.UpOptions())
    ops = [op for op in fake.ops("create", "start")]
    assert ops == [("create", "demo-a-1"), ("create", "demo-b-1"), ("create", "demo-c-1"),
                   ("start", "demo-a-1"), ("start", "demo-b-1"), ("start", "demo-c-1")]
    assert 5 <= trio.current_time() - t0 < 6  # a healthy at 3 s, then b at 2 s more
    assert set(out.ids) == {"a", "b", "c"}


async def test_a_failed_dependency_reports_its_exit_and_leaves_dependants_created(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, CHAIN)
    fake = FakeEngine(autojump_clock, {"a": Script(exit_after=0.5, exit_code=1)})
    with pytest.raises(BaseExceptionGroup) as e:
        await O.up(p, fake, O.UpOptions())
    messages = [str(x) for x in e.value.exceptions]
    assert any("container demo-a-1 exited (1)" in m for m in messages)
    assert ("start", "demo-b-1") not in fake.calls
    assert {b.name: b.status for b in fake.boxes.values()} == {
        "demo-a-1": "exited", "demo-b-1": "created", "demo-c-1": "created"}


async def test_a_dependency_that_is_not_required_is_only_a_warning(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, """
services:
  a: {image: x, healthcheck: {test: ["CMD", "true"]}}
  b: {image: x, depends_on: {a: {condition: service_healthy, required: false}}}
""")
    fake = FakeEngine(autojump_clock, {"a": Script(unhealthy_after=1)})
    progress = O.Progress()
    await O.up(p, fake, O.UpOptions(), progress)
    assert ("start", "demo-b-1") in fake.calls
    assert any("is unhealthy (not required: going on)" in line for line in progress.lines)


async def test_init_containers_complete_before_their_dependants(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, """
services:
  migrate: {image: x}
  web: {image: x, depends_on: {migrate: {condition: service_completed_successfully}}}
""")
    fake = FakeEngine(autojump_clock, {"migrate": Script(exit_after=2)})
    await O.up(p, fake, O.UpOptions(wait=True))
    assert fake.ops("wait", "start")[-2:] == [("wait", "demo-migrate-1"), ("start", "demo-web-1")]
    bad = FakeEngine(autojump_clock, {"migrate": Script(exit_after=2, exit_code=3)})
    with pytest.raises(BaseExceptionGroup) as e:
        await O.up(p, bad, O.UpOptions())
    assert [str(x) for x in e.value.exceptions] == [
        "service 'migrate' didn't complete successfully: exit 3"]


async def test_up_again_keeps_what_runs_and_wait_times_out_on_virtual_time(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, "services: {a: {image: x, healthcheck: {test: ['CMD', 'true']}}}")
    fake = FakeEngine(autojump_clock)  # never healthy
    with pytest.raises(ComposeError, match="after 30 s"):
        await O.up(p, fake, O.UpOptions(wait=True, wait_timeout=30))
    fake.calls.clear()
    await O.up(p, fake, O.UpOptions())
    assert fake.ops("create", "start", "remove") == []  # kept, running


async def test_an_engine_error_names_the_service_and_keeps_its_kind(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, "services: {a: {image: x}}")
    fake = FakeEngine(autojump_clock, {"a": Script(start_error=SetupFailed("mount x: no"))})
    with pytest.raises(BaseExceptionGroup) as e:
        await O.up(p, fake, O.UpOptions())
    (err,) = e.value.exceptions
    assert isinstance(err, SetupFailed) and str(err) == "service 'a': mount x: no"


async def test_down_succeeds_when_a_container_vanished_behind_its_back(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, "services: {a: {image: x}, b: {image: x}}")
    fake = FakeEngine(autojump_clock)
    await O.up(p, fake, O.UpOptions())

    original = fake.stop

    def vanish(ref: str, timeout: float | None = None, signal: str | None = None) -> str:
        box = fake._box(ref)
        if box.name == "demo-a-1":  # removed by another terminal between list and stop
            del fake.boxes[box.id]
            raise NotFound(f"No such container: {ref}")
        return original(ref, timeout, signal)

    fake.stop = vanish  # type: ignore[method-assign]
    await O.down(p, fake)
    assert fake.boxes == {} and fake._networks.nets == {}


async def test_down_stops_ten_independent_services_in_parallel(tmp_path: Path) -> None:
    import threading

    p = project(tmp_path, "services:\n" + "".join(f"  s{i}: {{image: x}}\n" for i in range(10)))

    class Barrier(FakeEngine):
        """Each stop waits until all ten have begun: one after another never gets there."""

        entered = 0
        all_in = threading.Event()

        def stop(self, ref: str, timeout: float | None = None, signal: str | None = None
                 ) -> str:
            with self._lock:
                Barrier.entered += 1
                if Barrier.entered == 10:
                    Barrier.all_in.set()
            assert Barrier.all_in.wait(timeout=20), "the stops ran one after another"
            return super().stop(ref, timeout, signal)

    fake = Barrier(trio.testing.MockClock())
    await O.up(p, fake, O.UpOptions())
    await O.down(p, fake)
    assert Barrier.entered == 10 and fake.boxes == {}


async def test_start_brings_up_the_dependency_chain(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, CHAIN)
    fake = FakeEngine(autojump_clock, {"a": Script(healthy_after=1),
                                       "b": Script(healthy_after=1)})
    await O.up(p, fake, O.UpOptions(no_start=True))
    await O.start(p, fake, ["c"])
    assert [t for op, t in fake.calls if op == "start"] == ["demo-a-1", "demo-b-1", "demo-c-1"]


async def test_restart_takes_dependants_along_unless_no_deps(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, """
services:
  db: {image: x}
  web: {image: x, depends_on: [db]}
""")
    fake = FakeEngine(autojump_clock)
    await O.up(p, fake, O.UpOptions())
    fake.calls.clear()
    await O.restart(p, fake, ["db"])
    assert fake.ops("stop", "start") == [("stop", "demo-web-1"), ("stop", "demo-db-1"),
                                         ("start", "demo-db-1"), ("start", "demo-web-1")]
    fake.calls.clear()
    await O.restart(p, fake, ["db"], no_deps=True)
    assert fake.ops("stop", "start") == [("stop", "demo-db-1"), ("start", "demo-db-1")]


async def test_ps_of_an_unknown_service_fails(tmp_path: Path,
                                              autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, "services: {a: {image: x}}")
    with pytest.raises(ComposeError, match="no such service: unknown"):
        O.container_rows(p, FakeEngine(autojump_clock), services=["unknown"])


async def test_verbs_act_only_on_the_loaded_files_services(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """``-f compose.yaml stop`` leaves the project's containers of another file alone
    (issue 15 #8); ``ps`` still lists them (docker compose's --orphans)."""
    both = project(tmp_path, "services: {a: {image: x}, b: {image: x}}")
    fake = FakeEngine(autojump_clock)
    await O.up(both, fake, O.UpOptions())
    only_a = project(tmp_path, "services: {a: {image: x}}")
    fake.calls.clear()
    await O.stop(only_a, fake)
    assert fake.ops("stop") == [("stop", "demo-a-1")]
    assert [r.name for r in O.container_rows(only_a, fake, orphans=True)] == ["demo-b-1"]
    assert [r.name for r in O.container_rows(only_a, fake, all_=True)] == ["demo-a-1"]


async def test_up_scale_of_an_unknown_service_is_refused(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    p = project(tmp_path, CHAIN)
    with pytest.raises(ComposeError, match="no such service: typo"):
        await O.up(p, FakeEngine(autojump_clock), O.UpOptions(scale={"typo": 3}))
