"""The container's filesystem: the rootfs, /proc /sys /dev with docker's options,
user mounts, masked and read-only paths. Run by PID 1 inside its own mount namespace,
so none of these mounts exists in the host's namespace and all vanish with it.

Pure helpers (option parsing, ``secure_join``) sit first and have unit tests; the
rest are steps that raise ``StepError`` naming what failed. User mount targets are
resolved inside the rootfs with ``openat2(RESOLVE_IN_ROOT)`` (engine/confined/kernel.py)
and mounted on through the fd, never by a path string a container could change
meanwhile (``secure_join`` stays for the OCI bundle's device nodes).
"""

from __future__ import annotations

import errno
import os
import stat

from . import linux as L
from .devices import DEFAULT_DEVICES, DEFAULT_SYMLINKS
from .protocol import StepError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ms
if TYPE_CHECKING:
    from typing import Any

_SET_FLAGS = {
    "ro": L.MS_RDONLY, "nosuid": L.MS_NOSUID, "nodev": L.MS_NODEV, "noexec": L.MS_NOEXEC,
    "sync": L.MS_SYNCHRONOUS, "dirsync": L.MS_DIRSYNC, "noatime": L.MS_NOATIME,
    "nodiratime": L.MS_NODIRATIME, "relatime": L.MS_RELATIME,
    "strictatime": L.MS_STRICTATIME, "bind": L.MS_BIND, "rbind": L.MS_BIND | L.MS_REC,
    "nosymfollow": L.MS_NOSYMFOLLOW,
}
_CLEAR_FLAGS = {
    "rw": L.MS_RDONLY, "suid": L.MS_NOSUID, "dev": L.MS_NODEV, "exec": L.MS_NOEXEC,
    "async": L.MS_SYNCHRONOUS, "atime": L.MS_NOATIME, "diratime": L.MS_NODIRATIME,
}
_PROPAGATION = {
    "private": L.MS_PRIVATE, "rprivate": L.MS_PRIVATE | L.MS_REC,
    "shared": L.MS_SHARED, "rshared": L.MS_SHARED | L.MS_REC,
    "slave": L.MS_SLAVE, "rslave": L.MS_SLAVE | L.MS_REC,
    "unbindable": L.MS_UNBINDABLE, "runbindable": L.MS_UNBINDABLE | L.MS_REC,
}
#: statvfs f_flag bits that mean the same as the MS_ flags (the low ones).
_STATVFS_KEEP = (L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | L.MS_SYNCHRONOUS
                 | L.MS_MANDLOCK | L.MS_NOATIME | L.MS_NODIRATIME)
