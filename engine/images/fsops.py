"""The syscall seam of the image store: confined path resolution and overlay marks.

Unpacking a hostile archive safely rests on one idea: every path an archive names is
resolved by the kernel *as if the layer directory were ``/``* (``openat2`` with
``RESOLVE_IN_ROOT``), so no ``..``, absolute symlink or symlinked parent directory can
lead outside it -- the same guarantee docker gets from unpacking in a chroot, without
forking. The syscalls themselves live in ``engine/confined/kernel.py`` (one copy for
the store and for every file operation done on a container's behalf); this module
re-exports them for the store.
"""

from __future__ import annotations

import ctypes
import os
import re

from ..confined.kernel import (
    AT_EMPTY_PATH,
    FORBIDDEN_XATTR_PREFIX,
    OVERLAY_OPAQUE,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    fd_path,
    is_opaque,
    is_whiteout,
    link_fd,
    list_xattrs,
    make_whiteout,
    open_in_root,
    set_opaque,
)

__all__ = ["AT_EMPTY_PATH", "FORBIDDEN_XATTR_PREFIX", "OVERLAY_OPAQUE", "RESOLVE_IN_ROOT",
           "RESOLVE_NO_MAGICLINKS", "fd_path", "is_opaque", "is_whiteout", "link_fd",
           "list_xattrs", "make_whiteout", "open_in_root", "set_opaque", "umount_under"]

_libc = ctypes.CDLL(None, use_errno=True)


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
