"""The launcher processes before they have a job: spawning one, keeping a fork server
of them started ahead of any job for long-lived callers, and warming the kernel's cgroup
migration lock before a create. container.py hands the job over (see warm.py).
"""

from __future__ import annotations

import array
import contextlib
import marshal
import os
import select
import signal
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


def spawn_launcher(*args: str) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """A launcher process (warm.py) waiting for its job on the returned socket; with
    ``"forks"``, the fork server that forks one per job."""
    ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-s", "-m", "pycompose.engine.runtime.warm",
             str(theirs.fileno()), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), env=_launcher_env(), close_fds=True)
    except BaseException:
        ctrl.close()
        raise
    finally:
        theirs.close()
    return proc, ctrl


class Forked:
    """A launcher forked by the warm launcher (warm.serve): the child of that server,
    not of this process, so it is watched by its pidfd, and its exit status is not
    ours to read (the server's kernel reaps it). What container.py asks of a
    ``Popen`` launcher: ``pid``, ``poll()``, ``wait()``, ``kill()``."""

    def __init__(self, pid: int, pidfd: int | None) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None if pidfd is not None else UNKNOWN_STATUS

    def poll(self) -> int | None:
        if self.returncode is None and self.pidfd is not None and \
                select.select([self.pidfd], [], [], 0)[0]:
            self._exited()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None and self.pidfd is not None:
            select.select([self.pidfd], [], [])
            self._exited()
        return UNKNOWN_STATUS if self.returncode is None else self.returncode

    def kill(self) -> None:
        if self.returncode is None and self.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def _exited(self) -> None:
        self.returncode = UNKNOWN_STATUS
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


#: the exit status of a forked launcher, which only its parent (the server) could read
UNKNOWN_STATUS = -1


class _Spare:
    """The warm launcher of a long-lived caller such as the supervisor: one fork server
    (warm.serve) started ahead of any job, which forks a launcher per container create
    or exec, so a start pays neither the interpreter's start-up nor its imports (~22 ms
    of CPU each, 30 starts at once on two cores: ~0.3 s). Nothing is started until
    ``warm_launcher()``; ``stop_warm_launcher()`` ends it. If the server is gone (or
    was started for another state root), ``fork()`` answers None, the caller starts a
    launcher of its own, and a new server is started in the background."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held, enabled, filler
        self.talk = threading.Lock()  # one request and its answer at a time
        self.enabled = False
        self.held: tuple[subprocess.Popen[bytes], socket.socket, dict[str, str]] | None = None
        self.filler: threading.Thread | None = None

    def fork(self, packet: bytes, fds: list[int]) -> Forked | None:
        """A launcher forked for the job ``packet`` announces (``fds`` passed to it),
        or None when no server can fork one."""
        with self.lock:
            held = self.held
        if held is None or held[0].poll() is not None or held[2] != _launcher_env():
            self.refill_soon()
            return None
        ctrl = held[1]
        try:
            with self.talk:
                ctrl.sendmsg([packet], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         array.array("i", fds))])
                data, anc, _flags, _addr = ctrl.recvmsg(256, socket.CMSG_SPACE(4))
        except OSError:
            self._drop(held)
            return None
        got = [fd for level, kind, payload in anc
               if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
               for fd in array.array("i", payload[: len(payload) - len(payload) % 4])]
        answer = marshal.loads(data) if data else None
        if not isinstance(answer, dict) or "pid" not in answer:
            for fd in got:
                os.close(fd)
            if not data:  # EOF: the server died
                self._drop(held)
            return None
        return Forked(int(answer["pid"]), got[0] if got else None)

    def _drop(self, held: tuple[subprocess.Popen[bytes], socket.socket, dict[str, str]]
              ) -> None:
        with self.lock:
            if self.held is held:
                self.held = None
        _end_launcher(held[0], held[1])
        self.refill_soon()

    def fill(self) -> None:
        """Start the server unless one runs or stop() came first."""
        with self.lock:
            if not self.enabled or (self.held is not None and self.held[0].poll() is None
                                    and self.held[2] == _launcher_env()):
                return
            old, self.held = self.held, None
        if old is not None:
            _end_launcher(old[0], old[1])
        env = _launcher_env()
        proc, ctrl = spawn_launcher("forks")
        ctrl.settimeout(10.0)  # a server that stopped answering is dropped, not awaited
        with self.lock:
            if self.enabled and self.held is None:
                old, self.held = None, (proc, ctrl, env)
            else:
                old = (proc, ctrl, env)
        if old is not None:  # stopped, or another thread filled it meanwhile
            _end_launcher(old[0], old[1])

    def refill_soon(self) -> None:
        """fill() in a thread: the server's interpreter starts off the caller's path."""
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
    """An unused launcher (or the server) exits at EOF on its control socket; kill it
    if it is slow."""
    ctrl.close()
    try:
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


spare = _Spare()


def warm_launcher() -> None:
    """From now on keep the fork server of launchers started ahead of any job: for
    long-lived callers (the supervisor), which must call stop_warm_launcher() before
    exiting. Blocks for
    the fork+exec only (~1-2 ms); the interpreter starts in the background."""
    with spare.lock:
        spare.enabled = True
    spare.fill()


def stop_warm_launcher() -> None:
    """End the fork server, if any, reap it, and start no more."""
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
