"""The launcher processes before they have a job: spawning one, keeping one spare
started ahead of its job for long-lived callers, and warming the kernel's cgroup
migration lock before a create. container.py hands the job over (see warm.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pycompose

from .cgroups import probe


def _launcher_env() -> dict[str, str]:
    env = {"PYTHONPATH": str(Path(pycompose.__file__).resolve().parent.parent),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if "PYCOMPOSE_ROOT" in os.environ:  # marks the launcher as ours in leak checks
        env["PYCOMPOSE_ROOT"] = os.environ["PYCOMPOSE_ROOT"]
    return env


def spawn_launcher() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """A launcher process (warm.py) waiting for its job on the returned socket."""
    ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-s", "-m", "pycompose.engine.runtime.warm",
             str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), env=_launcher_env(), close_fds=True)
    except BaseException:
        ctrl.close()
        raise
    finally:
        theirs.close()
    return proc, ctrl


class _Spare:
    """At most one launcher started ahead of its job (see warm.py), for a long-lived
    caller such as the supervisor: container.create() and exec_process() take it when it is
    there, so a container start skips the interpreter's start-up, and start the next
    one in a background thread. Nothing is started until ``warm_launcher()``;
    ``stop_warm_launcher()`` ends it (and any refill under way)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enabled = False
        self.held: tuple[subprocess.Popen[bytes], socket.socket, dict[str, str]] | None = None
        self.filler: threading.Thread | None = None

    def take(self) -> tuple[subprocess.Popen[bytes], socket.socket] | None:
        with self.lock:
            held, self.held = self.held, None
        if held is None:
            return None
        proc, ctrl, env = held
        if proc.poll() is None and env == _launcher_env():
            return proc, ctrl
        _end_launcher(proc, ctrl)
        return None

    def fill(self) -> None:
        """Start a spare unless one waits or stop() came first."""
        with self.lock:
            if not self.enabled or (self.held is not None and self.held[0].poll() is None):
                return
            old, self.held = self.held, None
        if old is not None:
            _end_launcher(old[0], old[1])
        env = _launcher_env()
        proc, ctrl = spawn_launcher()
        with self.lock:
            if self.enabled:
                old, self.held = self.held, (proc, ctrl, env)
            else:
                old = (proc, ctrl, env)
        if old is not None:  # stopped, or another thread filled it meanwhile
            _end_launcher(old[0], old[1])

    def refill_soon(self) -> None:
        """fill() in a thread: the spare's interpreter starts off the caller's path."""
        with self.lock:
            if not self.enabled or (self.filler is not None and self.filler.is_alive()):
                return
            self.filler = threading.Thread(target=self.fill, name="warm-launcher", daemon=True)
            self.filler.start()

    def stop(self) -> None:
        with self.lock:
            self.enabled = False
            held, self.held = self.held, None
            filler = self.filler
        if filler is not None:
            filler.join()
        if held is not None:
            _end_launcher(held[0], held[1])


def _end_launcher(proc: subprocess.Popen[bytes], ctrl: socket.socket) -> None:
    """An unused launcher exits at EOF on its control socket; kill it if it is slow."""
    ctrl.close()
    try:
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


spare = _Spare()


def warm_launcher() -> None:
    """From now on keep one launcher started ahead of its job: for long-lived callers
    (the supervisor), which must call stop_warm_launcher() before exiting. Blocks for
    the fork+exec only (~1-2 ms); the interpreter starts in the background."""
    with spare.lock:
        spare.enabled = True
    spare.fill()


def stop_warm_launcher() -> None:
    """End the spare launcher, if any, reap it, and start no more."""
    spare.stop()


class _Primer:
    """The first cgroup migration after a quiet spell waits for an RCU grace period
    (~6-12 ms here: the kernel's global cgroup_threadgroup_rwsem switching to its
    writer mode), and any migration within about one grace period after another is
    fast. So a caller that knows a container start is coming (the supervisor, on a
    run request) starts that wait early, in a thread, by moving this process into the
    cgroup it is already in: a no-op that takes the same lock. The launcher's real
    move then finds the lock warm, or waits only for what is left of the period."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.thread = threading.Thread(target=_no_op_migration, name="cgroup-primer",
                                           daemon=True)
            self.thread.start()


def _own_cgroup_procs() -> str | None:
    """cgroup.procs of the cgroup this process is in, in one of the hierarchies
    containers use."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    for h in probe():
        for entry in lines:
            if len(entry) != 3:
                continue
            _, ctrls, path = entry
            if (h.version == 2 and ctrls == "") or \
                    (h.version == 1 and h.controllers & set(ctrls.split(","))):
                return os.path.join(h.mountpoint, path.lstrip("/"), "cgroup.procs")
    return None


def _no_op_migration() -> None:
    procs = _own_cgroup_procs()
    if procs is None:
        return
    with contextlib.suppress(OSError), open(procs, "w") as f:
        f.write(str(os.getpid()))


_primer = _Primer()


def expect_create() -> None:
    """A create() or exec_process() is coming soon: start its slow first cgroup
    migration now, in the background (see _Primer). Cheap; safe to call often. Only
    where a v2 hierarchy is used: into v1 ones the launcher moves its one thread,
    which takes no global lock (Cgroup.join_files), and a primer's migration would
    only hold the cgroup mutex through its grace period, in the way of the
    container's own mkdirs."""
    if any(h.version == 2 for h in probe()):
        _primer.start()
