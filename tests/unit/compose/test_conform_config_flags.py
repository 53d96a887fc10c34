"""``config``'s flags as docker compose v2 has them (``cmd/compose/config.go``) and
what its e2e tests expect of them: resources no service uses left out (unless
``--all-resources``), ``--no-consistency``, ``--no-env-resolution``, ``--models``,
and env files read only for the services a command works on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pycompose.cli import main


def run(project: Path, capsys: pytest.CaptureFixture[str], text: str,
        *argv: str) -> tuple[int, str, str]:
    (project / "compose.yaml").write_text(text)
    code = main(["-p", "t", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


UNUSED = """
services:
  web:
    image: nginx
    networks: [front]
    volumes: [data:/data]
    secrets: [token]
  host:
    image: busybox
    network_mode: host
networks:
  front: {}
  back: {}
volumes:
  data: {}
  scratch: {}
secrets:
  token: {file: ./token}
  other: {file: ./other}
configs:
  unused: {file: ./c}
"""


def test_resources_no_service_uses_are_left_out(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(project, capsys, UNUSED, "config")
    assert code == 0
    data = yaml.safe_load(out)
    assert list(data["networks"]) == ["front"]  # no default: nobody is on it
    assert list(data["volumes"]) == ["data"]
    assert list(data["secrets"]) == ["token"]
    assert "configs" not in data
    assert run(project, capsys, UNUSED, "config", "--volumes")[1] == "data\n"
    assert run(project, capsys, UNUSED, "config", "--networks")[1] == "front\n"


def test_all_resources_keeps_them(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(project, capsys, UNUSED, "--all-resources", "config")
    assert code == 0
    data = yaml.safe_load(out)
    assert sorted(data["networks"]) == ["back", "front"]
    assert sorted(data["volumes"]) == ["data", "scratch"]
    assert sorted(data["configs"]) == ["unused"]


def test_config_of_one_service_has_only_its_resources(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = UNUSED.replace("  host:\n", "  host:\n    volumes: [scratch:/s]\n")
    code, out, _ = run(project, capsys, text, "config", "host")
    assert code == 0
    data = yaml.safe_load(out)
    assert list(data["services"]) == ["host"]
    assert list(data["volumes"]) == ["scratch"]
    assert "networks" not in data and "secrets" not in data


INCOMPLETE = """
services:
  incomplete:
    volumes: [data:/data]
    networks: [internal]
    models: {llm: }
  gated:
    image: busybox
    profiles: [extra]
volumes:
  data: {}
networks:
  internal: {}
models:
  llm: {model: ai/example}
"""


def test_no_consistency_lists_what_a_check_would_refuse(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(project, capsys, INCOMPLETE, "config")
    assert code != 0 and "neither an image nor a build context" in err
    for flag, want in (("--services", "incomplete\n"), ("--volumes", "data\n"),
                       ("--networks", "internal\n"), ("--models", "ai/example\n")):
        code, out, err = run(project, capsys, INCOMPLETE, "config", "--no-consistency", flag)
        assert (code, out) == (0, want), err
    code, out, _ = run(project, capsys, INCOMPLETE, "--profile", "extra", "config",
                       "--no-consistency", "--services")
    assert out == "gated\nincomplete\n"


MISSING_ENV = """
services:
  a:
    image: busybox
  b:
    image: busybox
    env_file: /doesnotexist/.env
