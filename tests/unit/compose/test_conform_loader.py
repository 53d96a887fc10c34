"""Loader behaviours pinned against docker compose (compose-go), one table per rule.

The cases are our own, written from the rules compose-go's loader, include and
override tests pin: several YAML documents, the project name's two passes, include's
project directory and env files, extends files, the build context default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, RawProject, load
from pycompose.compose.model import validate
from pycompose.compose.render import project_dict
from pycompose.compose.yamlsrc import plain


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def load_in(cwd: Path, *files: str, env: dict[str, str] | None = None, **kw: Any) -> RawProject:
    return load(LoadOptions(files=list(files), cwd=str(cwd), environ=env or {}, **kw))


def services(cwd: Path, *files: str, **kw: Any) -> dict[str, Any]:
    return plain(load_in(cwd, *files, **kw).data)["services"]


def config(cwd: Path, *files: str, **kw: Any) -> dict[str, Any]:
    return project_dict(validate(load_in(cwd, *files, **kw)))


# --- 1. several YAML documents are several files ---------------------------------------


def test_documents_merge_like_files(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
services:
  web: {image: a, ports: ["80"], environment: {A: "1"}}
---
services:
  web: {image: b, ports: ["81"], environment: {B: "2"}}
  db: {image: pg}
"""})
    got = services(tmp_path)
    assert got["web"]["image"] == "b"
    assert got["web"]["ports"] == ["80", "81"]
    assert got["web"]["environment"] == {"A": "1", "B": "2"}
    assert got["db"] == {"image": "pg"}


def test_a_later_document_resets_an_earlier_one(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
services:
  web: {image: a, ports: ["80"], command: ["x"]}
---
services:
  web: {ports: !reset [], command: !override ["y"]}
"""})
    web = services(tmp_path)["web"]
    assert "ports" not in web and web["command"] == ["y"]


def test_documents_then_the_next_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "services: {web: {image: one}}\n---\n"
                               "services: {web: {image: two}}\n",
                     "b.yaml": "services: {web: {image: three}}\n---\n"
                               "services: {web: {labels: [x=1]}}\n"})
    web = services(tmp_path, "a.yaml", "b.yaml")["web"]
    assert web == {"image": "three", "labels": {"x": "1"}}


def test_each_document_interpolates_and_extends_on_its_own(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
services:
  base: {image: "${IMG}", environment: [K=v]}
---
services:
  app: {extends: base, environment: [L=w]}
"""})
    # extends is settled inside each document, before the merge (compose-go)
    with pytest.raises(ComposeError, match="extends 'base', which is not defined"):
        load_in(tmp_path, env={"IMG": "x"})
    write(tmp_path, {"compose.yaml": """
services:
  base: {image: "${IMG}"}
---
services:
  base: {image: "${IMG}2", environment: [K=v]}
  app: {extends: base, environment: [L=w]}
"""})
    got = services(tmp_path, env={"IMG": "x"})
    assert got["app"] == {"image": "x2", "environment": {"K": "v", "L": "w"}}


def test_empty_documents_are_skipped_and_an_all_empty_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "---\n---\nservices: {web: {image: a}}\n---\n"})
    assert services(tmp_path)["web"]["image"] == "a"
    write(tmp_path, {"compose.yaml": "---\n# nothing\n---\n"})
    with pytest.raises(ComposeError, match="empty compose file"):
        load_in(tmp_path)


def test_a_document_that_is_not_a_mapping_is_named(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}\n---\n- a list\n"})
    with pytest.raises(ComposeError, match="top level of a compose file must be a mapping"):
        load_in(tmp_path)


def test_documents_from_stdin(tmp_path: Path) -> None:
    got = load(LoadOptions(files=["-"], cwd=str(tmp_path), environ={},
                           stdin=lambda: "name: fromstdin\nservices: {a: {image: x}}\n---\n"
                                         "services: {b: {image: '${COMPOSE_PROJECT_NAME}'}}"))
    assert got.name == "fromstdin"
    assert plain(got.data)["services"]["b"]["image"] == "fromstdin"


# --- 2. ${COMPOSE_PROJECT_NAME} is the final project name -------------------------------


