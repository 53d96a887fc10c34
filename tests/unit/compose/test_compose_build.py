"""Compose's ``build:`` as the engine's build request, and which services ``up`` builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycompose.compose import build as B
from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate


def project(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ=environ or {},
                                     project_name="demo")))


def test_string_build_is_the_context_and_the_image_is_project_service(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  web:\n    build: ./app\n")
    req = B.to_request(p, "web", p.services["web"], B.BuildOptions(environ={}))
    assert req.context == tmp_path / "app"
    assert req.dockerfile == tmp_path / "app" / "Dockerfile"
    assert req.tags == ["demo-web"]
    assert req.network == "default" and not req.no_cache


def test_every_build_key(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    p = project(tmp_path, """\
services:
  api:
    image: registry.example/api:2
    build:
      context: src
      dockerfile: docker/api.Dockerfile
      args: {A: "1", FROM_ENV: null}
      target: prod
      labels: {org.example: "yes"}
      tags: ["api:extra"]
      no_cache: true
      pull: true
      network: host
      shm_size: 128m
      extra_hosts: ["db:10.0.0.5"]
      secrets: [tok, envtok]
      additional_contexts: {assets: ./assets}
      cache_from: ["api:cache"]
secrets:
  tok: {file: ./token}
  envtok: {environment: MY_TOKEN}
""", environ={"FROM_ENV": "e", "MY_TOKEN": "secret"})
    req = B.to_request(p, "api", p.services["api"], B.BuildOptions(
        build_args={"A": "cli"}, environ={"FROM_ENV": "e", "MY_TOKEN": "secret"}))
    assert req.context == tmp_path / "src"
    assert req.dockerfile == tmp_path / "src" / "docker" / "api.Dockerfile"
    assert req.tags == ["registry.example/api:2", "api:extra"]  # image: names the build
    assert req.build_args == {"A": "cli", "FROM_ENV": "e"}
    assert (req.target, req.network, req.shm_size) == ("prod", "host", 128 * 1024 * 1024)
    assert req.labels == {"org.example": "yes"} and req.no_cache and req.pull
    assert req.extra_hosts == ["db:10.0.0.5"] and req.cache_from == ["api:cache"]
    assert [s.id for s in req.secrets] == ["tok", "envtok"]
    assert req.secrets[0].path == str(tmp_path / "token")
    assert req.secrets[1].read() == b"secret"
    assert req.additional_contexts == {"assets": tmp_path / "assets"}


def test_dockerfile_inline(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  x:\n    build:\n      dockerfile_inline: |\n"
                          "        FROM busybox\n        RUN true\n")
    req = B.to_request(p, "x", p.services["x"], B.BuildOptions(environ={}))
    assert req.dockerfile_text == "FROM busybox\nRUN true\n"
    assert req.context == tmp_path  # no context: the project directory


def test_refused_builds_name_the_key(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  x:\n    build:\n      context: "
                          "https://github.com/x/y.git\n")
    with pytest.raises(ComposeError, match=r"services.x.build.*remote contexts"):
        B.to_request(p, "x", p.services["x"], B.BuildOptions(environ={}))
    p = project(tmp_path, "services:\n  x:\n    build:\n      context: .\n"
                          "      secrets: [nope]\n")
    with pytest.raises(ComposeError, match="secret 'nope' is not declared"):
        B.to_request(p, "x", p.services["x"], B.BuildOptions(environ={}))


def test_which_services_up_builds(tmp_path: Path) -> None:
    p = project(tmp_path, """\
services:
  built: {build: .}
  always: {build: ., pull_policy: build}
  named: {build: ., image: named:1}
  pulled: {image: busybox}
""")
    names = ["built", "always", "named", "pulled"]
    none = dict.fromkeys(["demo-built", "demo-always", "named:1", "busybox"])
    assert B.plan_builds(p, names, none) == ["built", "always", "named"]
    have = {"demo-built": "sha256:1", "demo-always": "sha256:2", "named:1": "sha256:3",
            "busybox": "sha256:4"}
    assert B.plan_builds(p, names, have) == ["always"]  # pull_policy: build
    assert B.plan_builds(p, names, have, B.ALWAYS) == ["built", "always", "named"]
    assert B.plan_builds(p, names, none, B.NEVER) == []
