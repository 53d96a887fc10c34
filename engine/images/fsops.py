"""The syscall seam of the image store: confined path resolution and overlay marks.

Unpacking a hostile archive safely rests on one idea: every path an archive names is
resolved by the kernel *as if the layer directory were ``/``* (``openat2`` with
``RESOLVE_IN_ROOT``), so no ``..``, absolute symlink or symlinked parent directory can
lead outside it -- the same guarantee docker gets from unpacking in a chroot, without
forking. ``os`` lacks ``openat2`` and ``linkat(AT_EMPTY_PATH)``, hence ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import stat

_libc = ctypes.CDLL(None, use_errno=True)

SYS_openat2 = 437  # the same number on every architecture (a post-4.20 syscall)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
AT_EMPTY_PATH = 0x1000

OVERLAY_OPAQUE = "trusted.overlay.opaque"
#: xattrs an archive may never set: they steer overlayfs (redirects, metacopy, opaque)
#: and would let a layer reach into other layers' data.
FORBIDDEN_XATTR_PREFIX = "trusted.overlay."


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_linkat = _libc.linkat
_linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
_linkat.restype = ctypes.c_int


def open_in_root(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """Open ``path`` relative to the directory ``root_fd`` with every component resolved
    inside it (``..`` stops at the root, absolute symlinks restart at the root).

    Raises OSError like ``os.open``.
    """
    how = _OpenHow(flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    fd = _syscall(ctypes.c_long(SYS_openat2), ctypes.c_int(root_fd),
                  ctypes.c_char_p(os.fsencode(path or ".")), ctypes.byref(how),
                  ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return int(fd)


def link_fd(src_fd: int, dst_dir_fd: int, name: str) -> None:
    """Make ``name`` in ``dst_dir_fd`` a hard link to the inode open as ``src_fd`` (an
    ``O_PATH`` fd): the source was resolved inside the root, so the link cannot reach
    out of it."""
    if _linkat(src_fd, b"", dst_dir_fd, os.fsencode(name), AT_EMPTY_PATH) == 0:
        return
    e = ctypes.get_errno()
    if e in (errno.EPERM, errno.ENOENT, errno.EINVAL):
        # Without CAP_DAC_READ_SEARCH: the documented /proc/self/fd route.
        os.link(f"/proc/self/fd/{src_fd}", name, dst_dir_fd=dst_dir_fd, follow_symlinks=True)
        return
    raise OSError(e, os.strerror(e), name)


def fd_path(fd: int, name: str | None = None) -> str:
    """A path naming ``fd`` (or ``name`` inside the directory ``fd``) for the calls
    that take no dir fd (xattrs)."""
    return f"/proc/self/fd/{fd}" + (f"/{name}" if name else "")


def make_whiteout(dir_fd: int, name: str) -> None:
    """An overlayfs whiteout: a character device 0:0 hides ``name`` of lower layers."""
    os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def set_opaque(dir_fd: int) -> None:
    """Mark a directory opaque: overlayfs shows none of the lower layers' entries in it."""
    os.setxattr(fd_path(dir_fd), OVERLAY_OPAQUE, b"y")


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def list_xattrs(path: str) -> dict[str, bytes]:
    """The xattrs of ``path`` (not following a symlink) worth keeping in a layer."""
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return out
        raise
    for name in names:
        if name.startswith(FORBIDDEN_XATTR_PREFIX) or name == "system.nfs4_acl":
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


_umount2 = _libc.umount2
_umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MNT_DETACH = 2


def _unescape(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def umount_under(path: str) -> list[str]:
    """Detach every mount at or below ``path`` (deepest first) before it is removed, so
    that removing a half-made tree (a killed debootstrap) never reaches into a mounted
    /proc, /sys or /dev. Returns the mount points it detached."""
    prefix = os.path.realpath(path).rstrip("/")
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = _unescape(line.split()[4])
                if mp == prefix or mp.startswith(prefix + "/"):
                    found.append(mp)
    except OSError:
        return []
    for mp in sorted(found, key=len, reverse=True):
        _umount2(os.fsencode(mp), MNT_DETACH)
    return found
