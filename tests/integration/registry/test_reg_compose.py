"""A compose project's images: ``pull [SERVICE...]`` (skips, buildable warnings,
``--ignore-pull-failures``), ``up`` honouring each ``pull_policy`` and ``up --pull``,
and ``push`` of the services built here, against a real registry."""

from __future__ import annotations

from pathlib import Path

from pctest.cli import run
from pctest.registry import RegistryServer, ok
from pctest.stack import Stack

from pycompose.engine.images import ImageStore


def _project(stack: Stack, reg: str) -> None:
    stack.write(f"""
services:
  web:
    image: {reg}/proj/web:1
    command: ["sleep", "60"]
  db:
    image: {reg}/proj/db:1
    pull_policy: always
    command: ["sleep", "60"]
  local:
    image: {reg}/proj/local:1
    pull_policy: never
    command: ["sleep", "60"]
  app:
    build: .
    image: {reg}/proj/app:1
""")


def test_pull_up_and_push_a_project(busybox: Path, stack: Stack,
                                    registry: RegistryServer) -> None:
    reg = registry.host
    for n in ("web", "db"):
        ok(["image", "tag", "busybox", f"{reg}/proj/{n}:1"])
        ok(["image", "push", "-q", f"{reg}/proj/{n}:1"])
        ok(["image", "rm", f"{reg}/proj/{n}:1"])
    _project(stack, reg)
    (stack.folder / "Dockerfile").write_text("FROM busybox\n")

    r = stack("pull")
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert f"Image {reg}/proj/web:1" in err and "Pulled" in err
    assert f"Image {reg}/proj/local:1" in err and "Skipped - pull_policy: never" in err
    assert "it can be built" in err and "pycompose build app" in err  # a warning, exit 0
    store = ImageStore(busybox)
    assert store.resolve(f"{reg}/proj/web:1").id == store.resolve("busybox").id

    r = stack("pull", "--ignore-buildable", "web")
    assert r.returncode == 0 and "can be built" not in r.stderr

    # up: db (pull_policy: always) is pulled again, web (present) is not
    mark_db = len(registry.requests("GET", "/v2/proj/db/manifests/"))
    mark_web = len(registry.requests("GET", "/v2/proj/web/manifests/"))
    ok(["image", "tag", "busybox", f"{reg}/proj/local:1"])
    r = stack("up", "-d", "web", "db", "local")
    assert r.returncode == 0, r.stderr
    assert len(registry.requests("GET", "/v2/proj/db/manifests/")) == mark_db + 1
    assert len(registry.requests("GET", "/v2/proj/web/manifests/")) == mark_web
    # up --pull always pulls them all; --pull never none
    r = stack("up", "-d", "--pull", "always", "web", "db")
    assert r.returncode == 0, r.stderr
    assert len(registry.requests("GET", "/v2/proj/web/manifests/")) == mark_web + 1
    mark = len(registry.requests("GET", "/manifests/"))
    stack.ok("up", "-d", "--pull", "never", "web", "db")
    assert len(registry.requests("GET", "/manifests/")) == mark

    # push: only the service built here (build: + image:); its layer is already there
    ok(["image", "tag", "busybox", f"{reg}/proj/app:1"])
    r = stack("push")
    assert r.returncode == 0, r.stderr
    assert f"Image {reg}/proj/app:1" in r.stderr and "Pushed (0 of 1 layers sent" in r.stderr
    assert "proj/web" not in r.stderr
    assert registry.requests("PUT", "/v2/proj/app/manifests/1")


def test_pull_failures_name_the_service(busybox: Path, stack: Stack,
                                        registry: RegistryServer) -> None:
    stack.write(f"""
services:
  gone:
    image: {registry.host}/proj/nothing:1
""")
    r = stack("pull")
    assert r.returncode == 1
    assert f"service gone: {registry.host}: manifest proj/nothing:1: not found" in r.stderr
    r = stack("pull", "--ignore-pull-failures")
    assert r.returncode == 0 and "WARN: pull of" in r.stderr
    r = stack("up", "-d")
    assert r.returncode == 1 and "service gone" in r.stderr
    r = run(["-p", stack.name, "pull", "nosuch"], cwd=stack.folder)
    assert r.returncode == 1 and "no such service: nosuch" in r.stderr
