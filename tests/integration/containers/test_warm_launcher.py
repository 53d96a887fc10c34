"""The supervisor's warm launcher (engine/runtime/warm.py): one fork server waits, each
start's launcher is forked from it and it stays, failures still come back as docker's
exit codes, and none outlives the supervisor."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine


def spare_launchers(root: Path) -> list[tuple[int, int]]:
    """(pid, ppid) of the waiting launchers of state root ``root``."""
    mark = f"PYCOMPOSE_ROOT={root}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            continue
        if b"pycompose.engine.runtime.warm" in cmd and mark in env:
            found.append((int(pid), int(stat[stat.rindex(b")") + 2:].split()[1])))
    return found


def wait_until(cond: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


def test_each_start_is_forked_from_the_one_warm_launcher(engine: Engine) -> None:
    assert engine.ok("run", "--rm", "busybox", "echo", "one") == "one\n"
    sup = engine.supervisor_pid()
    assert wait_until(lambda: len(spare_launchers(engine.root)) == 1)
    [(server, parent)] = spare_launchers(engine.root)
    assert parent == sup
    assert b"forks" in Path(f"/proc/{server}/cmdline").read_bytes().split(b"\0")
    assert engine.ok("run", "--rm", "busybox", "echo", "two") == "two\n"
    # the launcher of "two" was the server's child, and is gone; the server stays
    assert wait_until(lambda: spare_launchers(engine.root) == [(server, sup)])
    # a container's PID 1 is the supervisor's child all the same (it reaps it)
    cid = engine.ok("run", "-d", "busybox", "sleep", "30").strip()
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", cid).strip())
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    assert int(stat[stat.rindex(b")") + 2:].split()[1]) == sup
    engine.ok("rm", "-f", cid)


def test_a_killed_warm_launcher_is_replaced(engine: Engine) -> None:
    engine.ok("run", "--rm", "busybox", "true")
    assert wait_until(lambda: len(spare_launchers(engine.root)) == 1)
    [(server, _)] = spare_launchers(engine.root)
    os.kill(server, 9)
    # the next start launches on its own, and a new server is started behind it
    assert engine.ok("run", "--rm", "busybox", "echo", "after") == "after\n"
    assert wait_until(lambda: [p for p, _ in spare_launchers(engine.root)] not in ([], [server]))
    assert engine.ok("run", "--rm", "busybox", "echo", "again") == "again\n"


def test_failures_through_the_spare_keep_docker_exit_codes(engine: Engine) -> None:
    engine.ok("run", "--rm", "busybox", "true")  # the supervisor and its spare are up
    r = engine("run", "--rm", "busybox", "/no/such/binary")
    assert r.returncode == 127 and "/no/such/binary" in r.stderr
    r = engine("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126 and "/etc/passwd" in r.stderr
    r = engine("run", "--rm", "-w", "/etc/passwd/x", "busybox", "true")
    assert r.returncode == 125 and "/etc/passwd/x" in r.stderr
    assert engine.ok("run", "--rm", "busybox", "echo", "still fine") == "still fine\n"


def test_the_spare_ends_with_the_idle_supervisor(engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "0.5")
    engine.ok("run", "--rm", "busybox", "true")
    assert wait_until(lambda: len(spare_launchers(engine.root)) == 1)
    assert wait_until(lambda: engine.supervisor_pid() is None)
    assert spare_launchers(engine.root) == []  # and no_leaks checks everything else
