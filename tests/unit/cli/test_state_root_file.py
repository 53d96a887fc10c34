"""A state root that is a file (``PYCOMPOSE_ROOT`` set to one): the commands that read
it say so in one line with exit status 1, where each failed as an internal error;
those that never read it (``version``, ``config``) still work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PYCOMPOSE = str(Path(sys.executable).with_name("pycompose"))


@pytest.mark.parametrize("args", [["container", "ls"], ["image", "ls"], ["ps"],
                                  ["volume", "ls"], ["up", "-d"]])
def test_a_file_for_a_state_root_is_named(tmp_path: Path, args: list[str]) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("x")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    r = subprocess.run([PYCOMPOSE, *args], cwd=tmp_path, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "PYCOMPOSE_ROOT": str(root),
                            "PYCOMPOSE_WORKER": "0"}, timeout=60)
    assert (r.returncode, r.stderr) == (1, f"error: the state root {root} is not a folder: "
                                           "point PYCOMPOSE_ROOT at a folder (or move the "
                                           "file away)\n"), r.stderr


def test_commands_that_never_read_it_still_work(tmp_path: Path) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("x")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    env = {"PATH": "/usr/bin:/bin", "PYCOMPOSE_ROOT": str(root), "PYCOMPOSE_WORKER": "0"}
    for args in (["version"], ["config", "--services"]):
        r = subprocess.run([PYCOMPOSE, *args], cwd=tmp_path, capture_output=True,
                           text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
