"""The syscalls of confined file work: ``openat2`` (``RESOLVE_IN_ROOT``), ``linkat`` by
fd, and the overlay marks (whiteouts, opaque directories).

``os`` lacks ``openat2`` and ``linkat(AT_EMPTY_PATH)``, hence ctypes. The image store's
unpacking (``engine/images``) and the confined roots of this package share this one
copy.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

_libc = ctypes.CDLL(None, use_errno=True)

SYS_openat2 = 437  # the same number on every architecture (a post-4.20 syscall)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
AT_EMPTY_PATH = 0x1000

OVERLAY_OPAQUE = "trusted.overlay.opaque"
#: xattrs an archive or a copy may never set: they steer overlayfs (redirects,
#: metacopy, opaque) and would let a layer reach into other layers' data.
FORBIDDEN_XATTR_PREFIX = "trusted.overlay."

#: How often a resolution that raced with a rename or a mount (the kernel's EAGAIN
#: under RESOLVE_IN_ROOT) is tried again before it is an error.
_RETRIES = 64


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_linkat = _libc.linkat
_linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
_linkat.restype = ctypes.c_int


def openat2(dir_fd: int, path: str, flags: int, mode: int = 0,
            resolve: int = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) -> int:
    """``openat2(2)``: raises OSError like ``os.open``. The fd is close-on-exec."""
    creates = flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE
    how = _OpenHow(flags | os.O_CLOEXEC, mode if creates else 0, resolve)
    raw = os.fsencode(path or ".")
    for _ in range(_RETRIES):
        fd = _syscall(ctypes.c_long(SYS_openat2), ctypes.c_int(dir_fd), ctypes.c_char_p(raw),
                      ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return int(fd)
        e = ctypes.get_errno()
        if e not in (errno.EAGAIN, errno.EINTR):
            raise OSError(e, os.strerror(e), path)
    raise OSError(errno.EAGAIN, "the path kept changing while it was resolved", path)


def open_in_root(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """Open ``path`` relative to the directory ``root_fd`` with every component resolved
    inside it (``..`` stops at the root, absolute symlinks restart at the root, magic
    links of /proc are refused).

    Raises OSError like ``os.open``.
    """
    return openat2(root_fd, path, flags, mode)


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
    """A path naming ``fd`` (or the entry ``name`` of the directory ``fd``, never
    followed if it is a symlink) for the calls that take no dir fd (xattrs)."""
    return f"/proc/self/fd/{fd}" + (f"/{name}" if name else "")


def make_whiteout(dir_fd: int, name: str) -> None:
    """An overlayfs whiteout: a character device 0:0 hides ``name`` of lower layers."""
    os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def set_opaque(dir_fd: int) -> None:
    """Mark a directory opaque: overlayfs shows none of the lower layers' entries in it."""
    os.setxattr(fd_path(dir_fd), OVERLAY_OPAQUE, b"y")


def is_opaque(path: str | int) -> bool:
    """Whether the directory at ``path`` (a path, not followed, or a readable fd) is an
    opaque overlay dir, as our overlay mounts read it (``trusted.``: they never use
    ``userxattr``)."""
    try:
        if isinstance(path, int):
            return os.getxattr(path, OVERLAY_OPAQUE) == b"y"
        return os.getxattr(path, OVERLAY_OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def list_xattrs(path: str, *, follow: bool = False) -> dict[str, bytes]:
    """The xattrs of ``path`` (not following a symlink unless ``follow``: only for a
    /proc/self/fd magic link, which names an object already resolved) worth keeping
    in a layer."""
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return out
        raise
    for name in names:
        if name.startswith(FORBIDDEN_XATTR_PREFIX) or name == "system.nfs4_acl":
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=follow)
        except OSError:
            continue
    return out
