"""The supervisor's one seam to ``engine.runtime`` (namespaces, mounts, cgroups),
imported by each call (the runtime package loads its parts lazily too).

Everything the supervisor asks of the kernel about a container goes through these few
functions, so that the holder's logic reads without syscalls and the runtime's API can
move without touching it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import ContainerSpec, Process


@dataclass
class Started:
    pid: int
    pty_master: int | None


def create(spec: ContainerSpec, stdio: tuple[int | None, int | None, int | None],
           before_start: Callable[[int], None] | None = None) -> Started:
    """Start the container's PID 1 as our child; raises EngineError naming the step.
    Blocking (tens of ms): the holder calls it in a worker thread. ``before_start``
    (the network's wiring) runs while PID 1 builds its filesystem, before the exec."""
    from .. import runtime

    c = runtime.create(spec, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                       on_pid=before_start)
    try:
        c.start()  # on failure the runtime has already destroyed what it made
    except BaseException:
        if c.pty_master is not None:
            os.close(c.pty_master)
        raise
    return Started(int(c.pid), c.pty_master)


def exec_process(spec: ContainerSpec, pid: int, process: Process,
                 stdio: tuple[int | None, int | None, int | None]) -> Started:
    """Start one more process in the running container ``spec`` whose PID 1 is ``pid``."""
    from .. import runtime

    c = runtime.exec_process(spec, pid, process, stdin=stdio[0], stdout=stdio[1],
                             stderr=stdio[2])
    return Started(int(c.pid), getattr(c, "pty_master", None))


def expect_create() -> None:
    """A request that starts a process has arrived: let the runtime begin the slow part
    of its first cgroup move while the request is prepared."""
    from .. import runtime

    runtime.expect_create()


def warm_launcher() -> None:
    """Keep a launcher started ahead of its job from now on: each create/exec then
    skips the interpreter's start-up (~15 ms), and the runtime starts the next spare
    in the background. Pair with stop_warm_launcher()."""
    from .. import runtime

    runtime.warm_launcher()


def stop_warm_launcher() -> None:
    """End the waiting launcher: nothing of ours may outlive the supervisor."""
    from .. import runtime

    runtime.stop_warm_launcher()


def kill_all(spec: ContainerSpec, sig: int = signal.SIGKILL) -> None:
    """Signal every process in the container's cgroup."""
    from .. import runtime

    runtime.kill_all(spec, sig)


def freeze(spec: ContainerSpec, frozen: bool) -> None:
    """Freeze (pause) or thaw every process in the container's cgroup."""
    from .. import runtime

    runtime.freeze(spec, frozen)


def stats(spec: ContainerSpec) -> dict[str, int]:
    """The container's cgroup counters: memory, memory_limit, cpu_ns, pids."""
    from .. import runtime

    return dict(runtime.stats(spec))


def oom_killed(spec: ContainerSpec) -> bool:
    from .. import runtime

    try:
        return bool(runtime.oom_killed(spec))
    except OSError:
        return False


def destroy(spec: ContainerSpec) -> None:
    """Unmount, remove the cgroup and the runtime dir. Idempotent."""
    from .. import runtime

    runtime.destroy(spec)


def destroy_id(root: Path, cid: str) -> None:
    """destroy() from the container's id alone (its record may be unreadable): every
    object the runtime made for it is named by the id under the state root."""
    from .. import runtime

    runtime.destroy_id(root, cid)


def cleanup_leftovers(root: Path, keep: set[str]) -> None:
    """Remove the kernel objects of containers under ``root`` that are not in ``keep``."""
    from .. import runtime

    runtime.cleanup_leftovers(root, keep=keep)


def remove_idle_root_cgroups(rid: str) -> bool:
    """The container cgroups of root id ``rid`` (a root that is gone), if none holds
    a process; False if one does."""
    from .. import runtime

    return runtime.remove_idle_root_cgroups(rid)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: with the pid it names one process for good (pids are
    reused; a pid and its start time are not). None for a zombie: it has exited, only
    its parent has not reaped it yet (after a crash, that parent is init, which may
    take a while)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None
