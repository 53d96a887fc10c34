"""Finding, reading, interpolating and merging a project's files, as docker compose."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, RawProject, load, normalize_project_name
from pycompose.compose.yamlsrc import locate, plain


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def load_in(cwd: Path, *files: str, env: dict[str, str] | None = None, **kw: Any) -> RawProject:
    return load(LoadOptions(files=list(files), cwd=str(cwd), environ=env or {}, **kw))


# --- discovery ---------------------------------------------------------------------------


def test_finds_compose_yaml_and_its_override(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {image: a}}",
                     "compose.override.yaml": "services: {web: {image: b}}"})
    p = load_in(tmp_path)
    assert [Path(f).name for f in p.config_files] == ["compose.yaml", "compose.override.yaml"]
    assert plain(p.data)["services"]["web"]["image"] == "b"


def test_searches_parent_folders(tmp_path: Path) -> None:
    write(tmp_path, {"docker-compose.yml": "services: {web: {image: a}}"})
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    p = load_in(deep)
    assert p.working_dir == tmp_path


def test_warns_when_several_default_files_exist(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}", "docker-compose.yml": "services: {}"})
    p = load_in(tmp_path)
    assert p.config_files == [str(tmp_path / "compose.yaml")]
    assert any("multiple config files" in w for w in p.warnings)


def test_no_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no configuration file provided"):
        load_in(tmp_path)


def test_compose_file_variable(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "services: {web: {image: a}}",
                     "b.yml": "services: {web: {image: b}}"})
    p = load_in(tmp_path, env={"COMPOSE_FILE": "a.yml:b.yml"})
    assert plain(p.data)["services"]["web"]["image"] == "b"


def test_compose_file_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"x.yml": "services: {web: {image: x}}", ".env": "COMPOSE_FILE=x.yml"})
    assert plain(load_in(tmp_path).data)["services"]["web"]["image"] == "x"


def test_stdin(tmp_path: Path) -> None:
    p = load(LoadOptions(files=["-"], cwd=str(tmp_path), environ={"I": "img"},
                         stdin=lambda: "services: {web: {image: $I}}"))
    assert plain(p.data)["services"]["web"]["image"] == "img"
    assert p.working_dir == tmp_path and p.name == normalize_project_name(tmp_path.name)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"compose.yaml": ""}, "compose.yaml: empty compose file"),
        ({"compose.yaml": "- a\n- b\n"}, "compose.yaml:1:1: the top level of a compose file "
                                         "must be a mapping, found a list"),
        ({"compose.yaml": "services:\n  web: [\n"}, "compose.yaml:3:1: invalid YAML"),
        ({"compose.yaml": b"\xff\xfeservices".decode("latin-1")}, None),
    ],
)
def test_bad_files(tmp_path: Path, files: dict[str, str], message: str | None) -> None:
    if message is None:
        (tmp_path / "compose.yaml").write_bytes(b"services: {web: {image: \xff}}")
        message = "compose.yaml is not UTF-8 text"
    else:
        write(tmp_path, files)
    with pytest.raises(ComposeError) as e:
        load_in(tmp_path)
    assert message in str(e.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="compose file nope.yml not found"):
        load_in(tmp_path, "nope.yml")
    (tmp_path / "dir.yml").mkdir()
    with pytest.raises(ComposeError, match="compose file dir.yml is a directory"):
        load_in(tmp_path, "dir.yml")
    if os.geteuid() != 0:  # root reads anything
        f = tmp_path / "locked.yml"
        f.write_text("services: {}")
        f.chmod(0)
        with pytest.raises(ComposeError, match="Permission denied"):
            load_in(tmp_path, "locked.yml")


# --- environment and interpolation -------------------------------------------------------


def test_shell_wins_over_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {image: '${IMG}:${TAG}'}}",
                     ".env": "IMG=fromfile\nTAG=1.0\n"})
    p = load_in(tmp_path, env={"IMG": "fromshell"})
    assert plain(p.data)["services"]["web"]["image"] == "fromshell:1.0"
    assert p.environment["TAG"] == "1.0"


def test_env_file_option_replaces_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {image: '${IMG}'}}",
                     ".env": "IMG=default", "prod.env": "IMG=prod", "over.env": "IMG=over"})
    p = load_in(tmp_path, env_files=["prod.env", "over.env"])
    assert plain(p.data)["services"]["web"]["image"] == "over"
    with pytest.raises(ComposeError, match="env file nope.env not found"):
        load_in(tmp_path, env_files=["nope.env"])


def test_required_variable_message_names_file_line_key(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  db:\n    environment:\n"
                                     "      PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}\n"})
    with pytest.raises(ComposeError) as e:
        load_in(tmp_path)
    assert str(e.value) == ("compose.yaml:4:17: services.db.environment.PASSWORD: required "
                            "variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env")


def test_dotenv_error_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}", ".env": "A=1\nnot a line\n"})
    with pytest.raises(ComposeError, match=r"^\.env:2: invalid line"):
        load_in(tmp_path)


# --- project name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "env", "doc", "expected"),
    [
        ({"project_name": "cli"}, {"COMPOSE_PROJECT_NAME": "env"}, "name: doc", "cli"),
        ({}, {"COMPOSE_PROJECT_NAME": "env"}, "name: doc", "env"),
        ({}, {}, "name: My.Doc_Name", "mydoc_name"),
        ({}, {"N": "fromvar"}, "name: ${N}", "fromvar"),
        ({}, {}, "services: {}", "my-project_1"),
    ],
)
def test_project_name_precedence(tmp_path: Path, kw: dict[str, str], env: dict[str, str],
                                 doc: str, expected: str) -> None:
    folder = tmp_path / "My-Project_1"
    write(folder, {"compose.yaml": doc})
    assert load_in(folder, env=env, **kw).name == expected


def test_project_name_from_cli_must_be_valid(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}"})
    with pytest.raises(ComposeError, match="invalid project name 'Bad Name' \\(from -p\\)"):
        load_in(tmp_path, project_name="Bad Name")


def test_project_name_is_known_to_interpolation(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {image: 'x-${COMPOSE_PROJECT_NAME}'}}"})
    assert plain(load_in(tmp_path, project_name="demo").data)["services"]["web"]["image"] \
        == "x-demo"


# --- paths -------------------------------------------------------------------------------


def test_relative_paths_become_absolute(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
services:
  web:
    build: ./app
    env_file: [web.env, {path: opt.env, required: false}]
    volumes:
      - ./data:/data
      - named:/named
      - /abs:/abs:ro
      - {type: bind, source: ../up, target: /up}
secrets:
  s: {file: ./secret.txt}
"""})
    web = plain(load_in(tmp_path).data)["services"]["web"]
    assert web["build"] == str(tmp_path / "app")
    assert web["env_file"] == [str(tmp_path / "web.env"),
                               {"path": str(tmp_path / "opt.env"), "required": False}]
    assert web["volumes"] == [f"{tmp_path}/data:/data", "named:/named", "/abs:/abs:ro",
                              {"type": "bind", "source": str(tmp_path.parent / "up"),
                               "target": "/up"}]


