"""The syscall seam: the few Linux calls that ``os`` lacks, through ctypes.

Everything here is a thin wrapper that raises ``OSError`` with the errno, so that
callers can name the step that failed. No policy lives here.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: namespace name (as in /proc/PID/ns/NAME) -> clone flag, in the order they are
#: entered: user first (it grants the rights for the others), mnt last.
NS_FLAGS: dict[str, int] = {
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID,
    "mnt": CLONE_NEWNS,
}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYS_pivot_root = 155  # x86_64
_SYS_capset = 126
_SYS_pidfd_open = 434
_SYS_seccomp = 317
_SYS_bpf = 321
_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_SECCOMP_SET_MODE_FILTER = 1

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1

TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSWINSZ = 0x5414


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    ret = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def umount2(target: str, flags: int = 0) -> None:
    if _libc.umount2(_b(target), ctypes.c_int(flags)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def pivot_root(new_root: str, put_old: str) -> None:
    ret = _libc.syscall(ctypes.c_long(_SYS_pivot_root), _b(new_root), _b(put_old))
    _check(ret, "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(
        _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                    ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)),
        "prctl",
    )


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


def setdomainname(name: str) -> None:
    data = name.encode()
    _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")


def setgroups(gids: list[int]) -> None:
    arr = (ctypes.c_uint * max(1, len(gids)))(*gids)
    _check(_libc.setgroups(ctypes.c_size_t(len(gids)), arr), "setgroups")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    ret = _libc.syscall(ctypes.c_long(_SYS_capset), ctypes.byref(hdr), data)
    _check(ret, "capset")


def pidfd_open(pid: int) -> int:
    """A pidfd for ``pid``: readable when the process exits (for trio/select waits)."""
    return _check(_libc.syscall(ctypes.c_long(_SYS_pidfd_open), ctypes.c_int(pid),
                                ctypes.c_uint(0)), "pidfd_open")


def set_child_subreaper() -> None:
    """Make orphaned descendants (a container's PID 1 once its launcher exits)
    children of this process, so that it can wait for their exit status."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_load_bpf(program: bytes) -> None:
    """Install a compiled seccomp filter (struct sock_filter[], 8 bytes each) on this
    thread. Needs no_new_privs or CAP_SYS_ADMIN."""
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ret = _libc.syscall(ctypes.c_long(_SYS_seccomp), ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
                        ctypes.c_uint(0), ctypes.byref(prog))
    _check(ret, "seccomp(SET_MODE_FILTER)")


def _bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, len(attr))
    return _check(_libc.syscall(ctypes.c_long(_SYS_bpf), ctypes.c_int(cmd), buf,
                                ctypes.c_uint(len(attr))), "bpf")


def attach_device_program(cgroup_dir: str, program: bytes) -> None:
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a cgroup2
    directory; it stays attached for the cgroup's life (fds may be closed)."""
    import struct

    insns = ctypes.create_string_buffer(program, len(program))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    attr = struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_CGROUP_DEVICE, len(program) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license_), 0, 0, 0, 0, 0,
                       b"pycompose_dev", 0, BPF_CGROUP_DEVICE).ljust(128, b"\0")
    prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    try:
        cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _bpf(_BPF_PROG_ATTACH, struct.pack("<IIII", cg_fd, prog_fd, BPF_CGROUP_DEVICE,
                                               BPF_F_ALLOW_MULTI).ljust(32, b"\0"))
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)


# --- the new mount API: detached trees and idmapped mounts (user namespaces) ---------

_SYS_open_tree = 428
_SYS_move_mount = 429
_SYS_mount_setattr = 442
_AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_RDONLY = 0x00000001
MOUNT_ATTR_IDMAP = 0x00100000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def open_tree_clone(path: str, recursive: bool = False) -> int:
    """A detached copy of the mount at ``path`` (a bind mount not yet attached
    anywhere), as an fd; close-on-exec."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    ret = _libc.syscall(ctypes.c_long(_SYS_open_tree), ctypes.c_int(_AT_FDCWD), _b(path),
                        ctypes.c_uint(flags))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(ret)


def idmap_tree(tree_fd: int, userns_fd: int, recursive: bool = False,
               readonly: bool = False) -> None:
    """Make a detached tree an idmapped mount with the ids of ``userns_fd``'s maps."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP | (MOUNT_ATTR_RDONLY if readonly else 0), 0, 0,
                      userns_fd)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    ret = _libc.syscall(ctypes.c_long(_SYS_mount_setattr), ctypes.c_int(tree_fd), b"",
                        ctypes.c_uint(flags), ctypes.byref(attr),
                        ctypes.c_size_t(ctypes.sizeof(attr)))
    _check(ret, "mount_setattr(MOUNT_ATTR_IDMAP)")


def move_mount(tree_fd: int, target: str) -> None:
    """Attach a detached tree at ``target`` (resolved from the cwd if relative)."""
    ret = _libc.syscall(ctypes.c_long(_SYS_move_mount), ctypes.c_int(tree_fd), b"",
                        ctypes.c_int(_AT_FDCWD), _b(target),
                        ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def move_mount_fd(tree_fd: int, target_fd: int) -> None:
    """Attach a detached tree on the object open as ``target_fd`` (an ``O_PATH`` fd
    resolved beforehand): no path is looked up at all."""
    ret = _libc.syscall(ctypes.c_long(_SYS_move_mount), ctypes.c_int(tree_fd), b"",
                        ctypes.c_int(target_fd), b"",
                        ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), f"fd {target_fd}")


def link_up(name: str) -> None:
    """``ip link set NAME up`` in this thread's network namespace, with the two
    ioctls it takes (no netlink library in the launcher)."""
    import _socket
    import fcntl
    import struct

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        req = struct.pack("16sh22x", name.encode(), 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sh22x", name.encode(),
                                                              flags | IFF_UP))
    finally:
        s.close()
