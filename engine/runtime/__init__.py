"""The low-level container runtime: namespaces, overlay rootfs, cgroups v1/v2,
capabilities, seccomp, a pty, and nothing underneath (no runc, no crun).

API (all blocking; from trio call create/exec_process in ``trio.to_thread.run_sync``
and wait for exits with ``trio.lowlevel.wait_readable(c.pidfd)`` + ``c.poll()``)::

    spec = ContainerSpec(id=..., root=<this container's runtime dir under the state root>,
        rootfs=Rootfs(lowerdirs=img.lowerdirs(), upperdir=..., workdir=...) | "/a/dir",
        process=Process(args=[...], env=[...], cwd="/", user="app", terminal=False),
        hostname=..., mounts=[Mount(target, type="bind"|"tmpfs"|..., source, options)],
        etc_files={"/etc/hosts": text, ...}, namespaces={"net": None|"host"|path, ...},
        resources=Resources(memory=..., pids_limit=..., ...), capabilities=[...],
        privileged=False, seccomp="default"|"unconfined"|path, no_new_privileges=False,
        readonly_rootfs=False, rlimits=[Rlimit("nofile", 1024, 1024)], sysctls={...},
        init=False, uid_map=[IdMap(0, 100000, 65536)], gid_map=[...])
    c = create(spec, stdin=fd, stdout=fd, stderr=fd)  # set up, waiting for start
    #   ... attach networks to /proc/{c.pid}/ns/net here ...
    c.start()              # exec; SetupFailed (CommandNotFound, CannotExecute) if it fails
    c.pid, c.pty_master    # host pid of PID 1 (a child of the caller), pty fd or None
    c.wait() / c.poll()    # exit code, 128+N after signal N (137 after an OOM kill)
    run(spec, ...)         # create + start
    container.resize_pty(c.pty_master, rows, cols)  # follow the user's terminal
    exec_process(spec, c.pid, Process(...), stdin=...) -> ExecProcess(pid, pty_master)
    kill_all(spec, sig)    # every process in the container's cgroup
    oom_killed(spec)       # for inspect's OOMKilled; ask before destroy
    destroy(spec)          # kill, remove cgroups and spec.root; idempotent
    destroy_id(root, cid)  # the same from a container id and state root alone
    cleanup_leftovers(state_root, keep={ids...})  # after a crash
    expect_create()        # a create/exec is coming: start its slow cgroup move now
    warm_launcher()        # long-lived callers: keep one launcher started ahead of its
    stop_warm_launcher()   #   job (create/exec skip ~15 ms); end it before exiting

The caller process becomes a child subreaper: containers' PID 1s (and exec'd
processes) are its children, whose exit statuses it must reap -- promptly: an exec'd
process left a zombie keeps its container's PID 1 from being reaped (the kernel waits
for every process of a PID namespace). stdio left None: stdin and stdout are
/dev/null, stderr is the caller's (where a launcher bug would show).

Errors are the kinds of ``engine/errors.py``: SetupFailed names the step that failed
(e.g. "mount /data on /srv: bind source /data: No such file or directory") and its
errno; its subclasses CommandNotFound and CannotExecute are docker's 127 and 126;
InvalidArgument is a spec the runtime refuses. A failed create/start leaves nothing.

cgroups: v1 (one dir per controller hierarchy) or v2 (one dir, controllers enabled
above it, devices allowlist as a BPF program), probed from /proc/self/mountinfo;
``$PYCOMPOSE_CGROUP2_ROOT`` forces v2 at a given cgroup2 mount (tests).

Mounts live only in the container's own mount namespace (made rprivate first): the
host never sees them, and they disappear with the container's last process. Cgroups
are ``<hierarchy>/pycompose/<root_id>/<id>``.

With ``uid_map`` (and "user" in namespaces) the image's layers are used as they are,
host-root-owned: the launcher, still host root, mounts the overlay on idmapped
clones of them and only then joins the user namespace (userns.py says why). The
upper/work dirs get chowned to the mapped root; the container's writes keep host
ids there (uid 100000 for its root). Layers already owned by mapped ids are not
idmapped again; a plain-directory rootfs is idmapped read-only.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the launcher imports this package
if TYPE_CHECKING:
    from typing import Any

    from .container import (
        Container,
        ExecProcess,
        cleanup_leftovers,
        create,
        destroy,
        destroy_id,
        exec_process,
        freeze,
        kill_all,
        oom_killed,
        remove_idle_root_cgroups,
        run,
        stats,
    )
    from .spare import expect_create, stop_warm_launcher, warm_launcher
    from .spec import ContainerSpec, IdMap, Mount, Process, Resources, Rlimit, Rootfs

__all__ = [
    "Container", "ContainerSpec", "ExecProcess", "IdMap", "Mount", "Process", "Resources",
    "Rlimit", "Rootfs", "cleanup_leftovers", "create", "destroy", "destroy_id", "exec_process",
    "expect_create", "freeze", "kill_all",
    "oom_killed", "remove_idle_root_cgroups", "run", "stats", "stop_warm_launcher",
    "warm_launcher",
]

_SPEC = {"ContainerSpec", "IdMap", "Mount", "Process", "Resources", "Rlimit", "Rootfs"}
_SPARE = {"expect_create", "stop_warm_launcher", "warm_launcher"}


def __getattr__(name: str) -> Any:
    # Lazy, so that the launcher (``python -S -m ...runtime.child``) imports only what
    # it needs: its start-up time is every container's start-up time.
    if name in _SPEC:
        from . import spec

        return getattr(spec, name)
    if name in _SPARE:
        from . import spare

        return getattr(spare, name)
    if name in __all__:
        from . import container

        return getattr(container, name)
    raise AttributeError(name)
