"""Detached overlay mounts: an image's layers (and an upper dir) as a mount that no
mount namespace can see.

COPY, ADD and WORKDIR write into the parent's filesystem and keep only the difference:
an overlay of the parent's layers with a fresh upper directory does exactly that (the
kernel copies up what is changed and leaves whiteouts for what is replaced), and the
upper directory is the new layer. The mount is made with the new mount API
(``fsopen``/``fsconfig``/``fsmount``) and never attached anywhere: it is reached through
its file descriptor only, it does not appear in /proc/mounts, no container's mount
namespace inherits it, and it is gone when the descriptor is closed -- even when the
process is killed. Paths in it are resolved with ``openat2(RESOLVE_IN_ROOT)`` on that
descriptor, so the image's symlinks stay inside the image.

Layers are added one ``lowerdir+`` at a time (Linux 6.8), so no page-size limit on the
option string applies. ``redirect_dir``, ``metacopy`` and ``index`` are off: the upper
dir must be a plain layer (whiteouts and opaque marks only).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..errors import SetupFailed

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

SYS_fsopen = 430
SYS_fsconfig = 431
SYS_fsmount = 432
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4


def _fail(step: str) -> SetupFailed:
    e = ctypes.get_errno()
    return SetupFailed(f"cannot mount the image layers ({step}): {os.strerror(e)}",
                       step=step, errno=e)


def _config(fd: int, key: str, value: str | None) -> None:
    cmd = FSCONFIG_SET_FLAG if value is None else FSCONFIG_SET_STRING
    ret = _syscall(ctypes.c_long(SYS_fsconfig), ctypes.c_int(fd), ctypes.c_uint(cmd),
                   ctypes.c_char_p(key.encode()),
                   ctypes.c_char_p(None if value is None else os.fsencode(value)),
                   ctypes.c_int(0))
    if ret < 0:
        raise _fail(f"overlay option {key}")


@contextmanager
def mounted(lowerdirs: Sequence[str], upper: str | None = None, work: str | None = None,
            *, empty: str) -> Iterator[int]:
    """A detached overlay of ``lowerdirs`` (top first) with ``upper``/``work`` when
    given (else read-only); yields the mount's root directory fd. ``empty`` is an
    empty directory for stacks the kernel would refuse as they are (no layer, or one
    layer and no upper dir)."""
    lowers = list(lowerdirs) or [empty]
    if upper is None and len(lowers) == 1:
        lowers.append(empty)
    fs = _syscall(ctypes.c_long(SYS_fsopen), ctypes.c_char_p(b"overlay"),
                  ctypes.c_uint(FSOPEN_CLOEXEC))
    if fs < 0:
        raise _fail("fsopen overlay")
    mnt = -1
    try:
        for opt, value in (("redirect_dir", "off"), ("metacopy", "off"), ("index", "off")):
            _config(fs, opt, value)
        for d in lowers:
            _config(fs, "lowerdir+", d)
        if upper is not None:
            assert work is not None
            _config(fs, "upperdir", upper)
            _config(fs, "workdir", work)
        ret = _syscall(ctypes.c_long(SYS_fsconfig), ctypes.c_int(fs),
                       ctypes.c_uint(FSCONFIG_CMD_CREATE), None, None, ctypes.c_int(0))
        if ret < 0:
            raise _fail("create the overlay")
        attrs = MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if upper is None else 0)
        mnt = _syscall(ctypes.c_long(SYS_fsmount), ctypes.c_int(fs),
                       ctypes.c_uint(FSMOUNT_CLOEXEC), ctypes.c_uint(attrs))
        if mnt < 0:
            raise _fail("fsmount")
    finally:
        os.close(fs)
    try:
        yield int(mnt)
    finally:
        os.close(mnt)
