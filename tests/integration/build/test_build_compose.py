"""Compose builds: two ``build:`` services built at once and brought up; ``up`` builds
what is missing, ``--build`` and ``--no-build``, ``pull_policy: build``, ``down --rmi``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import Builder
from pctest.cli import run
from pctest.stack import Stack

from pycompose.engine.images import ImageStore

# each build waits (up to 60 s) for the other to have started: only parallel builds pass
MEET = """\
FROM busybox
ARG ME
ARG OTHER
RUN --mount=type=cache,target=/meet,id=compose-meet touch /meet/$ME && \\
    i=0; while [ ! -e /meet/$OTHER ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \\
    test -e /meet/$OTHER && echo "$ME built next to $OTHER" > /msg
CMD ["sh", "-c", "cat /msg && sleep 60"]
"""

COMPOSE = """\
services:
  web:
    build:
      context: ./web
      args: {ME: web, OTHER: api}
    depends_on: [api]
  api:
    build:
      context: ./api
      dockerfile: api.Dockerfile
      args: {ME: api, OTHER: web}
      labels: {org.example.service: api}
"""


@pytest.fixture
def project(builder: Builder, tmp_path: Path) -> Stack:
    folder = tmp_path / "project"
    (folder / "web").mkdir(parents=True)
    (folder / "api").mkdir()
    (folder / "web" / "Dockerfile").write_text(MEET)
    (folder / "api" / "api.Dockerfile").write_text(MEET)
    s = Stack(builder.root, folder, f"b{uuid.uuid4().hex[:6]}")
    s.write(COMPOSE)
    return s


def _down(s: Stack) -> None:
    s("down", "-v", "-t", "1", "--rmi", "local")


def test_two_build_services_are_built_in_parallel_and_brought_up(project: Stack) -> None:
    s = project
    try:
        r = s("build", timeout=240)
        assert r.returncode == 0, r.stderr
        store = ImageStore(s.root)
        web, api = store.resolve(f"{s.name}-web"), store.resolve(f"{s.name}-api")
        assert api.config["Labels"] == {"org.example.service": "api"}
        s.ok("up", "-d")
        import time

        deadline = time.monotonic() + 20
        out = ""
        while time.monotonic() < deadline:
            out = s("logs").stdout
            if "web built next to api" in out and "api built next to web" in out:
                break
            time.sleep(0.2)
        assert "web built next to api" in out and "api built next to web" in out
        # up again: nothing to build, nothing to recreate
        r = s("up", "-d")
        assert r.returncode == 0 and "Recreate" not in r.stderr
        assert store.resolve(f"{s.name}-web").id == web.id
    finally:
        _down(s)
    store = ImageStore(s.root)
    names = {t for im in store.images() for t in im.repo_tags}
    assert not any(s.name in n for n in names)  # --rmi local removed both


def test_up_builds_what_is_missing_and_obeys_build_flags(builder: Builder,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "p2"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM busybox\nARG N=1\nRUN echo v$N > /v\n"
                                       'CMD ["sh", "-c", "cat /v; sleep 60"]\n')
    s = Stack(builder.root, folder, f"m{uuid.uuid4().hex[:6]}")
    s.write("services:\n  app:\n    build: .\n  cached:\n    image: busybox\n"
            "    command: [sleep, '60']\n")
    try:
        r = s("run", "--rm", "app", "cat", "/v")  # run builds a missing image too
        assert r.returncode == 0 and r.stdout == "v1\n", r.stderr
        assert s("down", "--rmi", "local").returncode == 0
        r = s("up", "-d", "--no-build")
        assert r.returncode != 0  # the image is missing and must not be built
        r = s("up", "-d")
        assert r.returncode == 0, r.stderr
        assert "[2/4] ARG N=1" in r.stderr  # built as part of up
        store = ImageStore(s.root)
        first = store.resolve(f"{s.name}-app").id
        (folder / "Dockerfile").write_text("FROM busybox\nARG N=2\nRUN echo v$N > /v\n"
                                           'CMD ["sh", "-c", "cat /v; sleep 60"]\n')
        r = s("up", "-d")  # the image exists: not rebuilt without --build
        assert r.returncode == 0 and store.resolve(f"{s.name}-app").id == first
        r = s("up", "-d", "--build")
        assert r.returncode == 0, r.stderr
        second = store.resolve(f"{s.name}-app").id
        assert second != first and "Recreate" in r.stderr
        s.write("services:\n  app:\n    build: .\n    pull_policy: build\n")
        r = s("up", "-d", "--remove-orphans")
        assert r.returncode == 0 and "exporting to image" in r.stderr  # always built
    finally:
        s("down", "-v", "-t", "1", "--rmi", "all")
    assert not run(["container", "ls", "-aq"]).stdout.strip()
