"""State is root-only whatever the umask (issue 16, hole 6): records 0600, the
directories made for them 0700, and an older loose root closed by tighten_state."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycompose.util.fs import atomic_write_json, locked, tighten_state
from pycompose.util.paths import private_dir


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def umask0() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def test_records_and_their_folders_are_private_under_umask_000(tmp_path: Path,
                                                                umask0: None) -> None:
    root = tmp_path / "root"
    atomic_write_json(root / "containers" / "c1" / "state.json", {"Env": ["PASSWORD=x"]})
    with locked(root / "volumes" / ".lock"):
        pass
    assert _mode(root) == _mode(root / "containers") == _mode(root / "containers" / "c1") \
        == 0o700
    assert _mode(root / "containers" / "c1" / "state.json") == 0o600
    assert _mode(root / "volumes" / ".lock") == 0o600
    assert private_dir(root / "a" / "b") == root / "a" / "b"
    assert _mode(root / "a") == _mode(root / "a" / "b") == 0o700


def test_tighten_state_closes_a_loose_root_and_keeps_volume_data(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cdir = root / "containers" / ("c" * 64)
    data = root / "volumes" / "v" / "_data"
    layer = root / "images" / "layers" / "x" / "diff"
    for d in (cdir, data, layer, root / "networks"):
        d.mkdir(parents=True)
    files = [cdir / "state.json", root / "volumes" / "v" / "volume.json",
             root / "networks" / "state.json", root / "supervisor.log", data / "app.conf",
             cdir / "hosts"]
    for f in files:
        f.write_text("x")
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    changed = tighten_state(root)
    assert str(root) in changed
    for d in (root, root / "containers", cdir, root / "volumes", root / "volumes" / "v",
              root / "images", root / "networks"):
        assert _mode(d) == 0o700, d
    for f in files[:4]:
        assert _mode(f) == 0o600, f
    assert _mode(data) == 0o755 and _mode(data / "app.conf") == 0o644  # the container's
    assert _mode(layer) == 0o755  # an image's layer keeps its modes
    assert _mode(cdir / "hosts") == 0o644  # a file bind-mounted into a container
    assert tighten_state(root) == []
