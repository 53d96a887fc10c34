"""Hole 6, E1 of issue 16: the state root and everything under it are root-only
whatever the umask (records hold ``-e PASSWORD=...`` and volume data), while what
containers see keeps docker's modes; an existing loose root is tightened when the
supervisor starts."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pctest.users import as_nobody, umask0

if TYPE_CHECKING:
    from conftest import Engine

READ_ALL = """
import os, sys
found = []
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for n in filenames:
        try:
            with open(os.path.join(dirpath, n), 'rb') as f:
                if b's3cret-probe' in f.read():
                    found.append(os.path.join(dirpath, n))
        except OSError:
            pass
print(len(found), *found)
"""


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _ok(r: object) -> str:
    assert getattr(r, "returncode", 1) == 0, getattr(r, "stderr", r)
    return str(getattr(r, "stdout", ""))


def _private(root: Path) -> None:
    assert _mode(root) == 0o700
    cid = next(p for p in (root / "containers").iterdir() if len(p.name) == 64)
    for d in (root / "containers", cid, root / "volumes", root / "volumes" / "secvol"):
        assert _mode(d) == 0o700, d
    for f in (cid / "state.json", root / "volumes" / "secvol" / "volume.json",
              root / "supervisor.log", root / "supervisor.lock", root / "supervisor.sock"):
        assert _mode(f) == 0o600, f
    for f in (root / "networks").glob("*.json"):
        assert _mode(f) == 0o600, f
    assert _mode(root / "volumes" / "secvol" / "_data") == 0o755  # what containers need


def test_state_is_root_only_whatever_the_umask(engine: Engine) -> None:
    root = engine.root
    _ok(umask0("container", "run", "-d", "--name", "envsecret", "-e",
               "DB_PASSWORD=s3cret-probe", "-v", "secvol:/data", "busybox", "sh", "-c",
               "echo s3cret-probe > /data/app.conf; touch /ready; sleep 600"))
    deadline = time.monotonic() + 10
    while engine("exec", "envsecret", "test", "-e", "/ready").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _private(root)
    r = as_nobody(READ_ALL, str(root))
    assert r.returncode == 0 and r.stdout.split()[0] == "0", r.stdout + r.stderr
    # what the container sees keeps docker's modes (and its umask), not the caller's
    out = _ok(umask0("container", "exec", "envsecret", "sh", "-c",
                     "stat -c %a / /etc/hosts /data; umask"))
    assert out.split() == ["755", "644", "755", "0022"]
    info = json.loads(engine.ok("inspect", "envsecret"))[0]
    assert "DB_PASSWORD=s3cret-probe" in info["Config"]["Env"]  # root still reads it


def test_a_loose_root_is_tightened_when_the_supervisor_starts(engine: Engine) -> None:
    root = engine.root
    engine.ok("run", "--name", "envsecret", "-e", "DB_PASSWORD=s3cret-probe", "-v",
              "secvol:/data", "busybox", "true")
    engine.ok("run", "-d", "--name", "keep", "busybox", "sleep", "600")
    from pycompose.engine import client

    engine.ok("rm", "-f", "keep")
    client.request(root, {"op": "shutdown"}, start=False)
    deadline = time.monotonic() + 10
    while engine.supervisor_pid() and time.monotonic() < deadline:
        time.sleep(0.02)
    # what an older pycompose (umask 022 and no care) left behind
    cid = next(p for p in (root / "containers").iterdir() if len(p.name) == 64)
    for d in (root, root / "containers", cid, root / "volumes", root / "volumes" / "secvol"):
        os.chmod(d, 0o755)
    for f in (cid / "state.json", root / "volumes" / "secvol" / "volume.json",
              root / "supervisor.log", root / "supervisor.lock"):
        os.chmod(f, 0o644)
    r = as_nobody(READ_ALL, str(root))
    assert r.stdout.split()[0] != "0"  # the loose root leaks, as on main
    engine.ok("run", "--rm", "busybox", "true")  # starts a supervisor
    _private(root)
    r = as_nobody(READ_ALL, str(root))
    assert r.stdout.split()[0] == "0", r.stdout