IMAGE = "services: {web: {image: 'img-${COMPOSE_PROJECT_NAME}'}}\n"


@pytest.mark.parametrize(
    ("files", "kw", "env", "expected"),
    [
        # the last top-level name of the merged files, not the folder
        ({"compose.yaml": "name: first\n" + IMAGE}, {}, {}, "first"),
        ({"compose.yaml": "name: first\n" + IMAGE,
          "compose.override.yaml": "name: second\n"}, {}, {}, "second"),
        # a later document names it too
        ({"compose.yaml": IMAGE + "---\nname: fromdoc\n"}, {}, {}, "fromdoc"),
        # an override file without a name keeps the earlier one
        ({"compose.yaml": "name: kept\n" + IMAGE,
          "compose.override.yaml": "services: {web: {labels: [a=b]}}\n"}, {}, {}, "kept"),
        # name: is interpolated, then normalised
        ({"compose.yaml": "name: ${STACK}-App\n" + IMAGE}, {}, {"STACK": "Blue"}, "blue-app"),
        # the folder when nothing names it
        ({"compose.yaml": IMAGE}, {}, {}, "my-folder"),
        # a name that normalises to nothing falls back to the folder
        ({"compose.yaml": "name: '!!!'\n" + IMAGE}, {}, {}, "my-folder"),
        # -p and COMPOSE_PROJECT_NAME win over name:
        ({"compose.yaml": "name: declared\n" + IMAGE}, {"project_name": "cli"}, {}, "cli"),
        ({"compose.yaml": "name: declared\n" + IMAGE}, {}, {"COMPOSE_PROJECT_NAME": "env"},
         "env"),
        # COMPOSE_PROJECT_NAME from .env counts as the environment's
        ({"compose.yaml": "name: declared\n" + IMAGE, ".env": "COMPOSE_PROJECT_NAME=dotenv\n"},
         {}, {}, "dotenv"),
    ],
)
def test_compose_project_name_is_the_final_name(tmp_path: Path, files: dict[str, str],
                                                kw: dict[str, Any], env: dict[str, str],
                                                expected: str) -> None:
    folder = write(tmp_path / "My-Folder", files)
    raw = load_in(folder, env=env, **kw)
    assert raw.name == expected
    assert plain(raw.data)["services"]["web"]["image"] == f"img-{expected}"
    assert raw.environment["COMPOSE_PROJECT_NAME"] == expected


def test_project_name_reaches_bare_environment_keys(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "name: named\nservices: "
                                     "{web: {image: a, environment: [COMPOSE_PROJECT_NAME]}}"})
    assert config(tmp_path)["services"]["web"]["environment"] == \
        {"COMPOSE_PROJECT_NAME": "named"}


def test_a_name_that_is_not_a_string_is_located(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}\nname: [a]\n"})
    with pytest.raises(ComposeError) as e:
        load_in(tmp_path)
    assert (e.value.line, e.value.key) == (2, "name")


def test_no_interpolation_keeps_the_name_as_written(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "name: plain\nservices: {web: {image: '${X}'}}"})
    raw = load_in(tmp_path, interpolate=False)
    assert raw.name == "plain" and plain(raw.data)["services"]["web"]["image"] == "${X}"


# --- 8. several --env-file: a later file sees its own earlier lines -----------------------


def test_several_env_files(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {image: '${A}-${B}-${C}-${D}'}}",
                     "one.env": "A=one\nX=from-one\n",
                     "two.env": "X=from-two\nB=${X}\nC=${A}\nD=${SHELL_ONLY:-none}\n"})
    raw = load_in(tmp_path, env_files=["one.env", "two.env"])
    assert plain(raw.data)["services"]["web"]["image"] == "one-from-two-one-none"
    raw = load_in(tmp_path, env_files=["one.env", "two.env"], env={"X": "shell"})
    assert plain(raw.data)["services"]["web"]["image"] == "one-shell-one-none"


def test_env_file_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {}", "bad.env": "A=1\nB='it\\'s\n"})
    with pytest.raises(ComposeError, match=r"^bad\.env:2: unterminated quoted value for B"):
        load_in(tmp_path, env_files=["bad.env"])


