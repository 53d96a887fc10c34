"""``pycompose config``: the canonical project in docker compose's shape, and the CLI's
list options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pycompose.cli import main
from pycompose.compose import render
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate
from pycompose.compose.yamlsrc import load_yaml, plain

TEXT = """
x-common: &common {image: busybox}
services:
  web:
    <<: *common
    build: ./app
    ports: ["127.0.0.1:8080:80"]
    volumes: ["./data:/data", "cache:/cache"]
    environment: {Z: last, A: first}
    depends_on: [db]
    healthcheck: {test: [CMD, true], interval: 90s}
    mem_limit: 1g
    x-note: kept
  db:
    image: postgres
    networks: [back]
    profiles: [db]
  tool:
    image: tool
    profiles: [tools]
networks:
  back:
  outside: {external: true}
volumes:
  cache:
secrets:
  token: {file: ./token.txt}
x-top: {a: 1}
"""


def project_of(tmp_path: Path, profiles: tuple[str, ...] = ("db",)) -> Project:
    (tmp_path / "compose.yaml").write_text(TEXT)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, profiles=profiles,
                                     project_name="demo")))


def test_shape_and_order_of_config(tmp_path: Path) -> None:
    data = render.project_dict(project_of(tmp_path))
    assert list(data) == ["name", "services", "networks", "volumes", "secrets", "x-common",
                          "x-top"]
    assert data["name"] == "demo"
    assert list(data["services"]) == ["db", "web"]
    web = data["services"]["web"]
    assert list(web) == ["build", "depends_on", "environment", "healthcheck", "image",
                         "mem_limit", "networks", "ports", "volumes", "x-note"]
    assert web["build"] == {"context": str(tmp_path / "app"), "dockerfile": "Dockerfile"}
    assert web["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert list(web["environment"]) == ["A", "Z"]
    assert web["healthcheck"] == {"interval": "1m30s", "test": ["CMD", "true"]}
    assert web["mem_limit"] == "1073741824"
    assert web["networks"] == {"default": None}
    assert web["ports"] == [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80,
                             "published": "8080", "protocol": "tcp"}]
    assert web["volumes"] == [
        {"type": "bind", "source": str(tmp_path / "data"), "target": "/data",
         "bind": {}},
        {"type": "volume", "source": "cache", "target": "/cache", "volume": {}}]
    assert data["services"]["db"]["networks"] == {"back": None}
    assert data["networks"] == {"back": {"name": "demo_back"},
                                "default": {"name": "demo_default"},
                                "outside": {"name": "outside", "external": True}}
    assert data["volumes"] == {"cache": {"name": "demo_cache"}}
    assert data["secrets"] == {"token": {"name": "demo_token",
                                         "file": str(tmp_path / "token.txt")}}
    assert data["x-top"] == {"a": 1}


def test_yaml_and_json_say_the_same(tmp_path: Path) -> None:
    data = render.project_dict(project_of(tmp_path))
    assert yaml.safe_load(render.to_yaml(data)) == data
    assert json.loads(render.to_json(data)) == data


def test_hash_changes_with_the_container_not_with_scale(tmp_path: Path) -> None:
    p = project_of(tmp_path)
    before = render.service_hash(p, "web")
    assert len(before) == 64
    p.services["web"].scale = 3
    assert render.service_hash(p, "web") == before
    p.services["web"].image = "other"
    assert render.service_hash(p, "web") != before


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "compose.yaml").write_text(TEXT.replace("depends_on: [db]", ""))
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("COMPOSE_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize(("argv", "out"), [
    (["config", "--services"], "web\n"),
    (["--profile", "db", "config", "--services"], "db\nweb\n"),
    (["config", "--volumes"], "cache\n"),
    (["config", "--profiles"], "db\ntools\n"),
    (["--profile", "*", "config", "--images"], "postgres\ntool\nbusybox\n"),
    # what no enabled service uses is left out, as docker compose leaves it out
    (["-p", "demo", "config", "--networks"], "default\n"),
    (["-p", "demo", "--all-resources", "config", "--networks"], "back\ndefault\noutside\n"),
    (["--profile", "db", "config", "--networks"], "back\ndefault\n"),
    (["config", "-q"], ""),
])
def test_cli_lists(in_project: Path, capsys: pytest.CaptureFixture[str],
                   argv: list[str], out: str) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out == out


def test_cli_prints_yaml_and_json(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-p", "demo", "config"]) == 0
    as_yaml = yaml.safe_load(capsys.readouterr().out)
    assert main(["-p", "demo", "config", "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    # the JSON has what Go's encoding/json cannot omit (command/entrypoint null,
    # ipam {}) and no x-* below the top level; the rest is the same document
    for svc in as_json["services"].values():
        assert svc.pop("command", None) is None or "command" in as_yaml["services"]
        svc.pop("entrypoint", None)
    for net in as_json["networks"].values():
        assert net.pop("ipam") == {}
    for svc in as_yaml["services"].values():
        for k in [k for k in svc if k.startswith("x-")]:
            del svc[k]
    assert as_json == as_yaml
    assert as_yaml["name"] == "demo"


def test_cli_hash(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--hash", "*"]) == 0
    name, digest = capsys.readouterr().out.split()
    assert name == "web" and len(digest) == 64
    assert main(["config", "--hash", "nope"]) == 1
    assert "no such service: nope" in capsys.readouterr().err


def test_cli_error_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: a\n"
                                           "    ports: ['99999:80']\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: compose.yaml:4:13: services.web.ports[0]: published port 99999 "
                   "is out of range: expected a port number 0-65535\n")


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(), st.sampled_from(["yes", "No", "on", "null", "~", "1:20", "0x1F", ".5", "1e3",
                                "a: b", "a #b", "- x", "*x", "&x", "!x", "", " x", "x ",
                                "10.0.0.1", "::1", "y", "=", "<<"]))


@settings(max_examples=int(os.environ.get("PYCOMPOSE_FUZZ_EXAMPLES", "300")), deadline=None)
@given(data=st.recursive(_SCALARS, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=30))
def test_yaml_emitter_reads_back_as_the_same_data(data: object) -> None:
    # read back as pycompose (and go-yaml) read YAML: 1.2 scalars ("=" and "1e+21" are
    # a string and a float, not YAML 1.1's value tag and a string)
    assert plain(load_yaml(render.to_yaml(data), "out.yaml")) == data


def test_cli_no_interpolate_and_output_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: 'nginx:${TAG:-1}'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAG", raising=False)
    assert main(["config", "--no-interpolate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["services"]["web"]["image"] == "nginx:${TAG:-1}"
    assert main(["config", "-o", "out/config.yaml"]) == 0
    assert capsys.readouterr().out == ""
    written = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert written["services"]["web"]["image"] == "nginx:1"
