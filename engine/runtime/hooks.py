"""OCI hooks: programs the runtime runs at points of a container's life, each given
the container's state JSON on its stdin (runtime-spec config.md "POSIX-platform Hooks").

``prestart``, ``createRuntime``, ``poststart`` and ``poststop`` run in the runtime's
namespaces; ``createContainer`` and ``startContainer`` in the container's (their
program is looked up on the host for the first, inside the container for the second:
``in_container``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable

from ..errors import SetupFailed
from .oci import Hook

_JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt")


def run_hook(hook: Hook, state_json: str, kind: str, *, container_pid: int | None = None,
             resolve_in_container: bool = False) -> None:
    """Run one hook to its end; SetupFailed names it if it fails, times out or cannot
    be run. ``container_pid``: run it in that process's namespaces."""
    argv = hook.args or [hook.path]
    env = dict(e.partition("=")[::2] for e in hook.env)
    preexec = None
    exe_fd: int | None = None
    ns_fds: list[tuple[str, int]] = []
    executable = hook.path
    if container_pid is not None:
        if not resolve_in_container:
            try:  # the program is the host's: open it before entering the container
                exe_fd = os.open(hook.path, os.O_PATH | os.O_CLOEXEC)
            except OSError as e:
                raise SetupFailed(f"{kind} hook {hook.path}: {e.strerror}",
                                  step=f"{kind} hook", errno=e.errno or 0) from None
        ns_fds = _namespace_fds(container_pid)
        preexec = _enter(ns_fds, exe_fd, argv, env)
    try:
        proc = subprocess.Popen(argv, executable=executable, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=preexec, start_new_session=True)
    except OSError as e:
        raise SetupFailed(f"{kind} hook {hook.path}: {e.strerror}", step=f"{kind} hook",
                          errno=e.errno or 0) from None
    finally:
        for fd in [exe_fd, *(fd for _, fd in ns_fds)]:
            if fd is not None:
                os.close(fd)
    try:
        _, err = proc.communicate(state_json.encode(), timeout=hook.timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise SetupFailed(f"{kind} hook {hook.path}: timed out after {hook.timeout} s",
                          step=f"{kind} hook") from None
    except BrokenPipeError:  # a hook that does not read its stdin is fine
        deadline = None if hook.timeout is None else time.monotonic() + hook.timeout
        err = b""
        while proc.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise SetupFailed(f"{kind} hook {hook.path}: timed out after "
                                  f"{hook.timeout} s", step=f"{kind} hook") from None
            time.sleep(0.01)
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        raise SetupFailed(f"{kind} hook {hook.path} exited with status {proc.returncode}"
                          + (f": {detail[-1]}" if detail else ""), step=f"{kind} hook")


def _namespace_fds(pid: int) -> list[tuple[str, int]]:
    """Open ``pid``'s namespaces that differ from ours, in the order to join them."""
    fds = []
    for name in _JOIN_ORDER:
        theirs = f"/proc/{pid}/ns/{name}"
        try:
            if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
            fds.append((name, os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)))
        except FileNotFoundError:
            continue
    return fds


def _enter(fds: list[tuple[str, int]], exe_fd: int | None, argv: list[str],
           env: dict[str, str]) -> Callable[[], None]:
    """A preexec function that joins the namespaces (so the hook runs in the
    container; the pid namespace applies to the hook's own children). With
    ``exe_fd`` it execs the host's program itself, by fd: no path of the container's
    (its /proc does not show this process) could name it."""
    from . import linux as L

    def enter() -> None:
        for name, fd in fds:
            L.setns(fd, L.NS_FLAGS[name])
        os.chdir("/")
        if exe_fd is not None:
            os.execve(exe_fd, argv, env)

    return enter
