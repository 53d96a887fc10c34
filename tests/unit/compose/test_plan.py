"""``up``/``down`` decided as data: golden plans from a project and what runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pycompose.compose import translate as T
from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate
from pycompose.compose.observed import Observed, ObservedContainer
from pycompose.compose.plan import UpOptions, plan_down, plan_start, plan_up
from pycompose.engine.api import Health, NetworkInfo, Status


def project(tmp_path: Path, text: str, profiles: tuple[str, ...] = ()) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo",
                                     profiles=list(profiles))))


def running(p: Project, service: str, number: int = 1, *, status: Status = Status.RUNNING,
            hash_: str | None = None, image_id: str = "sha256:1", network_mode: str = "",
            oneoff: bool = False) -> ObservedContainer:
    svc = p.all_services().get(service)
    name = T.container_name(p, service, svc, number) if svc else f"demo-{service}-{number}"
    volumes = tuple(sorted({T.volume_name(p, m.source) for m in (svc.volumes if svc else [])
                            or [] if m.type == "volume" and m.source}))
    return ObservedContainer(
        id=f"id-{service}-{number}", name=name, service=service, number=number, oneoff=oneoff,
        config_hash=hash_ if hash_ is not None else
        (T.config_hash(p, service) if svc else "x"), image_id=image_id, status=status,
        exit_code=0, health=Health.NONE, has_healthcheck=False, network_mode=network_mode,
        volumes=volumes)


def net(name: str, subnet: str = "172.30.0.0/16", labels: dict[str, str] | None = None
        ) -> NetworkInfo:
    return NetworkInfo(name, name + "-id", "demo", subnet, "172.30.0.1", False,
                       labels or {}, ())


STACK = """
services:
  db:
    image: postgres
    volumes: [data:/var/lib/db]
    healthcheck: {test: ["CMD", "true"]}
  web:
    image: web
    depends_on: {db: {condition: service_healthy}}
    ports: ["8080:80"]
  worker:
    image: web
    depends_on: [db]
volumes:
  data: {}
"""


def test_a_fresh_project_creates_everything_then_starts_by_condition(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    plan = plan_up(p, Observed("demo"), UpOptions())
    assert str(plan) == """\
network demo_default: create (missing)
volume demo_data: create (missing)
container demo-db-1: create (missing) then start
container demo-web-1: create (missing) then start after db:service_healthy
container demo-worker-1: create (missing) then start after db:service_started"""
    assert plan.levels == [["db"], ["web", "worker"]]


def test_nothing_changed_keeps_every_container(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    obs = Observed("demo", [running(p, s) for s in ("db", "web", "worker")],
                   networks={"demo_default": net("demo_default")}, volumes={"demo_data"})
    assert str(plan_up(p, obs, UpOptions(no_start=True))) == """\
