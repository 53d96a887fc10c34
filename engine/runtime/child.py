"""The launcher: ``python -S -m pycompose.engine.runtime.child MODE SOCK_FD JOB_FD``.

A fresh interpreter, never a fork of the caller (which may be a threaded trio
process), that imports only the standard library and this package's small modules.
MODE "create" joins the cgroup, unshares the namespaces, forks the container's PID 1
and exits; PID 1 builds the filesystem and the process, says "ready", waits for
"start", then drops privileges and execs. MODE "exec" enters a running container's
namespaces and cgroup and does the same for one more process. protocol.py draws the
conversation.

Everything a step needs from the host (modules, the seccomp program, which the caller
compiles with libseccomp and caches) is loaded before pivot_root: after it, the host's
files are gone.
"""

from __future__ import annotations

import _signal
import _socket
import errno
import fcntl
import marshal
import os
import resource
import stat
import struct
import sys

from . import linux as L
from . import mounts
from .caps import CAPABILITIES
from .protocol import StepError, error_message, exit_code_for, recv, send

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ms
if TYPE_CHECKING:
    from _socket import socket as Socket
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Linux's RLIMIT_* numbers by docker's ``--ulimit`` names (``resource`` lacks some).
RLIMITS = {
    "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6,
    "nofile": 7, "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12,
    "nice": 13, "rtprio": 14, "rttime": 15,
}


def step(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise StepError(name, e.errno or errno.EIO, e.strerror or str(e)) from None


# --- the user and the executable, looked up inside the container ------------------

def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()
                    and not line.startswith("#")]
    except FileNotFoundError:
        return []


def resolve_user(user: str, extra_gids: list[int], root: str = "/"
                 ) -> tuple[int, int, list[int], str]:
    """docker's ``-u``: (uid, gid, supplementary gids, home) from /etc/passwd and
    /etc/group of the container. Numeric ids need no entry; names do."""
    name, _, group = (user or "0").partition(":")
    passwd = _read_db(os.path.join(root, "etc/passwd"))
    groups = _read_db(os.path.join(root, "etc/group"))
    entry = None
    for row in passwd:
        if len(row) >= 7 and (row[0] == name or (name.isdigit() and row[2] == name)):
            entry = row
            break
    if entry is None and not name.isdigit():
        raise StepError("look up user", errno.ENOENT,
                        f"unable to find user {name}: no matching entries in passwd file")
    uid = int(entry[2]) if entry else int(name)
    gid = int(entry[3]) if entry else 0
    home = entry[5] if entry else "/"
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [r for r in groups if len(r) >= 3 and r[0] == group]
            if not match:
                raise StepError("look up group", errno.ENOENT,
                                f"unable to find group {group}: no matching entries in "
                                "group file")
            gid = int(match[0][2])
    supp = list(extra_gids)
    if entry and not group:
        for r in groups:
            if len(r) >= 4 and entry[0] in r[3].split(",") and int(r[2]) not in supp:
                supp.append(int(r[2]))
    return uid, gid, supp, home


def find_executable(arg0: str, path: str, root: str = "/") -> str:
    """Like execvp's search, but telling not-found (127) from not-runnable (126).
    Returns the path as the container sees it."""
    if "/" in arg0:
        candidates = [arg0]
    else:
        candidates = [os.path.join(d or ".", arg0) for d in path.split(":")]
    denied = None
    for c in candidates:
        try:
            st = os.stat(os.path.join(root, c.lstrip("/")) if root != "/" else c)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            denied = errno.EISDIR if "/" in arg0 else denied
            continue
        if not st.st_mode & 0o111:
            denied = errno.EACCES
            continue
        return c
    if denied:
        raise StepError("exec", denied, f"{arg0}: {os.strerror(denied).lower()}")
    if "/" in arg0:
        raise StepError("exec", errno.ENOENT, f"{arg0}: no such file or directory")
    raise StepError("exec", errno.ENOENT, f'"{arg0}": executable file not found in $PATH')


# --- the pty -----------------------------------------------------------------------

