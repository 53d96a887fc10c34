"""A state root deleted after its supervisor died leaves nothing on the machine: the
next supervisor of any root removes the dead root's container cgroups, namespaces,
links and nft table (util/roots.py notes which path each root id names). Before, those
stayed for good: nothing came for a root that was gone (CI workspaces and test folders
are deleted; a crash before it was seen on a developer's machine)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from pctest.cli import run
from pctest.engine import Engine
from pctest.leaks import snapshot

from pycompose.util import roots
from pycompose.util.paths import root_id


def _pids_in(rid: str) -> list[int]:
    base = Path("/sys/fs/cgroup/pids/pycompose") / rid
    if not base.is_dir():
        base = Path("/sys/fs/cgroup/unified/pycompose") / rid
    return [int(p) for f in base.glob("*/cgroup.procs") for p in f.read_text().split()]


def test_the_objects_of_a_root_deleted_after_a_crash_are_swept(
        engine: Engine, busybox_tar: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone-root"
    env = {"PYCOMPOSE_ROOT": str(gone), "PYCOMPOSE_SUPERVISOR_IDLE": "60"}
    rid = root_id(gone)
    marks = [str(gone), f"PYCOMPOSE_ROOT={gone}", rid]
    assert run(["image", "import", str(busybox_tar), "busybox"], env=env).returncode == 0
    r = run(["container", "run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "300"],
            env=env)
    assert r.returncode == 0, r.stderr
    # the crash: its supervisor, keeper and launcher die with -9, then its container
    for line in snapshot(marks).processes:
        os.kill(int(line.split()[0]), signal.SIGKILL)
    for pid in _pids_in(rid):
        os.kill(pid, signal.SIGKILL)
    # ... and the folder is deleted (what the crash left mounted in it goes with it)
    for mp in sorted(snapshot(marks).mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    shutil.rmtree(gone)
    left = snapshot(marks)
    assert left.cgroups and left.netns and left.links, "the crash left nothing to sweep"
    try:
        # any supervisor's start sweeps them: here the one of the test's own root
        engine.ok("run", "--rm", "--network", "none", "busybox", "true")
        assert snapshot(marks).new_since(snapshot([])) == []
        nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
        assert f"pycompose_{rid}" not in nft.stdout
        assert rid not in roots.vanished()
        assert not (roots.REGISTRY / rid).exists()
    finally:  # whatever the sweep missed, so that no other test inherits it
        from pycompose.engine.runtime import remove_idle_root_cgroups
        from pycompose.netplug.networks import remove_root_objects

        remove_root_objects(rid)
        remove_idle_root_cgroups(rid)
        roots.forget(rid)
