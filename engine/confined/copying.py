"""Copy a tree entry (from a :class:`Root`, a :class:`LayerStack`, or a host
directory) into a directory fd, creating every file with ``*at()`` calls.

What a copy guarantees: each entry is made by its single name in a directory fd the
copy opened itself (``O_EXCL``/``O_NOFOLLOW`` for files, ``mkdirat`` then an
``O_NOFOLLOW`` open for directories); an existing symlink, file or whiteout there is
replaced, never written through; metadata is set on the fd made, or with the
``*at(AT_SYMLINK_NOFOLLOW)`` calls for links and special files. A destination whose
entries a container swaps for symlinks during the copy gets errors, never a write
outside it. Reading is the source tree's business (see ``tree.py``): single names
through directory fds, ``O_NOFOLLOW``.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from . import kernel
from .root import copy_data, remove_entry
from .tree import Entry, children, close_all

log = logging.getLogger("pycompose.confined")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: xattrs never copied: overlay's own marks, and file capabilities when set-id bits
#: are dropped (they would make a root-owned file as strong as a setuid one)
_CAPS = "security.capability"

Owner = Callable[[os.stat_result], tuple[int, int]]


@dataclass(frozen=True)
class Policy:
    """How a copy treats what it writes.

    ``owner``: the (uid, gid) to give each entry from the source's lstat; None leaves
    what the kernel gave (the copying process's ids). ``keep_setid``: False drops
    setuid/setgid bits and file capabilities (a copy out to the host, owned by
    whoever copies). ``private_devices``: device nodes are made 0600. ``upper``: the
    destination is an overlay upper dir, where a new directory made over a removed
    entry must be opaque (or the lower layers' content would show through).
    ``skip_devs``: st_dev of pseudo filesystems (a live container's /proc, /sys):
    such a source directory is made, not entered; such a destination directory is
    refused."""

    owner: Owner | None = None
    keep_setid: bool = True
    xattrs: bool = True
    private_devices: bool = False
    upper: bool = False
    skip_devs: frozenset[int] = field(default_factory=frozenset)


def copy(src: Entry, dst_fd: int, name: str, policy: Policy) -> None:
    """Copy ``src`` (a whole tree for a directory) as ``name`` in the directory
    ``dst_fd``. A source entry that changes type while it is copied is left out."""
    mode = src.st.st_mode
    if stat.S_ISDIR(mode):
        fd = ensure_dir(dst_fd, name, policy)
        try:
            if src.st.st_dev not in policy.skip_devs:
                copy_children(src, fd, policy)
            _meta(src, fd, dst_fd, name, policy)
        finally:
            os.close(fd)
    elif stat.S_ISREG(mode):
        _copy_file(src, dst_fd, name, policy)
    elif stat.S_ISLNK(mode):
        target = src.readlink()
        remove_entry(dst_fd, name, keep_dir=False)
        os.symlink(target, name, dir_fd=dst_fd)
        _meta(src, None, dst_fd, name, policy)
    elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        remove_entry(dst_fd, name, keep_dir=False)
        os.mknod(name, stat.S_IFMT(mode) | 0o600, src.st.st_rdev, dir_fd=dst_fd)
        _meta(src, None, dst_fd, name, policy)
    # sockets are not copied (docker's archives drop them too)


def copy_children(src: Entry, dst_fd: int, policy: Policy) -> None:
    """Copy what the directory ``src`` holds into the directory ``dst_fd``."""
    try:
        fds = src.dir_fds()
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            log.warning("%s changed while it was copied: left out", src.places[0][1])
            return
        raise
    try:
        for name, entry in children(fds, src.overlay):
            copy(entry, dst_fd, name, policy)
    finally:
        close_all(fds)


def ensure_dir(dst_fd: int, name: str, policy: Policy) -> int:
    """A readable fd of the directory ``name`` in ``dst_fd``: the existing one, or a
    new one in place of whatever non-directory was there."""
    old = None
    try:
        st = os.stat(name, dir_fd=dst_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if st.st_dev in policy.skip_devs:  # a kernel filesystem: never written into
                raise PermissionError(errno.EPERM, "a kernel filesystem (/proc, /sys): "
                                      "not copied into", name)
            return os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
        old = remove_entry(dst_fd, name, keep_dir=False)
    except FileNotFoundError:
        pass
    os.mkdir(name, 0o700, dir_fd=dst_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
    if policy.upper and old is not None:
        kernel.set_opaque(fd)
    return fd


def _copy_file(src: Entry, dst_fd: int, name: str, policy: Policy) -> None:
    try:
        sfd = src.open(os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR):
            log.warning("%s changed while it was copied: left out", name)
            return
        raise
    try:
        if not stat.S_ISREG(os.fstat(sfd).st_mode):
            log.warning("%s changed while it was copied: left out", name)
            return
        os.set_blocking(sfd, True)
        try:
            remove_entry(dst_fd, name, keep_dir=False)
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            _overwrite_mounted(sfd, dst_fd, name, src, policy)
            return
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=dst_fd)
        try:
            copy_data(sfd, fd)
            _meta(src, fd, dst_fd, name, policy)
        finally:
            os.close(fd)
    finally:
        os.close(sfd)


def _overwrite_mounted(sfd: int, dst_fd: int, name: str, src: Entry, policy: Policy) -> None:
    """A file that is a mount point (a running container's /etc/hosts) cannot be
    replaced: write through it, as docker does, if it is a regular file."""
    fd = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EBUSY, f"{name} is a mount point", name)
        os.ftruncate(fd, 0)
        copy_data(sfd, fd)
    finally:
        os.close(fd)


def _mode(src: Entry, policy: Policy) -> int:
    mode = stat.S_IMODE(src.st.st_mode)
    if not policy.keep_setid and not src.is_dir:
        mode &= ~(stat.S_ISUID | stat.S_ISGID)
    if policy.private_devices and (stat.S_ISCHR(src.st.st_mode) or stat.S_ISBLK(src.st.st_mode)):
        mode &= 0o700
    return mode


def _meta(src: Entry, fd: int | None, dst_fd: int, name: str, policy: Policy) -> None:
    """Owner, mode, xattrs, times, in that order (chown clears set-id bits and file
    capabilities). On ``fd`` when there is one, else by name without following."""
    st = src.st
    is_link = stat.S_ISLNK(st.st_mode)
    if policy.owner is not None:
        uid, gid = policy.owner(st)
        if fd is not None:
            os.fchown(fd, uid, gid)
        else:
            os.chown(name, uid, gid, dir_fd=dst_fd, follow_symlinks=False)
    if not is_link:
        mode = _mode(src, policy)
        if fd is not None:
            os.fchmod(fd, mode)
        else:
            try:
                os.chmod(name, mode, dir_fd=dst_fd, follow_symlinks=False)
            except (ValueError, NotImplementedError):  # glibc: it became a symlink
                raise OSError(errno.ELOOP, f"{name} changed while it was copied", name)
    if policy.xattrs:
        _copy_xattrs(src, fd, dst_fd, name, policy)
    times = (st.st_atime_ns, st.st_mtime_ns)
    if fd is not None:
        os.utime(fd, ns=times)
    else:
        os.utime(name, ns=times, dir_fd=dst_fd, follow_symlinks=False)


def _copy_xattrs(src: Entry, fd: int | None, dst_fd: int, name: str, policy: Policy) -> None:
    try:
        path, follow = src.xattr_path()
        attrs = kernel.list_xattrs(path, follow=follow)
    except OSError:
        return
    for key, value in attrs.items():
        if key == _CAPS and not policy.keep_setid:
            continue
        try:
            if fd is not None:
                os.setxattr(fd, key, value)
            else:
                os.setxattr(kernel.fd_path(dst_fd, name), key, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EINVAL):
                raise
