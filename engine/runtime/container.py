"""The caller's side of the runtime: create/start a container, exec into it, kill,
destroy, clean up after a crash. See the package docstring for the API contract and
protocol.py for the conversation with the launcher.
"""

from __future__ import annotations

import array
import contextlib
import errno
import json
import marshal
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from pycompose.util.paths import root_id, state_root

from ..errors import (
    CannotExecute,
    CommandNotFound,
    EngineError,
    InvalidArgument,
    NotFound,
    SetupFailed,
    Unavailable,
)
from . import linux as L
from .cgroups import Cgroup, leftovers
from .protocol import (
    EXIT_CANNOT_EXECUTE,
    EXIT_NOT_FOUND,
    EXIT_SETUP,
    describe,
    recv,
    send,
)
from .seccomp import ProfileError, bpf_program, default_profile
from .spare import UNKNOWN_STATUS, Forked, expect_create, spare, spawn_launcher
from .spec import ContainerSpec, Mount, Process

#: docker's `--init` binary is tini; Debian's tini package ships a static build that
#: runs in any image.
TINI_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init")

_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

Stdio = int | IO[Any] | None


def exit_status(waitstatus: int) -> int:
    """A shell-style exit code: the status, or 128+N for death by signal N."""
    code = os.waitstatus_to_exitcode(waitstatus)
    return 128 - code if code < 0 else code


def setup_error(msg: dict[str, Any]) -> SetupFailed:
    """The kind of a failed step reported by the launcher or PID 1: only the final
    exec tells a missing command (docker's 127) from one that cannot run (126)."""
    code = int(msg.get("code", EXIT_SETUP))
    cls = {EXIT_NOT_FOUND: CommandNotFound, EXIT_CANNOT_EXECUTE: CannotExecute}.get(
        code, SetupFailed)
    return cls(describe(msg), step=str(msg.get("step") or ""), errno=int(msg.get("errno") or 0))


def check_sysctls(spec: ContainerSpec) -> None:
    """docker's rule: only namespaced sysctls, and only for namespaces the container
    owns (net.* needs its own network namespace)."""
    for key in spec.sysctls:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if spec.namespaces.get("ipc", "host") is not None:
                raise InvalidArgument(f"sysctl {key!r} needs the container's own IPC "
                                      "namespace")
        elif key.startswith("net."):
            if spec.namespaces.get("net", "host") == "host" or "net" not in spec.namespaces:
                raise InvalidArgument(f"sysctl {key!r} is not allowed with the host network")
        else:
            raise InvalidArgument(f"sysctl {key!r} is not namespaced: not allowed in a "
                                  "container")


def cgroup_of(spec: ContainerSpec) -> Cgroup:
    return Cgroup.for_container(spec.cgroup_parent or f"pycompose/{root_id()}",
                                spec.cgroup_name or spec.id)


def _seccomp_profile(spec: ContainerSpec) -> dict[str, Any] | None:
    if spec.privileged or spec.seccomp == "unconfined":
        return None
    if spec.seccomp == "default":
        return default_profile()
    try:
        profile = json.loads(Path(spec.seccomp).read_text())
    except OSError as e:
        raise InvalidArgument(f"seccomp profile {spec.seccomp}: {e.strerror}") from None
    except ValueError as e:
        raise InvalidArgument(f"seccomp profile {spec.seccomp}: not JSON: {e}") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise InvalidArgument(f"seccomp profile {spec.seccomp}: no defaultAction")
    return profile


def _seccomp_bpf(spec: ContainerSpec) -> bytes | None:
    profile = _seccomp_profile(spec)
    if profile is None:
        return None
    try:
        return bpf_program(profile, spec.capabilities, str(state_root() / "cache" / "seccomp"))
    except (OSError, ProfileError) as e:
        raise InvalidArgument(f"seccomp profile {spec.seccomp}: {e}") from None


def _runtime_mounts(spec: ContainerSpec) -> list[Mount]:
    """The etc files (written under spec.root) and the init binary, as bind mounts."""
    out = []
    etc = Path(spec.root, "etc")
    for target, text in spec.etc_files.items():
        etc.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", target.strip("/"))
        try:
            (etc / name).write_text(text)
        except OSError as e:
            if e.filename is None:
                e.filename = str(etc / name)  # a full disk's write error names no file
            raise
        out.append(Mount(target=target, type="bind", source=str(etc / name),
                         options=["rbind", "rprivate"]))
    if spec.init:
        tini = next((p for p in TINI_CANDIDATES if os.path.exists(p)), None)
        if tini is None:
            raise Unavailable("--init needs tini-static (Debian package tini; scripts/setup "
                              "installs it)")
        out.append(Mount(target="/dev/init", type="bind", source=tini, options=["bind", "ro"]))
    return out


_STDIO_DEFAULT = ("null", "null", "keep")  # what spawn_launcher gives the launcher