_ST_RELATIME = 4096


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data) of docker/OCI-style options. Unknown
    words ("size=64m", "mode=1777", "uid=1000") go to the filesystem as data."""
    flags = 0
    propagation = 0
    data: list[str] = []
    for opt in options:
        if opt in _SET_FLAGS:
            flags |= _SET_FLAGS[opt]
        elif opt in _CLEAR_FLAGS:
            flags &= ~_CLEAR_FLAGS[opt]
        elif opt in _PROPAGATION:
            propagation = _PROPAGATION[opt]
        elif opt in ("defaults", "z", "Z", "nocopy", "copy"):
            continue
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """``root``/``path`` with every symlink resolved as the container would see it:
    an image's symlink to /etc (or ``..`` climbing) can never lead out of ``root``."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        here = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            target = os.readlink(here)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _step(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise StepError(name, e.errno or errno.EIO, f"{e.strerror or e}") from None


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _touch(path: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if not os.path.lexists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def _current_flags(path: str) -> int:
    f = os.statvfs(path).f_flag
    out = f & _STATVFS_KEEP
    if f & _ST_RELATIME:
        out |= L.MS_RELATIME
    return out


def remount(path: str, add: int, clear: int = 0) -> None:
    """Change a bind mount's flags, keeping the ones the kernel may have locked."""
    flags = (_current_flags(path) | add) & ~clear
    L.mount(None, path, None, L.MS_BIND | L.MS_REMOUNT | flags)


def mount_rootfs(rootfs: Any, target: str) -> None:
    """Overlay over the image's layers (or a bind of a plain directory) at ``target``."""
    _mkdirs(target)
    if isinstance(rootfs, str):
        _step(f"bind rootfs {rootfs}", L.mount, rootfs, target, None, L.MS_BIND | L.MS_REC)
        return
    lowers = rootfs["lowerdirs"]
    data = f"lowerdir={':'.join(lowers)},upperdir={rootfs['upperdir']},workdir={rootfs['workdir']}"
    if len(data) > 4000 and len(lowers) > 1:
        # the options must fit in one page: name the layers relative to their common
        # parent, which overlayfs resolves against the mounting process's cwd
        base = os.path.commonpath(lowers)
        _step(f"chdir {base}", os.chdir, base)
        data = (f"lowerdir={':'.join(os.path.relpath(d, base) for d in lowers)},"
                f"upperdir={rootfs['upperdir']},workdir={rootfs['workdir']}")
    if len(data) >= 4096:
        raise StepError("mount overlay rootfs", errno.E2BIG,
                        f"{len(lowers)} layers need {len(data)} bytes of mount options, "
                        "more than the kernel's 4096")
    _step("mount overlay rootfs", L.mount, "overlay", target, "overlay", 0, data)


def mount_system(root: str, spec: dict[str, Any], *, userns: bool) -> None:
    """/proc, /dev (+ nodes, pts, shm, mqueue) and /sys with docker's options."""
    proc = os.path.join(root, "proc")
    _step("mkdir /proc", _mkdirs, proc)
    _step("mount /proc", L.mount, "proc", proc, "proc", L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV)
    dev = os.path.join(root, "dev")
    _step("mkdir /dev", _mkdirs, dev)
    _step("mount /dev", L.mount, "tmpfs", dev, "tmpfs", L.MS_NOSUID | L.MS_STRICTATIME,
          "mode=755,size=65536k")
    _make_devices(root, privileged=spec["privileged"], userns=userns)
    for path, target in DEFAULT_SYMLINKS:
        _step(f"symlink {path}", os.symlink, target, root + path)
    pts = os.path.join(dev, "pts")
    _step("mkdir /dev/pts", _mkdirs, pts)
    pts_opts = "newinstance,ptmxmode=0666,mode=0620" + ("" if userns else ",gid=5")
    _step("mount /dev/pts", L.mount, "devpts", pts, "devpts", L.MS_NOSUID | L.MS_NOEXEC,
          pts_opts)
    shm = os.path.join(dev, "shm")
    _step("mkdir /dev/shm", _mkdirs, shm)
    _step("mount /dev/shm", L.mount, "shm", shm, "tmpfs",
          L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV, f"mode=1777,size={spec['shm_size']}")
    mq = os.path.join(dev, "mqueue")
    _step("mkdir /dev/mqueue", _mkdirs, mq)
    _step("mount /dev/mqueue", L.mount, "mqueue", mq, "mqueue",
          L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV)
    sys_dir = os.path.join(root, "sys")
    _step("mkdir /sys", _mkdirs, sys_dir)
    sys_flags = L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV
    if not spec["privileged"]:
        sys_flags |= L.MS_RDONLY
    try:
        L.mount("sysfs", sys_dir, "sysfs", sys_flags)
    except OSError as e:
        if e.errno != errno.EPERM:
            raise StepError("mount /sys", e.errno or errno.EIO) from None
        # a user namespace sharing the host's network namespace may not mount sysfs
        _step("bind /sys", L.mount, "/sys", sys_dir, None, L.MS_BIND | L.MS_REC)
        _step("remount /sys read-only", remount, sys_dir, sys_flags)


def mount_cgroups(root: str, hierarchies: list[list[Any]], *, writable: bool,
                  at_target: bool = False) -> None:
    """/sys/fs/cgroup as docker has it: read-only, and (inside the container's cgroup
    namespace) showing the container's own cgroup as the root. ``hierarchies`` are
    [version, name, controllers] from the host's probe. ``at_target``: ``root`` is the
    mountpoint itself (an OCI ``cgroup`` mount), not the container's root."""
    target = root if at_target else os.path.join(root, "sys/fs/cgroup")
    _step("mkdir /sys/fs/cgroup", _mkdirs, target)
    flags = L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV | (0 if writable else L.MS_RDONLY)
    if any(h[0] == 2 for h in hierarchies):
        _step("mount /sys/fs/cgroup", L.mount, "cgroup2", target, "cgroup2", flags)
        return
    _step("mount /sys/fs/cgroup", L.mount, "tmpfs", target, "tmpfs",
          L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV, "mode=755")
    for _version, name, controllers in hierarchies:
        d = os.path.join(target, name)
        _step(f"mkdir /sys/fs/cgroup/{name}", _mkdirs, d)
        _step(f"mount /sys/fs/cgroup/{name}", L.mount, "cgroup", d, "cgroup", flags,
              ",".join(controllers))
    if not writable:
        _step("remount /sys/fs/cgroup read-only", remount, target, L.MS_RDONLY)


def _make_devices(root: str, *, privileged: bool, userns: bool) -> None:
    devices = [(d.path, d.kind, d.major, d.minor, d.mode) for d in DEFAULT_DEVICES]
    if privileged:
        devices = []
        for entry in os.scandir("/dev"):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                devices.append((entry.path, kind, os.major(st.st_rdev), os.minor(st.st_rdev),
                                stat.S_IMODE(st.st_mode)))
    for path, kind, major, minor, mode in devices:
        if path in ("/dev/ptmx", "/dev/console") or path.startswith("/dev/pts"):
            continue
        dst = root + path
        if userns:  # mknod is refused in a user namespace: bind the host's node
            _step(f"create {path}", _touch, dst)
            _step(f"bind {path}", L.mount, path, dst, None, L.MS_BIND)
            continue
        fmt = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
        _step(f"mknod {path}", os.mknod, dst, fmt | mode, os.makedev(major, minor))
        _step(f"chmod {path}", os.chmod, dst, mode)


def default_devices(root: str, *, userns: bool) -> None:
    """The OCI runtime spec's default devices and /dev symlinks, where the bundle's
    mounts left them missing (a fresh tmpfs /dev has none)."""
    for d in DEFAULT_DEVICES:
        dst = root + d.path
        if os.path.lexists(dst):
            continue
        _make_node(dst, d.path, d.kind, d.major, d.minor, d.mode, 0, 0, userns=userns)
    for path, target in DEFAULT_SYMLINKS:
        if not os.path.lexists(root + path):
            _step(f"symlink {path}", os.symlink, target, root + path)


def make_device_nodes(root: str, devices: list[dict[str, Any]], *, userns: bool) -> None:
    """The spec's ``devices``: each node made (or, in a user namespace, where mknod
    is refused, the host's node bound) at its path inside the root."""
    for d in devices:
        try:
            dst = secure_join(root, d["path"])
        except OSError as e:
            raise StepError(f"create device {d['path']}", e.errno or errno.ELOOP) from None
        mode = 0o666 if d["file_mode"] is None else d["file_mode"]
        _step(f"create device {d['path']}", _mkdirs, os.path.dirname(dst))
        if os.path.lexists(dst) and not os.path.isdir(dst):
            _step(f"replace device {d['path']}", os.unlink, dst)
        _make_node(dst, d["path"], d["kind"], d["major"], d["minor"], mode,
                   d["uid"] or 0, d["gid"] or 0, userns=userns,
                   source=d.get("source") or d["path"])


def _make_node(dst: str, path: str, kind: str, major: int, minor: int, mode: int,
               uid: int, gid: int, *, userns: bool, source: str = "") -> None:
    if userns and kind != "p":  # mknod is refused in a user namespace: bind the host's
        _step(f"create {path}", _touch, dst)
        _step(f"bind {path}", L.mount, source or path, dst, None, L.MS_BIND)
        return
    if kind == "p":
        _step(f"mkfifo {path}", os.mkfifo, dst, mode & 0o7777)
    else:
        fmt = stat.S_IFBLK if kind == "b" else stat.S_IFCHR
        _step(f"mknod {path}", os.mknod, dst, fmt | (mode & 0o7777), os.makedev(major, minor))
    _step(f"chmod {path}", os.chmod, dst, mode & 0o7777)
    if uid or gid:
        _step(f"chown {path}", os.chown, dst, uid, gid)


def propagate_root(mode: str) -> None:
    """The OCI ``rootfsPropagation`` of the container's /, set after pivot_root."""
    flags = _PROPAGATION.get(mode)
    if flags is None:
        raise StepError("set rootfs propagation", errno.EINVAL,
                        f"unknown rootfsPropagation {mode!r}")
    _step(f"make / {mode}", L.mount, None, "/", None, flags | L.MS_REC)


def bind_self(path: str) -> None:
    """Bind ``path`` onto itself: a mount of our own where there was one copied (and
    so locked) from a more privileged mount namespace, which pivot_root refuses."""
    _step("bind rootfs onto itself", L.mount, path, path, None, L.MS_BIND | L.MS_REC)


def _in_root(root_fd: int, path: str, is_dir: bool, hops: int = 0) -> int:
    """An ``O_PATH`` fd of ``path`` resolved inside the root (``openat2`` with
    ``RESOLVE_IN_ROOT``: its symlinks, the last one too, are followed as the container
    sees them, never to the host). A missing target is made -- directories, or an
    empty file for a file bind -- by single names in confined directory fds; a
    dangling symlink on the way is made where it points, inside the root."""
    from ..confined.kernel import openat2

    try:
        return openat2(root_fd, path, os.O_PATH)
    except FileNotFoundError:
        pass
    parts = [p for p in path.split("/") if p and p != "."]
    if not parts or parts[-1] == "..":
        raise FileNotFoundError(errno.ENOENT, "no such directory", path)
    parent, name = "/".join(parts[:-1]), parts[-1]
    pfd = _in_root(root_fd, parent, True, hops) if parent else os.dup(root_fd)
    try:
        try:
            if is_dir:
                os.mkdir(name, 0o755, dir_fd=pfd)
            else:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o644, dir_fd=pfd))
        except FileExistsError:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                if hops >= 40:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path) from None
                link = os.readlink(name, dir_fd=pfd)
                return _in_root(root_fd, link if link.startswith("/") else
                                f"{parent}/{link}", is_dir, hops + 1)
    finally:
        os.close(pfd)
    return openat2(root_fd, path, os.O_PATH)


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def mount_user(root: str, m: dict[str, Any], tree: tuple[int, bool] | None = None) -> None:
    """One ``-v``/``--mount``/``--tmpfs``/etc-file mount, target resolved inside root.
    ``tree``: the bind source already cloned by the launcher (fd, is a directory) --
    in a user namespace, where the source may be out of the container root's reach.

    The target is resolved once, to an ``O_PATH`` fd, and mounted on through
    ``/proc/self/fd/N``: a container sharing a volume with this one that swaps a
    component of the path for a symlink meanwhile (runc's CVE-2021-30465) cannot make
    the mount land anywhere else. The new mount is then opened again (to reach it
    rather than what it covers) and must be the same path, or the set-up fails."""
    target_name = m["target"]
    step = f"mount {m['source'] or m['type']} on {target_name}"
    flags, propagation, data = parse_options(m["options"])
    is_bind = m["type"] == "bind" or (m["type"] in ("", "none") and (
        "bind" in m["options"] or "rbind" in m["options"]))
    if is_bind and tree is not None:
        is_dir = tree[1]
    elif is_bind:
        src = m["source"]
        try:
            is_dir = os.path.isdir(src)
            if not os.path.exists(src):
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", src)
        except OSError as e:
            raise StepError(step, e.errno or errno.ENOENT,
                            f"bind source {src}: {e.strerror}") from None
    else:
        is_dir = True
    bound_sys = False
    root_fd = _step(step, os.open, root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _step(step, _in_root, root_fd, target_name, is_dir)
        try:
            at = _fd_path(fd)
            if is_bind and tree is not None:
                _step(step, L.move_mount_fd, tree[0], fd)
            elif is_bind:
                recursive = L.MS_REC if ("rbind" in m["options"] or
                                         "bind" not in m["options"]) else 0
                _step(step, L.mount, m["source"], at, None, L.MS_BIND | recursive)
            else:
                bound_sys = _mount_fs(step, m, at, flags, data)
            top = _step(step, _reopen, root_fd, target_name, fd)
        finally:
            os.close(fd)
        try:
            at = _fd_path(top)
            extra = flags & ~(L.MS_BIND | L.MS_REC)
            if is_bind and extra:
                _step(f"{step} (remount {','.join(m['options'])})", remount, at, extra)
            elif not is_bind and bound_sys:
                _step("remount /sys", remount, at, extra)
            _step(step, L.mount, None, at, None, propagation or (L.MS_PRIVATE | L.MS_REC))
        finally:
            os.close(top)
    finally:
        os.close(root_fd)


def _mount_fs(step: str, m: dict[str, Any], at: str, flags: int, data: str) -> bool:
    """A filesystem mount at ``at``; True if sysfs had to be the host's, bound (then
    the caller remounts the new mount with the flags)."""
    try:
        L.mount(m["source"] or m["type"], at, m["type"], flags, data or None)
        return False
    except OSError as e:
        if not (e.errno == errno.EPERM and m["type"] == "sysfs"):
            raise StepError(step, e.errno or errno.EIO, e.strerror or "") from None
    # a user namespace sharing the host's network namespace may not mount sysfs
    _step("bind /sys", L.mount, "/sys", at, None, L.MS_BIND | L.MS_REC)
    return True


def _reopen(root_fd: int, path: str, before: int) -> int:
    """The mount just made at ``path``: opened again inside the root (a lookup that
    crosses into it), and checked to be where the first fd was."""
    from ..confined.kernel import openat2

    fd = openat2(root_fd, path, os.O_PATH)
    if os.readlink(_fd_path(fd)) != os.readlink(_fd_path(before)):
        os.close(fd)
        raise OSError(errno.EXDEV, "the mount target moved while it was mounted on", path)
    return fd


def pivot(root: str) -> None:
    """Make ``root`` the filesystem root and detach the host's tree entirely."""
    _step("chdir rootfs", os.chdir, root)
    _step("pivot_root", L.pivot_root, ".", ".")
    _step("unmount old root", L.umount2, ".", L.MNT_DETACH)
    _step("chdir /", os.chdir, "/")


def mask_paths(paths: list[str]) -> None:
    """Hide each path: /dev/null over a file, an empty read-only tmpfs over a dir."""
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            _step(f"mask {p}", L.mount, "tmpfs", p, "tmpfs", L.MS_RDONLY, "size=0k")
        else:
            _step(f"mask {p}", L.mount, "/dev/null", p, None, L.MS_BIND)


def readonly_paths(paths: list[str]) -> None:
    for p in paths:
        if not os.path.exists(p):
            continue
        _step(f"bind {p}", L.mount, p, p, None, L.MS_BIND | L.MS_REC)
        _step(f"make {p} read-only", remount, p, L.MS_RDONLY)


def readonly_root() -> None:
    _step("remount / read-only", remount, "/", L.MS_RDONLY)