network demo_default: keep
volume demo_data: keep
container demo-db-1: keep (running, up to date)
container demo-web-1: keep (running, up to date)
container demo-worker-1: keep (running, up to date)"""


def test_recreate_causes(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    obs = Observed("demo", [running(p, "db", hash_="old"), running(p, "web"),
                            running(p, "worker", image_id="sha256:old")],
                   networks={"demo_default": net("demo_default")}, volumes={"demo_data"},
                   images={"web": "sha256:new", "postgres": "sha256:1"})
    plan = plan_up(p, obs, UpOptions(no_start=True))
    lines = str(plan).splitlines()
    assert "container demo-db-1: recreate (config changed)" in lines
    assert "container demo-worker-1: recreate (image changed)" in lines
    assert "container demo-web-1: recreate (image changed)" in lines  # web:1 != new
    assert "container demo-db-1: keep (running, up to date)" in str(
        plan_up(p, obs, UpOptions(no_start=True, no_recreate=True)))
    forced = plan_up(p, dataclasses.replace(obs, images={}), UpOptions(force_recreate=True))
    assert all("recreate (--force-recreate)" in line for line in str(forced).splitlines()
               if line.startswith("container"))


def test_scale_up_and_down(tmp_path: Path) -> None:
    p = project(tmp_path, "services: {w: {image: x, scale: 2}}")
    obs = Observed("demo", [running(p, "w", n) for n in (1, 2, 3, 4)],
                   networks={"demo_default": net("demo_default")})
    assert str(plan_up(p, obs, UpOptions(no_start=True, scale={"w": 3}))).splitlines()[1:] == [
        "container demo-w-1: keep (running, up to date)",
        "container demo-w-2: keep (running, up to date)",
        "container demo-w-3: keep (running, up to date)",
        "container demo-w-4: remove (scaled down)"]
    up = plan_up(p, Observed("demo"), UpOptions(no_start=True))
    assert [s.name for s in up.services["w"].steps] == ["demo-w-1", "demo-w-2"]


def test_orphans_warn_or_go(tmp_path: Path) -> None:
    p = project(tmp_path, "services: {a: {image: x}}")
    obs = Observed("demo", [running(p, "a"), running(p, "gone")])
    assert plan_up(p, obs, UpOptions()).warnings == [
        "found orphan containers (demo-gone-1) for this project; run with --remove-orphans "
        "to clean them up"]
    assert "container demo-gone-1: remove (orphan)" in str(
        plan_up(p, obs, UpOptions(remove_orphans=True)))


def test_network_mode_service_orders_and_follows_its_donor(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  app: {image: x, network_mode: "service:db"}
  db: {image: y}
""")
    plan = plan_up(p, Observed("demo"), UpOptions())
    assert plan.levels == [["db"], ["app"]]
    assert "after db:service_started" in str(plan)
    obs = Observed("demo", [running(p, "db", hash_="old"),
                            running(p, "app", network_mode="container:id-db-1")],
                   networks={"demo_default": net("demo_default")})
    lines = str(plan_up(p, obs, UpOptions(no_start=True))).splitlines()
    assert "container demo-app-1: recreate (the container whose network it joins (db) is " \
           "recreated)" in lines
    gone = Observed("demo", [running(p, "app", network_mode="container:vanished")],
                    networks={"demo_default": net("demo_default")})
    assert "container demo-app-1: recreate (the container whose network it joined is gone)" \
        in str(plan_up(p, gone, UpOptions(no_start=True)))


def test_a_recreated_dependency_restarts_dependants_that_ask(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  db: {image: y}
  web: {image: x, depends_on: {db: {condition: service_started, restart: true}}}
  cron: {image: x, depends_on: [db]}
""")
    obs = Observed("demo", [running(p, "db", hash_="old"), running(p, "web"),
                            running(p, "cron")], networks={"demo_default": net("demo_default")})
    plan = plan_up(p, obs, UpOptions())
    assert plan.services["db"].restarts == ["web"]
    assert "service web: restart (its dependency db was recreated)" in str(plan)


def test_naming_a_service_of_an_inactive_profile_enables_it_and_its_deps(
        tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  db: {image: y, profiles: [debug]}
  foo: {image: x, profiles: [debug], depends_on: [db]}
  other: {image: z}
""")
    plan = plan_up(p, Observed("demo"), UpOptions(services=["foo"]))
    assert plan.order() == ["db", "foo"]
    with pytest.raises(ComposeError, match="no such service: nope"):
        plan_up(p, Observed("demo"), UpOptions(services=["nope"]))