# --- 3. and 4. include: project_directory, relative paths, env_file ----------------------


INCLUDED = """
services:
  svc:
    build: ./ctx
    image: ${INC_IMG}
    environment: [INC_VAR, MISSING, SHARED]
    volumes: [./data:/data]
    env_file: ./svc.env
  ext:
    extends: {file: base.yaml, service: b}
"""


def _include_project(root: Path, project_directory: str | None = "sub/../other") -> Path:
    entry = "  - path: sub/inc.yaml\n    env_file: sub/inc.env\n"
    if project_directory:
        entry += f"    project_directory: {project_directory}\n"
    home = "other" if project_directory else "sub"
    return write(root, {
        "compose.yaml": f"include:\n{entry}services:\n  main: {{image: m}}\n",
        "sub/inc.yaml": INCLUDED,
        f"{home}/base.yaml": "services: {b: {image: base, volumes: [./bdata:/b]}}",
        "sub/inc.env": "INC_IMG=inc-image\nINC_VAR=from-env-file\nSHARED=include\n",
        f"{home}/svc.env": "S=1\n",
    })


def test_include_project_directory_anchors_relative_paths(tmp_path: Path) -> None:
    _include_project(tmp_path)
    got = config(tmp_path)["services"]
    other = tmp_path / "other"
    assert got["svc"]["build"]["context"] == str(other / "ctx")
    assert got["svc"]["volumes"][0]["source"] == str(other / "data")
    assert got["svc"]["environment"]["S"] == "1"  # env_file read from other/
    # extends.file is relative to the project directory too, and the extended file's
    # own paths to its folder
    assert got["ext"]["image"] == "base"
    assert got["ext"]["volumes"][0]["source"] == str(other / "bdata")


def test_include_without_project_directory_uses_the_included_files_folder(
        tmp_path: Path) -> None:
    _include_project(tmp_path, project_directory=None)
    got = config(tmp_path)["services"]
    assert got["svc"]["build"]["context"] == str(tmp_path / "sub" / "ctx")
    assert got["ext"]["volumes"][0]["source"] == str(tmp_path / "sub" / "bdata")


def test_include_env_file_feeds_interpolation_and_bare_keys(tmp_path: Path) -> None:
    _include_project(tmp_path)
    svc = config(tmp_path, env={"SHARED": "shell"})["services"]["svc"]
    assert svc["image"] == "inc-image"
    # the include's env file gives bare keys their values; the including environment
    # wins over it; a key nothing sets is kept with no value
    assert svc["environment"] == {"INC_VAR": "from-env-file", "SHARED": "shell",
                                  "MISSING": None, "S": "1"}


def test_include_env_file_stays_with_the_include(tmp_path: Path) -> None:
    _include_project(tmp_path)
    write(tmp_path, {"compose.yaml": (tmp_path / "compose.yaml").read_text().replace(
        "main: {image: m}", "main: {image: 'm${INC_IMG:-none}', environment: [INC_VAR]}")})
    main = config(tmp_path)["services"]["main"]
    assert main["image"] == "mnone" and main["environment"] == {"INC_VAR": None}


def test_include_project_directory_is_printed_clean(tmp_path: Path) -> None:
    _include_project(tmp_path)
    text = str(config(tmp_path))
    assert "/../" not in text and "sub/.." not in text


def test_extends_file_is_relative_to_the_project_directory(tmp_path: Path) -> None:
    write(tmp_path, {
        "app/compose.yaml": "services: {web: {extends: {file: common/base.yaml, "
                            "service: base}}}",
        "app/common/base.yaml": "services: {base: {image: b, env_file: [b.env]}}",
        "app/common/b.env": "B=1\n",
    })
    web = config(tmp_path, "app/compose.yaml")["services"]["web"]
    assert web["environment"] == {"B": "1"}


