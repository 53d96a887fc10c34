"""Fixtures of the security tests: the container ``engine`` (pctest/engine.py), hostile
images made from the busybox image plus entries of the test's choosing, a host
directory of "victim" files that no container may ever reach, a state root that other
users could reach if its modes allowed it, and ways to act as user nobody and under
``umask 000``."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pctest.engine import Engine, engine

__all__ = ["Engine", "engine"]

Member = tuple[tarfile.TarInfo, bytes | None]
MakeImage = Callable[[str, list[Member]], str]


@pytest.fixture
def image_with(engine: Engine, busybox_tar: Path, tmp_path: Path) -> MakeImage:
    """``make(tag, members)``: the busybox image with ``members`` added, imported."""

    def make(tag: str, members: list[Member]) -> str:
        out = tmp_path / (tag.replace(":", "_").replace("/", "_") + ".tar")
        shutil.copy(busybox_tar, out)
        with tarfile.open(out, "a", format=tarfile.PAX_FORMAT) as tar:
            for ti, body in members:
                tar.addfile(ti, io.BytesIO(body) if body is not None else None)
        r = engine.cli("image", "import", str(out), tag)
        assert r.returncode == 0, r.stderr
        return tag

    return make


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A host directory holding ``victim.txt`` (ORIGINAL) and ``marker-HOST``: what a
    hostile container points its symlinks at."""
    d = tmp_path / "victim"
    d.mkdir()
    (d / "victim.txt").write_text("ORIGINAL\n")
    (d / "marker-HOST").write_text("HOST-SECRET\n")
    return d


@pytest.fixture
def state_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state root another user could reach if its modes let them: under /tmp, not
    under pytest's own 0700 folder (which would hide a loose root from the test)."""
    top = Path(tempfile.mkdtemp(prefix="pctest-sec-", dir="/tmp"))
    os.chmod(top, 0o755)
    root = top / "state"
    root.mkdir()
    os.chmod(root, 0o755)  # what an older pycompose, or mkdir -p, leaves
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
    yield root
    shutil.rmtree(top, ignore_errors=True)