def test_no_deps_touches_nothing_but_the_named_service(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    obs = Observed("demo", [running(p, "db", hash_="old")],
                   networks={"demo_default": net("demo_default")}, volumes={"demo_data"})
    plan = plan_up(p, obs, UpOptions(services=["web"], no_deps=True))
    assert plan.order() == ["web"]
    assert str(plan).splitlines()[-1] == "container demo-web-1: create (missing) then start"


def test_external_resources_must_exist(tmp_path: Path) -> None:
    p = project(tmp_path, """
services: {a: {image: x, networks: [shared]}}
networks: {shared: {external: true}}
""")
    with pytest.raises(ComposeError, match="network shared declared as external"):
        plan_up(p, Observed("demo"), UpOptions())
    plan = plan_up(p, Observed("demo", networks={"shared": net("shared")}), UpOptions())
    assert str(plan).splitlines()[0] == "network shared: external"


def test_a_changed_subnet_recreates_the_network_and_its_containers(tmp_path: Path) -> None:
    p = project(tmp_path, """
services: {a: {image: x, networks: [front]}}
networks: {front: {ipam: {config: [{subnet: 172.31.0.0/24}]}}}
""")
    obs = Observed("demo", [running(p, "a")],
                   networks={"demo_front": net("demo_front", "172.30.5.0/24")})
    lines = str(plan_up(p, obs, UpOptions(no_start=True))).splitlines()
    assert lines == ["network demo_front: recreate (subnet 172.30.5.0/24 -> 172.31.0.0/24)",
                     "container demo-a-1: recreate (its network is recreated)"]


def test_down_stops_dependants_first_each_level_in_parallel(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    obs = Observed("demo", [running(p, s) for s in ("db", "web", "worker")]
                   + [running(p, "web", 2, status=Status.EXITED), running(p, "old")],
                   networks={"demo_default": net("demo_default")}, volumes={"demo_data"})
    plan = plan_down(p, obs, volumes=True, remove_orphans=True)
    assert str(plan) == """\
stop wave 1: demo-old-1
stop wave 2: demo-web-1, demo-worker-1
stop wave 3: demo-db-1
container demo-db-1: remove
container demo-web-1: remove
container demo-worker-1: remove
container demo-web-2: remove
container demo-old-1: remove
network demo_default: remove
volume demo_data: remove"""
    kept = plan_down(p, obs)
    assert kept.keep_wiring and kept.warnings and kept.volumes == []


def test_ten_independent_services_stop_in_one_wave(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n" + "".join(f"  s{i}: {{image: x}}\n" for i in range(10)))
    obs = Observed("demo", [running(p, f"s{i}") for i in range(10)])
    assert len(plan_down(p, obs).stop_waves) == 1


def test_start_takes_the_dependency_chain(tmp_path: Path) -> None:
    p = project(tmp_path, STACK)
    obs = Observed("demo", [running(p, s, status=Status.EXITED)
                            for s in ("db", "web", "worker")])
    plan = plan_start(p, obs, ["web"])
    assert plan.order() == ["db", "web"]
    with pytest.raises(ComposeError, match="no container to start"):
        plan_start(p, Observed("demo"), ["web"])


def test_an_external_volume_renamed_recreates_its_users(tmp_path: Path) -> None:
    """Drift the config hash cannot see: the files now name another volume (#9)."""
    p = project(tmp_path, """
services: {a: {image: x, volumes: [data:/data]}}
volumes: {data: {external: true, name: v2}}
""")
    old = dataclasses.replace(running(p, "a"), volumes=("v1",))
    obs = Observed("demo", [old], networks={"demo_default": net("demo_default")},
                   volumes={"v2"})
    assert "container demo-a-1: recreate (its volumes changed (v1 -> v2))" in str(
        plan_up(p, obs, UpOptions(no_start=True)))
    same = dataclasses.replace(old, volumes=("v2",))
    assert "keep" in str(plan_up(p, dataclasses.replace(obs, containers=[same]),
                                 UpOptions(no_start=True))).splitlines()[-1]


@pytest.mark.parametrize(("text", "message"), [
    ("services: {web: {image: a, container_name: xx, scale: 2}}",
     "container names must be unique"),
    ("services: {a: {image: a, container_name: xx}, b: {image: a, container_name: xx}}",
     "both use container_name 'xx'"),
])
def test_clashing_container_names_stop_up_but_not_down(tmp_path: Path, text: str,
                                                        message: str) -> None:
    p = project(tmp_path, text)  # loading is fine: down and config must still work
    with pytest.raises(ComposeError, match=message) as e:
        plan_up(p, Observed("demo"), UpOptions())
    assert e.value.file == "compose.yaml" and e.value.line == 1
    plan_down(p, Observed("demo"))


def test_start_interval_needs_a_start_period_at_up(tmp_path: Path) -> None:
    """docker compose's check: config prints such a file, up refuses it."""
    p = project(tmp_path, "services:\n  web:\n    image: a\n"
                          "    healthcheck: {test: [CMD, 'true'], start_interval: 1s}\n")
    with pytest.raises(ComposeError, match="healthcheck.start_interval requires "
                                           "healthcheck.start_period to be set") as e:
        plan_up(p, Observed("demo"), UpOptions())
    assert e.value.line == 4
    ok = project(tmp_path, "services:\n  web:\n    image: a\n    healthcheck: "
                           "{test: [CMD, 'true'], start_period: 5s, start_interval: 1s}\n")
    plan_up(ok, Observed("demo"), UpOptions())