def test_an_include_merges_with_a_local_definition(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [inc.yaml, inc2.yaml]\nservices:\n"
                        "  web: {image: local, environment: {L: '1'}}\n",
        "inc.yaml": "services:\n  web: {image: inc, environment: {I: '1'}, ports: ['80']}\n"
                    "x-private: {a: 1}\n",
        "inc2.yaml": "services:\n  web: {image: inc2, environment: {J: '1'}}\n",
    })
    raw = load_in(tmp_path)
    web = plain(raw.data)["services"]["web"]
    assert web["image"] == "local"
    assert web["environment"] == {"I": "1", "J": "1", "L": "1"}
    assert web["ports"] == ["80"]
    assert "x-private" not in raw.data


# --- 6. build: without context is the project directory ----------------------------------


@pytest.mark.parametrize(
    "build",
    ["{}", "{target: dev}", "{dockerfile: other.Dockerfile}", "{args: [A=1]}",
     "{dockerfile_inline: 'FROM scratch'}"],
)
def test_build_without_context_builds_the_project_directory(tmp_path: Path,
                                                            build: str) -> None:
    write(tmp_path, {"compose.yaml": f"services: {{web: {{build: {build}}}}}"})
    web = config(tmp_path)["services"]["web"]
    assert web["build"]["context"] == str(tmp_path)


def test_an_override_without_context_keeps_the_earlier_context(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services: {web: {build: ./app}}",
                     "compose.override.yaml": "services: {web: {build: {target: dev}}}"})
    build = config(tmp_path)["services"]["web"]["build"]
    assert build["context"] == str(tmp_path / "app") and build["target"] == "dev"


def test_build_context_default_with_a_project_directory(tmp_path: Path) -> None:
    write(tmp_path, {"files/compose.yaml": "services: {web: {build: {target: x}}}"})
    (tmp_path / "proj").mkdir()
    got = config(tmp_path, "files/compose.yaml", project_directory="proj")
    assert got["services"]["web"]["build"]["context"] == str(tmp_path / "proj")


def test_build_context_default_in_an_include(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [{path: inc/c.yaml, project_directory: pd}]",
                     "inc/c.yaml": "services: {web: {build: {target: x}}}"})
    got = config(tmp_path)
    assert got["services"]["web"]["build"]["context"] == str(tmp_path / "pd")


# --- empty files -----------------------------------------------------------------------


def test_an_empty_override_file_is_fine(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "name: e\nservices: {web: {image: a}}",
                     "empty.yaml": "", "comments.yaml": "# nothing here\n"})
    raw = load_in(tmp_path, "compose.yaml", "empty.yaml", "comments.yaml")
    assert raw.name == "e" and plain(raw.data)["services"]["web"]["image"] == "a"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n---\n", "{}\n"])
def test_a_project_with_nothing_is_an_empty_compose_file(tmp_path: Path, text: str) -> None:
    write(tmp_path, {"compose.yaml": text})
    with pytest.raises(ComposeError, match=r"^compose\.yaml: empty compose file"):
        load_in(tmp_path)


def test_an_empty_included_file_brings_nothing(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [empty.yaml]\nservices: {web: {image: a}}",
                     "empty.yaml": ""})
    assert list(services(tmp_path)) == ["web"]


def test_include_env_files_see_each_other_and_dev_null_is_none(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include:\n  - path: inc.yaml\n"
                        "    env_file: [a.env, /dev/null, b.env]\n",
        "inc.yaml": "services: {w: {image: '${IMG}'}}",
        "a.env": "REG=registry.local\n", "b.env": "IMG=${REG}/app\n"})
    assert services(tmp_path)["w"]["image"] == "registry.local/app"


def test_one_base_file_extended_under_two_environments(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include:\n  - {path: a/c.yaml, env_file: a/.env}\n"
                        "  - {path: b/c.yaml, env_file: b/.env}\n",
        "base.yaml": "services: {base: {image: 'img-${FLAVOUR}'}}",
        "a/c.yaml": "services: {a: {extends: {file: ../base.yaml, service: base}}}",
        "b/c.yaml": "services: {b: {extends: {file: ../base.yaml, service: base}}}",
        "a/.env": "FLAVOUR=alpha\n", "b/.env": "FLAVOUR=beta\n"})
    got = services(tmp_path)
    assert (got["a"]["image"], got["b"]["image"]) == ("img-alpha", "img-beta")
