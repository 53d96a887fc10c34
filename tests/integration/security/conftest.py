"""Fixtures of the security tests: the container ``engine`` (pctest/engine.py), hostile
images made from the busybox image plus entries of the test's choosing, and a host
directory of "victim" files that no container may ever reach."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
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
