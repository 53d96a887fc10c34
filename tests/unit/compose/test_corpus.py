"""The fixture corpus: ``examples/compose-files/corpus/<case>/``, each case a folder.

- ``compose.yaml`` (and any files it uses), found as docker compose finds it, with the
  case folder as the working directory;
- ``options.yaml`` (optional): ``files``, ``profiles``, ``project_name``, ``env`` (the
  shell environment; the real one is never used, so results do not depend on the
  machine);
- ``expected.yaml``: what ``pycompose config`` prints, byte for byte (before ``$`` is
  doubled); ``{dir}`` stands for the case folder's absolute path; the project name is
  the folder's name;
- ``warnings.txt`` (optional): each line a substring of one of the warnings;
- or ``error.txt``: a substring of the one error message (file:line:column: key: what);
- neither: the case must load without error.

Cases named ``m-*`` test the model (keys, syntaxes, errors), ``l-*`` the loader
(interpolation, merge, extends, include), ``r-*`` are real-world-shaped projects
(many services, secrets, builds, healthchecks, profiles, extends chains, includes).
``options.yaml`` may also name ``env_files`` (``--env-file``) and ``all_resources``. Regenerate an
``expected.yaml`` after a deliberate change with
``python tests/unit/compose/test_corpus.py CASE...`` and read the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pycompose.compose import render
from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate

CORPUS = Path(__file__).resolve().parents[3] / "examples" / "compose-files" / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def run_case(case: Path) -> dict[str, Any]:
    """``pycompose config`` of one case, as data (raises ComposeError): what no
    service uses is left out, as the CLI leaves it out (``all_resources: true`` in
    options.yaml keeps it, as ``--all-resources`` does)."""
    return render.project_dict(as_printed(case, load_case(case)))


def as_printed(case: Path, project: Project) -> Project:
    options: dict[str, Any] = {}
    if (case / "options.yaml").exists():
        options = yaml.safe_load((case / "options.yaml").read_text()) or {}
    return project if options.get("all_resources") else project.without_unused_resources()


def load_case(case: Path) -> Project:
    """The validated project of one case (raises ComposeError)."""
    options: dict[str, Any] = {}
    if (case / "options.yaml").exists():
        options = yaml.safe_load((case / "options.yaml").read_text()) or {}
    opts = LoadOptions(
        files=list(options.get("files", ())), cwd=str(case),
        environ={str(k): str(v) for k, v in (options.get("env") or {}).items()},
        profiles=list(options.get("profiles", ())),
        project_name=options.get("project_name"),
        env_files=list(options.get("env_files", ())),
        stdin=lambda: "")
    return validate(load(opts))


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len([c for c in CASES if c.startswith("m-")]) >= 30


@pytest.mark.parametrize("name", CASES)
def test_case(name: str) -> None:
    case = CORPUS / name
    error_file = case / "error.txt"
    expected_file = case / "expected.yaml"
    if error_file.exists():
        expected_error = error_file.read_text().strip()
        with pytest.raises(ComposeError) as info:
            run_case(case)
        assert expected_error in str(info.value)
        assert "\n" not in str(info.value)
        return
    project = load_case(case)
    got = render.project_dict(as_printed(case, project))
    warnings_file = case / "warnings.txt"
    if warnings_file.exists():
        for line in warnings_file.read_text().splitlines():
            assert any(line in w for w in project.warnings), (line, project.warnings)
    if expected_file.exists():
        expected = expected_file.read_text()
        assert got == yaml.safe_load(expected.replace("{dir}", str(case)))
        # byte for byte (go-yaml's layout and quoting), and it reads back the same
        printed = render.to_yaml(got)
        assert printed.replace(str(case), "{dir}") == expected
        assert yaml.safe_load(printed) == got


def regenerate(names: list[str]) -> None:  # pragma: no cover - a maintainer's tool
    for name in names:
        case = CORPUS / name
        text = render.to_yaml(run_case(case)).replace(str(case), "{dir}")
        (case / "expected.yaml").write_text(text)
        print(f"wrote {case / 'expected.yaml'}")


if __name__ == "__main__":  # pragma: no cover
    regenerate(sys.argv[1:])
