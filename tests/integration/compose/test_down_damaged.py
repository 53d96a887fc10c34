"""``down`` of a project whose records on disk are damaged still removes everything
the project owns: a container with a truncated state.json (found by the labels written
beside it, its processes by its cgroup), and with a truncated networks/state.json the
project's namespace and links (found by name), saying which file is damaged."""

from __future__ import annotations

from pctest.leaks import snapshot
from pctest.stack import Stack

from pycompose.util.paths import root_id

THREE = """
services:
  a: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
  b: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
  c: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
"""


def _marks(stack: Stack) -> list[str]:
    return [str(stack.root), f"PYCOMPOSE_ROOT={stack.root}", root_id(stack.root)]


def _project_objects(stack: Stack) -> list[str]:
    """netns, links, cgroups and container processes of the test's root (the
    supervisor, its spare launcher and its log keeper linger: not the project's)."""
    snap = snapshot(_marks(stack))
    procs = [p for p in snap.processes if not any(
        s in p for s in ("pycompose.engine.supervisor", "runtime.warm", "logs.keeper",
                         "cli.worker"))]
    nets = [n for n in snap.netns if "-p-" in n]
    return sorted([*nets, *snap.cgroups, *procs])


def _ids(stack: Stack) -> list[str]:
    return [r["ID"] for r in stack.ps("-a")]


def test_down_removes_a_container_whose_record_is_damaged(stack: Stack) -> None:
    stack.write(THREE)
    stack.ok("up", "-d")
    cid = stack.inspect(f"{stack.name}-b-1", "{{.Id}}")
    with open(stack.root / "containers" / cid / "state.json", "r+b") as f:
        f.truncate(200)
    listed = stack.ok("ps", "-a")
    assert f"{stack.name}-b-1" in listed  # shown, not hidden
    r = stack("down")
    assert r.returncode == 0, r.stderr
    assert f"{stack.name}_default" in r.stderr and "kept" not in r.stderr, r.stderr
    assert _ids(stack) == []
    assert _project_objects(stack) == []


def test_down_with_a_damaged_network_state_removes_the_project_and_says_so(
        stack: Stack) -> None:
    stack.write(THREE)
    stack.ok("up", "-d")
    state = stack.root / "networks" / "state.json"
    with open(state, "r+b") as f:
        f.truncate(150)
    r = stack("down")
    assert r.returncode != 0
    assert f"{state} is damaged" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert _ids(stack) == []
    assert _project_objects(stack) == []
    state.unlink()  # what the message says to do; then the project comes up again
    stack.ok("up", "-d")
    assert len(_ids(stack)) == 3


def test_ps_after_a_killed_supervisor_never_shows_a_dead_container_up(stack: Stack) -> None:
    """The supervisor is killed, then a container dies while nobody holds it: ``ps``
    reconciles first (a new supervisor is started, which checks every process it
    adopts), so the dead one is exited, never "Up"."""
    import os
    import signal

    stack.write(THREE)
    stack.ok("up", "-d")
    pid = int(stack.inspect(f"{stack.name}-b-1", "{{.State.Pid}}"))
    sup = int((stack.root / "supervisor.lock").read_text().split()[0])
    os.kill(sup, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    rows = {r["Service"]: r for r in stack.ps("-a")}
    assert rows["b"]["State"] == "exited", rows["b"]
    assert "Up" not in rows["b"]["Status"]
    assert rows["a"]["State"] == rows["c"]["State"] == "running"
    running = {r["Service"] for r in stack.ps()}
    assert running == {"a", "c"}
