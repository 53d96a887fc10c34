"""``run --rm``: the exit code comes as soon as the container's output is drained and
its record is buried (the name free, nothing listed); its cgroup, address and files go
after. A supervisor killed between the two leaves a grave that the next one clears."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine


def test_the_name_is_free_and_nothing_is_listed_when_run_rm_returns(engine: Engine) -> None:
    for i in range(3):
        r = engine("run", "--rm", "--name", "again", "busybox", "sh", "-c",
                   f"echo {i}; exit {i}")
        assert (r.returncode, r.stdout, r.stderr) == (i, f"{i}\n", "")
        assert engine.ok("ls", "-aq") == ""
    r = engine("inspect", "again")
    assert r.returncode == 1 and "No such container" in r.stderr


def test_run_rm_has_removed_its_anonymous_volumes_when_it_returns(engine: Engine) -> None:
    engine.ok("run", "--rm", "-v", "/data", "busybox", "touch", "/data/x")
    assert engine.cli("volume", "ls", "-q").stdout == ""


def test_a_grave_left_by_a_killed_supervisor_is_cleared_by_the_next(engine: Engine) -> None:
    cid = engine.ok("run", "-d", "--rm", "-v", "/data", "busybox", "sleep", "60").strip()
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", cid))
    name = engine.ok("inspect", "-f", "{{.Name}}", cid).strip().lstrip("/")
    sup = engine.supervisor_pid()
    assert sup
    os.kill(sup, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    # what a supervisor killed after burying the record, before clearing it, leaves
    cdir = engine.root / "containers" / cid
    grave = cdir.with_name(f".removing-{cid}")
    cdir.rename(grave)
    time.sleep(0.2)
    assert engine.ok("ls", "-aq") == ""
    engine.ok("run", "--rm", "busybox", "true")  # a new supervisor reconciles first
    assert not grave.exists()
    assert engine.cli("volume", "ls", "-q").stdout == ""  # it was run with --rm
    shown = json.loads(engine.cli("network", "inspect", "bridge").stdout)[0]["Containers"]
    assert cid not in shown and name not in [c["Name"] for c in shown.values()]


def test_rm_f_of_a_running_rm_container_says_its_name(engine: Engine) -> None:
    """``rm -f`` of a running ``--rm`` container: its exit removes it, and ``rm -f``
    says its name with status 0, as docker's does (it said "No such container", 1)."""
    engine.ok("run", "-d", "--rm", "--name", "gone", "-v", "/data", "busybox", "sleep", "300")
    r = engine("rm", "-f", "-v", "gone")
    assert (r.returncode, r.stdout, r.stderr) == (0, "gone\n", ""), r.stderr
    assert engine.ok("ls", "-a", "--format", "{{.Names}}") == ""
    assert engine("rm", "-f", "gone").returncode == 1  # and now it is gone: as docker