class _Launch:
    """One launcher process and the caller's end of its socket."""

    def __init__(self, mode: str, job: dict[str, Any], cgroup_procs: list[str],
                 stdin: Stdio, stdout: Stdio, stderr: Stdio, timeout: float) -> None:
        L.set_child_subreaper()
        self.pid: int | None = None
        self.sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        r, w = os.pipe()
        ctrl: socket.socket | None = None
        try:
            kinds, fds = [], [child_sock.fileno(), r]
            for i, s in enumerate((stdin, stdout, stderr)):
                if s is None:
                    kinds.append(_STDIO_DEFAULT[i])
                elif s == subprocess.DEVNULL:
                    kinds.append("null")
                else:
                    kinds.append("fd")
                    fds.append(s if isinstance(s, int) else s.fileno())
            packet = marshal.dumps({"mode": mode, "stdio": kinds})
            # forked by the warm launcher (a long-lived caller's), else started afresh
            forked = spare.fork(packet, fds)
            if forked is not None:
                self.proc: subprocess.Popen[bytes] | Forked = forked
            else:
                self.proc, ctrl = spawn_launcher()
                ctrl.sendmsg([packet], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         array.array("i", fds))])
        except BaseException:
            os.close(w)
            if hasattr(self, "proc"):
                self.abort()
            else:
                self.sock.close()
            raise
        finally:
            if ctrl is not None:
                ctrl.close()
            child_sock.close()
            os.close(r)
        # Move the launcher into the v2 cgroups from here (the v1 ones it joins by
        # itself, thread by thread, which is fast: Cgroup.join_files): the first
        # process migration waits for an RCU grace period (~10 ms), which for a fresh
        # launcher overlaps with the interpreter's start. The launcher reads its job,
        # and so goes on, only once it is in.
        for procs in cgroup_procs:
            try:
                with open(procs, "w") as f:
                    f.write(str(self.proc.pid))
            except OSError as e:
                os.close(w)
                self.abort()
                raise SetupFailed(f"join cgroup {os.path.dirname(procs)}: {e.strerror}",
                                  step="join cgroup", errno=e.errno or 0) from None
        with os.fdopen(w, "wb") as f:
            f.write(marshal.dumps(job))

    def receive(self, expect: str) -> tuple[dict[str, Any], list[int]]:
        try:
            msg, fds = recv(self.sock)
        except TimeoutError:
            raise SetupFailed(f"container set-up timed out waiting for {expect!r}",
                              step=expect) from None
        except OSError as e:  # the launcher died mid-conversation (its container exited)
            code = self._status()
            raise SetupFailed(f"container set-up: the launcher went away ({code}) "
                              f"before {expect!r}: {e.strerror or e}", step=expect,
                              errno=e.errno or 0) from None
        if msg is None:
            code = self._status()
            raise SetupFailed(f"container set-up: the launcher exited early ({code}) "
                              f"before {expect!r}", step=expect)
        if msg.get("t") == "error":
            raise setup_error(msg)
        if msg.get("t") != expect:
            raise SetupFailed(f"container set-up: unexpected message {msg!r}", step=expect)
        return msg, fds

    def _status(self) -> str:
        code = self.proc.poll()
        return "status unknown" if code == UNKNOWN_STATUS else f"status {code}"

    def until_running(self, on_pid: Callable[[int], None] | None = None
                      ) -> tuple[int, int | None]:
        """pid, then ready (with the pty master), reaping the launcher between;
        ``on_pid`` runs while PID 1 sets itself up."""
        msg, _ = self.receive("pid")
        self.pid = int(msg["pid"])
        if on_pid is not None:
            try:
                on_pid(self.pid)
            except BaseException:
                self._raise_reported()  # PID 1's own failure explains this one
                raise
        self.proc.wait()
        _, fds = self.receive("ready")
        return self.pid, (fds[0] if fds else None)

    def _raise_reported(self) -> None:
        """Raise the error PID 1 reported, if it has (it fails, says why, and exits:
        then whatever the caller was doing with its namespaces failed too)."""
        import select

        if not select.select([self.sock], [], [], 0.05)[0]:
            return
        with contextlib.suppress(OSError, ValueError):
            msg, fds = recv(self.sock)
            for fd in fds:
                os.close(fd)
            if msg is not None and msg.get("t") == "error":
                raise setup_error(msg)

    def start(self) -> None:
        """Tell PID 1 to go; EOF means its execve succeeded."""
        send(self.sock, {"t": "start"})
        try:
            msg, fds = recv(self.sock)
        except TimeoutError:
            raise SetupFailed("container start timed out", step="start") from None
        except OSError as e:  # PID 1 died before its exec (its container was killed)
            raise SetupFailed(f"container start: {e.strerror or e}", step="start",
                              errno=e.errno or 0) from None
        for fd in fds:
            os.close(fd)
        if msg is not None:
            raise setup_error(msg)

    def abort(self) -> None:
        """Kill what this launch made and reap it."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        self.sock.close()


@dataclass
class Container:
    """A created container. ``pid`` is its PID 1 on the host, a child of the calling
    process (which create() made a child subreaper)."""

    spec: ContainerSpec
    pid: int
    pty_master: int | None
    _launch: _Launch | None = field(default=None, repr=False)
    _pidfd: int | None = field(default=None, repr=False)
    returncode: int | None = None

    def start(self) -> None:
        """Let PID 1 exec the command. On failure the container is gone (destroyed)
        and the EngineError carries docker's exit code (125/126/127)."""
        if self._launch is None:
            raise EngineError(f"container {self.spec.id} was already started")
        launch, self._launch = self._launch, None
        try:
            launch.start()
        except EngineError:
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(self.pid, 0)
                self.returncode = exit_status(status)
            destroy(self.spec)
            raise
        finally:
            launch.sock.close()

    @property
    def pidfd(self) -> int:
        """A pidfd of PID 1, readable when it exits: for trio.lowlevel.wait_readable."""
        if self._pidfd is None:
            self._pidfd = L.pidfd_open(self.pid)
        return self._pidfd

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = exit_status(status)
        return self.returncode

    def wait(self) -> int:
        """Block until PID 1 exits; its exit code (128+N after signal N)."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = exit_status(status)
        return self.returncode

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Signal PID 1 only (what ``docker kill``/``stop`` send first)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def close(self) -> None:
        """Close the fds this object holds (pidfd, pty master, socket)."""
        if self._launch is not None:
            self._launch.abort()
            self._launch = None
        for fd in (self._pidfd, self.pty_master):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pidfd = self.pty_master = None


def create(spec: ContainerSpec, *, stdin: Stdio = None, stdout: Stdio = None,
           stderr: Stdio = None, timeout: float = 30.0,
           on_pid: Callable[[int], None] | None = None) -> Container:
    """Make the container up to the point of exec and return it waiting for start().

    Blocking (tens of ms): from trio, call it in ``trio.to_thread.run_sync``. Sets
    PR_SET_CHILD_SUBREAPER on the calling process. Fills in ``spec.cgroup_parent``.
    On any failure everything made so far is removed and a SetupFailed names the
    step (CommandNotFound and CannotExecute for the final exec).
    With ``spec.process.terminal`` the stdio arguments are ignored and the pty's
    master side is ``Container.pty_master``. ``on_pid(pid)`` is called as soon as PID 1
    exists in its namespaces, while it builds its filesystem (the caller wires its
    network meanwhile, instead of after); if it raises, the container is destroyed.
    """
    expect_create()
    if not spec.cgroup_parent:
        spec.cgroup_parent = f"pycompose/{root_id()}"
    check_sysctls(spec)
    bpf = _seccomp_bpf(spec)
    root = Path(spec.root)
    root.mkdir(parents=True, exist_ok=True)
    cg = cgroup_of(spec)
    launch: _Launch | None = None
    try:
        (root / "rootfs").mkdir(exist_ok=True)
        full = replace(spec, mounts=[*spec.mounts, *_runtime_mounts(spec)])
        cg.create(spec.resources, spec.privileged)
        tasks, procs = cg.join_files()
        job = {"spec": asdict(full), "seccomp_bpf": bpf, "cgroup_procs": [],
               "cgroup_tasks": tasks, "cgroup_mounts": [[h.version, os.path.basename(h.mountpoint),
                                  sorted(h.controllers)] for h, _ in cg.paths]}
        if spec.process.terminal:
            stdin = stdout = stderr = subprocess.DEVNULL
        launch = _Launch("create", job, procs, stdin, stdout, stderr, timeout)
        pid, master = launch.until_running(on_pid)
    except BaseException:
        if launch is not None:
            launch.abort()
        destroy(spec)
        raise
    finally:
        spare.refill_soon()
    return Container(spec, pid, master, launch)


def run(spec: ContainerSpec, **kwargs: Any) -> Container:
    """create() then start(): the container is running when this returns."""
    c = create(spec, **kwargs)
    c.start()
    return c


@dataclass
class ExecProcess:
    pid: int
    pty_master: int | None

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return exit_status(status)


def exec_process(spec: ContainerSpec, target_pid: int, process: Process, *,
                 stdin: Stdio = None, stdout: Stdio = None, stderr: Stdio = None,
                 timeout: float = 30.0) -> ExecProcess:
    """Run ``process`` in the running container whose PID 1 is ``target_pid``: all
    its namespaces, its cgroup, its capabilities, seccomp and no_new_privs. Returns
    once the process has exec'd; it is a child of the caller (subreaper)."""
    try:
        os.kill(target_pid, 0)
    except ProcessLookupError:
        raise NotFound(f"container {spec.id} is not running") from None
    expect_create()
    tasks, procs = cgroup_of(spec).join_files()
    job: dict[str, Any] = {"spec": asdict(spec), "seccomp_bpf": _seccomp_bpf(spec),
           "cgroup_procs": [], "cgroup_tasks": tasks, "target_pid": target_pid,
           "process": asdict(process)}
    if process.terminal:
        stdin = stdout = stderr = subprocess.DEVNULL
    launch = _Launch("exec", job, procs, stdin, stdout, stderr, timeout)
    master: int | None = None
    try:
        pid, master = launch.until_running()
        launch.start()
    except BaseException:
        # Reap the half-made process: a zombie from the container's PID namespace
        # would keep that namespace's PID 1 from ever being reaped.
        if master is not None:
            os.close(master)
        launch.abort()
        raise
    finally:
        launch.sock.close()
        spare.refill_soon()
    return ExecProcess(pid, master)