def open_pty(size: list[int] | None, uid: int) -> tuple[int, int, str]:
    """A pty from the container's own devpts: (master, slave, slave path)."""
    master = step("open /dev/pts/ptmx", os.open, "/dev/pts/ptmx",
                  os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    step("unlock pty", fcntl.ioctl, master, L.TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("I", fcntl.ioctl(master, L.TIOCGPTN, struct.pack("I", 0)))[0]
    path = f"/dev/pts/{n}"
    slave = step(f"open {path}", os.open, path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    if size:
        fcntl.ioctl(slave, L.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    step(f"chown {path}", os.fchown, slave, uid, -1)
    return master, slave, path


# --- the common tail: prepare the process, handshake, drop privileges, exec ---------

def prepare_process(spec: dict[str, Any], proc: dict[str, Any], *, use_init: bool,
                    console: bool) -> dict[str, Any]:
    """Everything that can fail before "ready": user, env, cwd, executable, pty."""
    uid, gid, groups, home = resolve_user(proc["user"], proc["additional_gids"])
    env = list(proc["env"])
    keys = {e.partition("=")[0] for e in env}
    if "PATH" not in keys:
        env.append("PATH=" + DEFAULT_PATH)
    if "HOME" not in keys:
        env.append("HOME=" + home)
    if proc["terminal"] and "TERM" not in keys:
        env.append("TERM=xterm")
    path = next(e[5:] for e in env if e.startswith("PATH="))
    cwd = proc["cwd"] or "/"
    if not os.path.isdir(cwd):
        step(f"create working directory {cwd}", os.makedirs, cwd, 0o755)
    if not proc["args"]:
        raise StepError("exec", errno.ENOENT, "no command specified")
    exe = find_executable(proc["args"][0], path)
    argv = list(proc["args"])
    if use_init:
        argv = ["/dev/init", "--", exe, *argv[1:]]
        exe = "/dev/init"
    out = {"uid": uid, "gid": gid, "groups": groups, "env": env, "cwd": cwd,
           "exe": exe, "argv": argv, "master": -1, "slave": -1, "umask": proc.get("umask")}
    if proc["terminal"]:
        out["master"], out["slave"], slave_path = open_pty(proc.get("console_size"), uid)
        if console:
            step("create /dev/console", mounts._touch, "/dev/console")
            step("bind /dev/console", L.mount, slave_path, "/dev/console", None, L.MS_BIND)
    return out


def handshake(sock: Socket, prepared: dict[str, Any]) -> bool:
    """Say "ready" (with the pty master), wait for "start"; False if told otherwise."""
    fds = [prepared["master"]] if prepared["master"] >= 0 else []
    send(sock, {"t": "ready", "pid": os.getpid()}, fds)
    if prepared["master"] >= 0:
        os.close(prepared["master"])
    msg, _ = recv(sock)
    return bool(msg and msg.get("t") == "start")


def last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def held_caps() -> int:
    """This process's permitted set: what the container can get at most (root here
    lacks CAP_SYS_RESOURCE, for one)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


def cap_mask(spec: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """The container's capability masks (bounding, effective, permitted, inheritable,
    ambient); privileged gets all this host's root holds. Docker's one list is the
    bounding, effective and permitted set."""
    held = held_caps()
    if spec["privileged"]:
        return held, held, held, 0, 0
    sets = spec.get("capability_sets")
    names = [spec["capabilities"]] * 3 + [[], []] if sets is None else [
        sets["bounding"], sets["effective"], sets["permitted"], sets["inheritable"],
        sets["ambient"]]
    masks = []
    for group in names:
        m = 0
        for name in group:
            if name not in CAPABILITIES:
                raise StepError("set capabilities", errno.EINVAL, f"unknown capability {name}")
            m |= 1 << CAPABILITIES[name]
        masks.append(m)
    wanted = masks[0] | masks[1] | masks[2]
    missing = [n for n, i in CAPABILITIES.items() if (wanted & ~held) >> i & 1]
    if missing:
        raise StepError("set capabilities", errno.EPERM,
                        f"{', '.join(missing)} not held by root on this host")
    b, e, p, i, a = masks
    return b, e, p, i, a


def default_signals() -> None:
    """Every signal at its default disposition and none blocked, as runc starts a
    container's process. Ignored signals and the blocked mask survive execve, and this
    process inherits both from whoever started the engine: Python ignores SIGPIPE and
    SIGXFSZ, ``nohup`` ignores SIGHUP (and a shell cannot trap what it started with
    ignored), a threaded caller may block SIGCHLD. Handled signals reset at execve by
    themselves; doing them all here costs ~60 sigactions (tens of microseconds)."""
    for sig in _signal.valid_signals():
        if sig in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):  # glibc's own real-time signals refuse it
            continue
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def drop_and_exec(spec: dict[str, Any], p: dict[str, Any], filt: bytes | None,
                  sock: Socket, caps: tuple[int, int, int, int, int], top_cap: int) -> None:
    """The point of no return: session and tty, bounding set, ids, caps, seccomp,
    execve. Only an execve error comes back from here."""
    os.setsid()
    if p["slave"] >= 0:
        step("set controlling terminal", fcntl.ioctl, p["slave"], L.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(p["slave"], fd)
        os.close(p["slave"])
    bounding, effective, permitted, inheritable, ambient = caps
    for n in range(top_cap + 1):
        if not bounding >> n & 1:
            step("drop capability bounding set", L.prctl, L.PR_CAPBSET_DROP, n)
    nnp = spec["no_new_privileges"]
    if filt is not None and not nnp:
        step("load seccomp filter", L.seccomp_load_bpf, filt)
    step("keep capabilities", L.prctl, L.PR_SET_KEEPCAPS, 1)
    step("setgroups", L.setgroups, p["groups"])
    step(f"setgid {p['gid']}", os.setresgid, p["gid"], p["gid"], p["gid"])
    step(f"setuid {p['uid']}", os.setresuid, p["uid"], p["uid"], p["uid"])
    step("set capabilities", L.capset, effective, permitted, inheritable)
    step("clear ambient capabilities", L.prctl, L.PR_CAP_AMBIENT, L.PR_CAP_AMBIENT_CLEAR_ALL)
    for n in range(top_cap + 1):
        if ambient >> n & 1 and permitted >> n & 1 and inheritable >> n & 1:
            step("raise ambient capability", L.prctl, L.PR_CAP_AMBIENT,
                 L.PR_CAP_AMBIENT_RAISE, n)
    if p.get("umask") is not None:
        os.umask(p["umask"])
    if nnp:
        step("set no_new_privs", L.prctl, L.PR_SET_NO_NEW_PRIVS, 1)
        if filt is not None:
            step("load seccomp filter", L.seccomp_load_bpf, filt)
    step(f"chdir to {p['cwd']}", os.chdir, p["cwd"])
    default_signals()
    try:
        os.execve(p["exe"], p["argv"], dict(e.partition("=")[::2] for e in p["env"]))
    except OSError as e:
        err = e.errno or errno.EIO
        raise StepError("exec", err, f"{p['argv'][0]}: {os.strerror(err).lower()}") from None


# --- create: the launcher and PID 1 --------------------------------------------------

def _join_cgroups(job: dict[str, Any]) -> None:
    """Join the v1 hierarchies' cgroups by moving this (one) thread: "0" written to
    ``tasks`` takes no global lock, where a pid would (Cgroup.join_files says why)."""
    me = str(os.getpid())
    for path, who in [*((p, "0") for p in job.get("cgroup_tasks", ())),
                      *((p, me) for p in job["cgroup_procs"])]:
        try:
            with open(path, "w") as f:
                f.write(who)
        except OSError as e:
            raise StepError(f"join cgroup {os.path.dirname(path)}", e.errno or errno.EIO,
                            e.strerror or "") from None


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def launch_create(job: dict[str, Any], sock: Socket) -> int:
    spec = job["spec"]
    ns: dict[str, str | None] = spec["namespaces"]
    _join_cgroups(job)
    adj = spec["resources"]["oom_score_adj"]
    if adj is not None:
        step(f"set oom_score_adj {adj}", _write_file, "/proc/self/oom_score_adj", str(adj))
    userns = "user" in ns and bool(spec["uid_map"])
    trees: dict[int, tuple[int, bool]] = {}
    if userns:  # the rootfs is mounted here, before joining it: see userns.py
        from . import userns as U

        trees = U.enter(spec)
    for name in ("cgroup", "ipc", "uts", "net", "pid", "mnt"):
        target = ns.get(name)
        if name in ns and target not in (None, "host"):
            fd = step(f"open {name} namespace {target}", os.open, target, os.O_RDONLY)
            step(f"join {name} namespace {target}", L.setns, fd, L.NS_FLAGS[name])
            os.close(fd)
    # a new mount namespace unless the spec says "host" or a path (OCI bundles only)
    flags = L.CLONE_NEWNS if ns.get("mnt") is None else 0
    for name, target in ns.items():
        if target is None and name not in ("user", "mnt"):
            flags |= L.NS_FLAGS[name]
    step("unshare namespaces", L.unshare, flags)
    if flags & L.CLONE_NEWNET:  # docker's ``--network none`` has lo, and lo is up
        step("bring lo up", L.link_up, "lo")
    pid = fork_after_pid_sent(sock)
    if pid == 0:
        os._exit(run_pid1(job, sock, userns, trees))
    return 0


def fork_after_pid_sent(sock: Socket) -> int:
    """fork; the parent sends the child's host pid, and only then may the child speak
    (else its first packet could overtake the pid, and a failing child would be a
    process the caller cannot name and reap)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # b"" too if the launcher died: then the send below fails or EOFs
        os.close(r)
        return 0
    os.close(r)
    try:
        send(sock, {"t": "pid", "pid": pid})
    finally:
        os.write(w, b"x")
        os.close(w)
    return pid


def build_filesystem(job: dict[str, Any], spec: dict[str, Any], userns: bool,
                     trees: dict[int, tuple[int, bool]]) -> None:
    """In the container's new mount namespace: the rootfs, its mounts and devices,
    pivot_root, sysctls, masked and read-only paths."""
    step("make mounts private", L.mount, None, "/", None, L.MS_REC | L.MS_PRIVATE)
    if userns:
        # the launcher mounted it (host root, idmapped layers) and left the cwd
        # at spec.root, which the container's root may not be able to reach
        rootfs = "rootfs"
        mounts.bind_self(rootfs)
    else:
        rootfs = os.path.join(spec["root"], "rootfs")
        mounts.mount_rootfs(spec["rootfs"], rootfs)
    if spec.get("system_mounts", True):
        mounts.mount_system(rootfs, spec, userns=userns)
        if spec["namespaces"].get("cgroup", "host") is None:
            mounts.mount_cgroups(rootfs, job["cgroup_mounts"], writable=spec["privileged"])
        order = sorted(enumerate(spec["mounts"]),
                       key=lambda im: len(im[1]["target"].rstrip("/").split("/")))
    else:
        order = list(enumerate(spec["mounts"]))  # the OCI way: as listed
    for i, m in order:
        if m["type"] == "cgroup" and not spec.get("system_mounts", True):
            mounts.mount_cgroups(mounts.secure_join(rootfs, m["target"]),
                                 job["cgroup_mounts"], writable="ro" not in m["options"],
                                 at_target=True)
            continue
        mounts.mount_user(rootfs, m, trees.get(i))
    if not spec.get("system_mounts", True):
        mounts.default_devices(rootfs, userns=userns)
    mounts.make_device_nodes(rootfs, spec.get("devices", []), userns=userns)
    for fd, _ in trees.values():
        os.close(fd)
    mounts.pivot(rootfs)
    if spec.get("rootfs_propagation"):
        mounts.propagate_root(spec["rootfs_propagation"])
    for key, value in spec["sysctls"].items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise StepError(f"sysctl {key}={value}", e.errno or errno.EIO,
                            e.strerror or "") from None
    if not spec["privileged"]:
        mounts.mask_paths(spec["masked_paths"])
        mounts.readonly_paths(spec["readonly_paths"])


def run_pid1(job: dict[str, Any], sock: Socket, userns: bool,
             trees: dict[int, tuple[int, bool]]) -> int:
    try:
        spec = job["spec"]
        filt = job["seccomp_bpf"]
        caps = cap_mask(spec)
        top_cap = last_cap()
        if spec["namespaces"].get("mnt") is None:
            build_filesystem(job, spec, userns, trees)
        elif isinstance(spec["rootfs"], str):
            # OCI, no mount namespace of its own (the host's, or one joined by path):
            # nothing is mounted in a namespace others use; the root is a chroot
            step(f"chroot {spec['rootfs']}", os.chroot, spec["rootfs"])
            step("chdir /", os.chdir, "/")
        if spec["hostname"] and spec["namespaces"].get("uts", "host") is None:
            step("sethostname", L.sethostname, spec["hostname"])
        if spec.get("domainname") and spec["namespaces"].get("uts", "host") is None:
            step("setdomainname", L.setdomainname, spec["domainname"])
        for rl in spec["rlimits"]:
            _setrlimit(rl)
        prepared = prepare_process(spec, spec["process"], use_init=spec["init"], console=True)
        if spec["readonly_rootfs"] and spec["namespaces"].get("mnt") is None:
            mounts.readonly_root()
        if not handshake(sock, prepared):
            return 0
        drop_and_exec(spec, prepared, filt, sock, caps, top_cap)
        return 0
    except StepError as e:
        _report(sock, e.message())
        return exit_code_for(e.step, e.errno)
    except BaseException as e:  # a bug: still one clear message, never a traceback
        _report(sock, error_message("container set-up", errno.EIO, f"internal error: {e!r}"))
        return 125


def _setrlimit(rl: dict[str, Any]) -> None:
    name = rl["name"]
    if name not in RLIMITS:
        raise StepError(f"ulimit {name}", errno.EINVAL, f"unknown ulimit {name!r}")
    try:
        resource.setrlimit(RLIMITS[name], (rl["soft"], rl["hard"]))
    except ValueError as e:
        raise StepError(f"ulimit {name}", errno.EINVAL, str(e)) from None
    except OSError as e:
        if e.errno == errno.EPERM:
            cur = resource.getrlimit(RLIMITS[name])[1]
            raise StepError(f"ulimit {name}", errno.EPERM,
                            f"cannot raise the hard limit to {rl['hard']} (now {cur}): that "
                            "needs CAP_SYS_RESOURCE, which root on this host lacks") from None
        raise StepError(f"ulimit {name}", e.errno or errno.EIO, e.strerror or "") from None


def _report(sock: Socket, msg: dict[str, Any]) -> None:
    try:
        send(sock, msg)
    except OSError:
        pass


# --- exec: one more process in a running container ------------------------------------

def launch_exec(job: dict[str, Any], sock: Socket) -> int:
    spec = job["spec"]
    target = job["target_pid"]
    filt = job["seccomp_bpf"]
    caps = cap_mask(spec)
    top_cap = last_cap()
    _join_cgroups(job)
    fds = []
    for name in ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt"):
        theirs = f"/proc/{target}/ns/{name}"
        try:
            if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
        except FileNotFoundError:
            continue
        fds.append((name, step(f"open {theirs}", os.open, theirs, os.O_RDONLY)))
    for name, fd in fds:
        step(f"join {name} namespace", L.setns, fd, L.NS_FLAGS[name])
        os.close(fd)
    pid = fork_after_pid_sent(sock)
    if pid == 0:
        try:
            prepared = prepare_process(spec, job["process"], use_init=False, console=False)
            if handshake(sock, prepared):
                drop_and_exec(spec, prepared, filt, sock, caps, top_cap)
            os._exit(0)
        except StepError as e:
            _report(sock, e.message())
            os._exit(exit_code_for(e.step, e.errno))
        except BaseException as e:
            _report(sock, error_message("exec set-up", errno.EIO, f"internal error: {e!r}"))
            os._exit(125)
    return 0


def main(argv: list[str]) -> int:
    mode, sock_fd, job_fd = argv[0], int(argv[1]), int(argv[2])
    os.set_inheritable(sock_fd, False)  # never leak it into the container's process
    sock = _socket.socket(fileno=sock_fd)
    with os.fdopen(job_fd, "rb") as f:
        data = f.read()
    if not data:  # the caller gave up before sending the job (it failed to join the
        return 0  # cgroup, or died): nothing was made, nothing to report
    job = marshal.loads(data)
    try:
        return launch_create(job, sock) if mode == "create" else launch_exec(job, sock)
    except StepError as e:
        _report(sock, e.message())
        return exit_code_for(e.step, e.errno)
    except BaseException as e:
        _report(sock, error_message("launcher", errno.EIO, f"internal error: {e!r}"))
        return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