def test_project_directory_option(tmp_path: Path) -> None:
    write(tmp_path, {"conf/compose.yaml": "services: {web: {volumes: ['./d:/d']}}",
                     "work/.env": "X=1"})
    p = load_in(tmp_path, "conf/compose.yaml", project_directory="work")
    assert p.working_dir == tmp_path / "work"
    assert p.environment["X"] == "1"
    assert plain(p.data)["services"]["web"]["volumes"] == [f"{tmp_path}/work/d:/d"]


# --- extends -----------------------------------------------------------------------------


def test_extends_same_file_chain(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
services:
  base: {image: a, environment: {A: '1'}, ports: ['80:80']}
  mid: {extends: base, environment: {B: '2'}}
  web: {extends: {service: mid}, image: b, ports: ['443:443']}
"""})
    web = plain(load_in(tmp_path).data)["services"]["web"]
    assert web == {"image": "b", "environment": {"A": "1", "B": "2"},
                   "ports": ["80:80", "443:443"]}


def test_extends_other_file_paths_relative_to_it(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "services: {web: {extends: {file: common/base.yml, service: app}}}",
        "common/base.yml": "services: {app: {image: a, volumes: ['./src:/src'], "
                           "extends: {file: deeper/root.yml, service: r}}}",
        "common/deeper/root.yml": "services: {r: {env_file: r.env}}",
    })
    web = plain(load_in(tmp_path).data)["services"]["web"]
    assert web["volumes"] == [f"{tmp_path}/common/src:/src"]
    assert web["env_file"] == [f"{tmp_path}/common/deeper/r.env"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("services: {a: {extends: b}, b: {extends: a}}", "extends cycle: a -> b -> a"),
        ("services: {a: {extends: nosuch}}", "service 'a' extends 'nosuch', which is not defined"),
        ("services: {a: {extends: {service: x, file: none.yml}}}", "file none.yml not found"),
        ("services: {a: {extends: {service: x, bogus: 1}}}", "unknown key 'bogus'"),
        ("services: {a: {extends: [x]}}", "expected a service name or {service, file}"),
    ],
)
def test_extends_errors(tmp_path: Path, doc: str, message: str) -> None:
    write(tmp_path, {"compose.yaml": doc})
    with pytest.raises(ComposeError) as e:
        load_in(tmp_path)
    assert message in str(e.value)
    assert str(e.value).startswith("compose.yaml:1:")


# --- include -----------------------------------------------------------------------------


def test_include_is_its_own_project(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [db/compose.yaml]\nservices: {web: {image: w, depends_on: [db]}}",
        "db/compose.yaml": "services: {db: {image: 'pg:${PG}', volumes: ['./data:/d']}}\n"
                           "volumes: {v: {}}",
        "db/.env": "PG=15",
    })
    doc = plain(load_in(tmp_path).data)
    assert doc["services"]["db"] == {"image": "pg:15", "volumes": [f"{tmp_path}/db/data:/d"]}
    assert doc["volumes"] == {"v": {}}
    # the including environment wins over the included .env
    doc = plain(load_in(tmp_path, env={"PG": "16"}).data)
    assert doc["services"]["db"]["image"] == "pg:16"


def test_include_long_form_and_local_override(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include:\n  - path: [lib/a.yml, lib/b.yml]\n    env_file: lib/x.env\n"
                        "services: {a: {image: local}}",
        "lib/a.yml": "services: {a: {image: '${IMG}'}, b: {image: b}}",
        "lib/b.yml": "services: {b: {image: b2}}",
        "lib/x.env": "IMG=fromx",
    })
    doc = plain(load_in(tmp_path).data)
    assert doc["services"] == {"a": {"image": "local"}, "b": {"image": "b2"}}


def test_include_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [a.yml]\nservices: {}",
                     "a.yml": "include: [b.yml]\nservices: {}",
                     "b.yml": "include: [a.yml]\nservices: {}"})
    with pytest.raises(ComposeError, match="include cycle: .*a.yml -> b.yml -> a.yml"):
        load_in(tmp_path)


def test_include_missing_file(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}\ninclude:\n  - nope.yml\n"})
    with pytest.raises(ComposeError) as e:
        load_in(tmp_path)
    assert str(e.value) == "compose.yaml:3:5: include[0]: included file nope.yml not found"


# --- merge across files, marks, profiles -------------------------------------------------


def test_error_marks_survive_merging(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: a\n",
                     "compose.override.yaml": "services:\n  web:\n    ports:\n      - 99999:80\n"})
    p = load_in(tmp_path)
    mark, exact = locate(p.data, ("services", "web", "ports", 0))
    assert exact and (mark.file, mark.line, mark.column) == ("compose.override.yaml", 4, 9)


def test_profiles_from_option_and_env(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}", ".env": "COMPOSE_PROFILES=a, b"})
    assert load_in(tmp_path).profiles == {"a", "b"}
    assert load_in(tmp_path, profiles=["c", "d,e"]).profiles == {"c", "d", "e"}


def test_a_compose_file_named_by_the_working_folders_dotenv_keeps_that_dotenv(
        tmp_path: Path) -> None:
    """Issue 15: its variables, COMPOSE_PROFILES and the name still count, although the
    project's folder is the files' (which has no .env)."""
    write(tmp_path, {
        ".env": "COMPOSE_FILE=sub/compose.yaml\nTAG=from-dotenv\nCOMPOSE_PROFILES=extra\n"
                "COMPOSE_PROJECT_NAME=fromenv\n",
        "sub/compose.yaml": "services:\n  a: {image: 'x:${TAG:-unset}'}\n"
                            "  b: {image: y, profiles: [extra]}\n"})
    raw = load_in(tmp_path)
    assert raw.name == "fromenv"
    assert plain(raw.data)["services"]["a"]["image"] == "x:from-dotenv"
    assert "extra" in raw.profiles