"""


def test_a_missing_env_file_fails_only_the_services_that_read_it(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(project, capsys, MISSING_ENV, "config")
    assert code != 0 and "env file /doesnotexist/.env not found" in err
    code, out, _ = run(project, capsys, MISSING_ENV, "config", "a")
    assert code == 0 and list(yaml.safe_load(out)["services"]) == ["a"]
    code, out, _ = run(project, capsys, MISSING_ENV, "config", "--hash", "a")
    assert code == 0 and out.startswith("a ")
    code, _, err = run(project, capsys, MISSING_ENV, "config", "--hash", "b")
    assert code != 0 and "env file /doesnotexist/.env not found" in err
    code, _, err = run(project, capsys, MISSING_ENV, "config", "--hash", "*")
    assert code != 0 and "env file /doesnotexist/.env not found" in err
    # listing names reads no env file at all, nor does --no-env-resolution
    assert run(project, capsys, MISSING_ENV, "config", "--services")[1] == "a\nb\n"
    code, _, _ = run(project, capsys, MISSING_ENV, "config", "--no-env-resolution",
                     "--hash", "b")
    assert code == 0


def test_no_env_resolution_keeps_env_file_in_the_model(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "app.env").write_text("FROM_FILE=1\n")
    text = """
services:
  a:
    image: busybox
    env_file: [app.env, {path: opt.env, required: false}]
    environment: [SHELL_ONLY]
"""
    code, out, _ = run(project, capsys, text, "config", "--no-env-resolution")
    assert code == 0
    a = yaml.safe_load(out)["services"]["a"]
    assert a["env_file"] == [{"path": str(project / "app.env")},
                             {"path": str(project / "opt.env"), "required": False}]
    assert a["environment"] == {"SHELL_ONLY": None}
    code, out, _ = run(project, capsys, text, "config")
    a = yaml.safe_load(out)["services"]["a"]
    assert "env_file" not in a and a["environment"] == {"FROM_FILE": "1", "SHELL_ONLY": None}


@pytest.mark.parametrize("flag", ["--no-normalize", "--no-path-resolution",
                                  "--resolve-image-digests", "--lock-image-digests"])
def test_flags_not_supported_yet_are_refused_by_name(
        flag: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(project, capsys, "services: {a: {image: busybox}}\n", "config", flag)
    assert code != 0
    assert f"config {flag} is not supported by pycompose yet" in err


def test_the_project_folders_env_is_read_after_the_one_that_chose_the_files(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """docker compose's e2e TestComposeFileSetByDotEnv: the working folder's .env names
    COMPOSE_FILE; the project folder's .env is read next, under it."""
    for k in ("IMAGE_NAME", "IMAGE_TAG"):
        monkeypatch.delenv(k, raising=False)
    (project / "development").mkdir()
    (project / ".env").write_text(
        'COMPOSE_FILE="${COMPOSE_FILE:-development/compose.yaml}"\nIMAGE_NAME=test\n'
        "COMPOSE_PROFILES=test\n")
    (project / "development" / ".env").write_text(
        'IMAGE_NAME="${IMAGE_NAME:-backend}"\nIMAGE_TAG="${IMAGE_TAG:-latest}"\n')
    (project / "development" / "compose.yaml").write_text(
        "services:\n  backend:\n    image: $IMAGE_NAME:$IMAGE_TAG\n"
        "  test:\n    profiles: [test]\n    image: enabled:profile\n")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "image: test:latest" in out and "image: enabled:profile" in out


def test_from_a_subfolder_both_env_files_are_read_the_working_folders_first(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """docker compose's e2e TestNestedDotEnv: compose.yaml is found in the parent."""
    for k in ("ROOT", "SUB", "WIN"):
        monkeypatch.delenv(k, raising=False)
    (project / "compose.yaml").write_text(
        "name: nested\nservices:\n  echo:\n    image: alpine\n"
        "    command: echo $ROOT $SUB win=$WIN\n")
    (project / ".env").write_text("ROOT=root\nWIN=root\n")
    (project / "sub").mkdir()
    (project / "sub" / ".env").write_text("SUB=sub\nWIN=sub\n")
    monkeypatch.chdir(project / "sub")
    assert main(["config"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["services"]["echo"]["command"] == ["echo", "root", "sub", "win=sub"]
    monkeypatch.chdir(project)
    assert main(["config"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["services"]["echo"]["command"] == ["echo", "root", "win=root"]
