"""``kill -9`` of the CLI at any point of ``up -d`` (10 services) or ``down`` leaks
nothing: after each kill, ``up -d`` converges (10 running) and ``down`` removes every
network namespace, link, nft table, mount, cgroup, process and record of the project.
What a killed ``up`` made is found again by name and label; what the supervisor was
doing for it, it finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from pctest.cli import PYCOMPOSE
from pctest.leaks import snapshot
from pctest.stack import Stack

from pycompose.util.paths import root_id

TEN = "services:\n" + "".join(
    f"  s{i}:\n    image: busybox\n    command: [sleep, '600']\n    stop_signal: SIGKILL\n"
    f"    volumes: [data{i % 2}:/data]\n" for i in range(10)
) + "volumes:\n  data0: {}\n  data1: {}\n"

#: what lingers between commands and is the state root's, not the project's
LINGERING = ("pycompose.engine.supervisor", "runtime.warm", "logs.keeper", "cli.worker")


def _left(stack: Stack) -> list[str]:
    rid = root_id(stack.root)
    snap = snapshot([str(stack.root), f"PYCOMPOSE_ROOT={stack.root}", rid])
    out = [f"netns {n}" for n in snap.netns] + [f"link {x}" for x in snap.links]
    out += [f"cgroup {c}" for c in snap.cgroups] + [f"mount {m}" for m in snap.mounts]
    out += [f"process {p}" for p in snap.processes if not any(s in p for s in LINGERING)]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    out += [f"nft {t}" for t in tables.split() if rid in t]
    cdir = stack.root / "containers"
    if cdir.exists():
        out += [f"record {n}" for n in os.listdir(cdir) if not n.startswith(".")]
    nstate = stack.root / "networks" / "state.json"
    if nstate.exists():
        st = json.loads(nstate.read_text())
        out += [f"network {n}" for n in st.get("networks", {})]
        out += [f"uplink {u}" for u in st.get("uplinks", {})]
    vdir = stack.root / "volumes"
    if vdir.exists():
        out += [f"volume {n}" for n in os.listdir(vdir) if not n.startswith(".")]
    return out


def _killed(stack: Stack, after: float, *args: str) -> None:
    """Run ``pycompose ARGS``, kill -9 it after ``after`` s, and let the requests it
    had already made finish: the supervisor completes a stop or rm whose client died
    (as dockerd does), and a command started at once would race them (an ``up -d``
    that finds a container running, then sees it removed by the dead ``down``'s rm)."""
    # without the warm worker: the process killed is then the one doing the work (a
    # worker's client killed only hangs up on the child that does it)
    p = subprocess.Popen([PYCOMPOSE, "-p", stack.name, *args], cwd=stack.folder,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, PYCOMPOSE_WORKER="0"))
    time.sleep(after)
    p.send_signal(signal.SIGKILL)
    p.wait()
    _settle(stack)


def _settle(stack: Stack, quiet: float = 0.5, timeout: float = 30) -> None:
    """Until the containers' states stay the same for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        now = subprocess.run([PYCOMPOSE, "container", "ls", "-a", "--format",
                              "{{.ID}} {{.State}}"], capture_output=True, text=True).stdout
        if now == last:
            return
        last = now
        time.sleep(quiet)


def _running(stack: Stack) -> int:
    return len(stack.ps())


def _points(takes: float) -> list[float]:
    """0.05 s, 0.10 s, ... through the whole run and a little past it (at most 24)."""
    step = max(0.05, (takes + 0.2) / 24)
    return [step * k for k in range(1, int((takes + 0.2) / step) + 2)]


def _converged(stack: Stack, failures: list[str], what: str) -> None:
    """up -d gives the 10 services, and down then leaves nothing at all."""
    stack.ok("up", "-d")
    if (n := _running(stack)) != 10:
        failures.append(f"{what}: then up -d gave {n} running")
    stack.ok("down", "-v")
    if left := _left(stack):
        failures.append(f"{what}: then up -d and down -v left {left}")


@pytest.mark.slow
def test_kill_9_at_any_point_of_up_or_down_leaks_nothing(stack: Stack) -> None:
    stack.write(TEN)
    cold = dict(os.environ, PYCOMPOSE_WORKER="0")  # the kill points span what _killed runs
    t0 = time.monotonic()
    subprocess.run([PYCOMPOSE, "-p", stack.name, "up", "-d"], cwd=stack.folder, env=cold,
                   check=True, capture_output=True)
    up_takes = time.monotonic() - t0
    t0 = time.monotonic()
    subprocess.run([PYCOMPOSE, "-p", stack.name, "down", "-v"], cwd=stack.folder, env=cold,
                   check=True, capture_output=True)
    down_takes = time.monotonic() - t0
    assert _left(stack) == []
    failures: list[str] = []
    # a killed up, then a killed down, at every point; each continues from what the
    # last one left, and every few points the project must converge and go clean
    ups, downs = _points(up_takes), _points(down_takes)
    for k in range(max(len(ups), len(downs))):
        if k < len(ups):
            _killed(stack, ups[k], "up", "-d")
        if k < len(downs):
            stack.ok("up", "-d")
            _killed(stack, downs[k], "down", "-v")
        if k % 4 == 3:
            _converged(stack, failures, f"kills up to point {k}")
    _converged(stack, failures, "all kill points")
    assert not failures, "\n".join(failures)