def resize_pty(master: int, rows: int, cols: int) -> None:
    """Follow the user's terminal: set the pty's window size (the kernel sends the
    container's foreground process group SIGWINCH)."""
    import fcntl
    import struct

    fcntl.ioctl(master, L.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def kill_all(spec: ContainerSpec, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to every process in the container's cgroup."""
    cgroup_of(spec).kill_all(sig)


def oom_killed(spec: ContainerSpec) -> bool:
    """Whether the OOM killer struck in the container (ask before destroy())."""
    return cgroup_of(spec).oom_killed()


def freeze(spec: ContainerSpec, frozen: bool) -> None:
    """Freeze (``pause``) or thaw every process of the container."""
    cgroup_of(spec).freeze(frozen)


def stats(spec: ContainerSpec) -> dict[str, int]:
    """The container's cgroup counters (see ``Cgroup.stats``)."""
    return cgroup_of(spec).stats()


def _mounts_under(path: str) -> list[str]:
    prefix = path.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path or mp.startswith(prefix):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def destroy(spec: ContainerSpec) -> None:
    """Kill every process, remove the cgroups, unmount anything under spec.root and
    remove it. Idempotent. The caller's upper/work dirs and volumes are left alone."""
    cgroup_of(spec).remove()
    for mp in _mounts_under(spec.root):
        with contextlib.suppress(OSError):
            L.umount2(mp, L.MNT_DETACH)
    shutil.rmtree(spec.root, ignore_errors=True)


def destroy_id(root: Path, cid: str) -> None:
    """destroy() for container ``cid`` of state root ``root`` knowing nothing else: its
    cgroups are ``pycompose/<root id>/<cid>``, its mounts and files under
    ``containers/<cid>/rt`` (as the supervisor lays them out)."""
    rdir = str(root.absolute() / "containers" / cid / "rt")
    Cgroup.for_container(f"pycompose/{root_id(root)}", cid).remove()
    for mp in _mounts_under(rdir):
        with contextlib.suppress(OSError):
            L.umount2(mp, L.MNT_DETACH)
    shutil.rmtree(rdir, ignore_errors=True)


def remove_idle_root_cgroups(rid: str) -> bool:
    """Remove the container cgroups under ``pycompose/<rid>`` (a root that is gone)
    if not one of them holds a process; False, and nothing removed, if one does (a
    container of that root still runs: it is not ours to kill)."""
    parent = f"pycompose/{rid}"
    cgroups = [Cgroup.for_container(parent, cid) for cid in leftovers(parent)]
    if any(cg.pids() for cg in cgroups):
        return False
    for cg in cgroups:
        cg.remove()
    return True


def cleanup_leftovers(root: Path | None = None, keep: set[str] | frozenset[str] = frozenset()
                      ) -> list[str]:
    """Remove what crashed processes left for state root ``root``: cgroups of
    containers not in ``keep`` (their processes killed) and any host mount under their
    ``containers/<id>/``. Returns what was removed, for a log line."""
    base = (root or state_root()).absolute()
    parent = f"pycompose/{root_id(base)}"
    removed = []
    for cid in leftovers(parent, keep):
        Cgroup.for_container(parent, cid).remove()
        removed.append(f"cgroup {parent}/{cid}")
    # only what the runtime mounts, under containers/<id>/: the state root itself may
    # well be a mount of its own (a disk for /var/lib/pycompose, a tmpfs), and was
    # unmounted from under the supervisor that started on it
    cdir = base / "containers"
    for mp in _mounts_under(str(cdir)):
        if mp == str(cdir) or Path(mp).relative_to(cdir).parts[0] in keep:
            continue
        try:
            L.umount2(mp, L.MNT_DETACH)
            removed.append(f"mount {mp}")
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOENT):
                raise EngineError(f"cannot unmount {mp}: {e.strerror}") from None
    return removed
