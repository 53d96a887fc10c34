"""A directory treated as ``/``: every path given to a :class:`Root` is resolved by the
kernel inside it (``openat2`` with ``RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS``).

What a Root guarantees, whatever the tree holds (absolute or relative symlinks, ``..``,
symlinks swapped in while it works):

- no path it resolves, reads, creates, replaces or removes is outside the root: ``..``
  stops at the root, an absolute symlink restarts at the root, /proc magic links are
  refused; mounts inside the root (a container's volumes) are part of it;
- the last component of a path is never followed unless the call says ``follow``
  (then it too is resolved inside the root);
- what it creates, it creates with ``*at()`` calls on a directory fd it resolved, with
  ``O_EXCL``/``O_NOFOLLOW``: an existing symlink is replaced, never written through;
- a walk (:meth:`Root.walk`) holds a directory fd at each level and opens each child
  by its single name with ``O_NOFOLLOW``: nothing is re-walked by path.

The builder's ``COPY``, ``cp`` both ways and volume copy-up go through this class
(and :class:`~pycompose.engine.confined.stack.LayerStack` for a stopped container).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Iterator
from typing import BinaryIO

from . import kernel
from .tree import Entry, split

_PATH_DIR = os.O_PATH | os.O_DIRECTORY
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_HOPS = 40


class Root:
    """A directory fd used as ``/``. Paths are container paths (leading ``/`` or not,
    the same). Use as a context manager, or :meth:`close` it; the fds of the entries
    that :meth:`locate` hands out live until then."""

    overlay = False  # the tree a live root shows has no whiteouts of its own

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._held: list[int] = []

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Root:
        """The directory ``path`` of the host (a path of ours: a state dir, or
        ``/proc/PID/root``, whose magic link is followed here, on purpose) as a root."""
        return cls(os.open(path, _PATH_DIR | os.O_CLOEXEC))

    def close(self) -> None:
        for fd in self._held:
            os.close(fd)
        self._held.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- resolving -------------------------------------------------------------------------
    def open(self, path: str, flags: int = os.O_RDONLY, mode: int = 0o644, *,
             follow: bool = False) -> int:
        """``open(2)`` of ``path`` inside the root; the last component is not followed
        (ELOOP on a symlink) unless ``follow``. The caller closes the fd."""
        if not follow:
            flags |= os.O_NOFOLLOW
        return kernel.openat2(self.fd, path, flags, mode)

    def opendir(self, path: str, *, follow: bool = True) -> int:
        """A readable fd of the directory ``path`` (its last symlink followed inside
        the root unless ``follow`` is False)."""
        return self.open(path, os.O_RDONLY | os.O_DIRECTORY, follow=follow)

    def _hold(self, fd: int) -> int:
        self._held.append(fd)
        return fd

    def locate(self, path: str, *, follow: bool = False) -> Entry:
        """The entry at ``path`` (FileNotFoundError, NotADirectoryError, ELOOP as the
        kernel says). Its fds live until the root is closed."""
        parent, name = split(path)
        pfd = self._hold(kernel.openat2(self.fd, parent, _PATH_DIR))
        if not name:
            return Entry(os.fstat(pfd), [(pfd, "")])
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if follow and stat.S_ISLNK(st.st_mode):
            fd = self._hold(kernel.openat2(self.fd, path, os.O_PATH))
            return Entry(os.fstat(fd), [(fd, "")])
        return Entry(st, [(pfd, name)])

    def lstat(self, path: str) -> os.stat_result:
        return self.locate(path).st

    def exists(self, path: str) -> bool:
        try:
            self.locate(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    # -- creating --------------------------------------------------------------------------
    def makedirs(self, path: str, mode: int = 0o755, uid: int = -1, gid: int = -1) -> int:
        """``mkdir -p`` inside the root; returns a readable fd of the directory (the
        caller closes it). Symlinks on the way are followed inside the root, as a
        container would see them; a directory made here gets ``mode`` and, if given,
        ``uid``/``gid`` (existing ones are left as they are)."""
        return self._makedirs(path, mode, uid, gid, 0)

    def _makedirs(self, path: str, mode: int, uid: int, gid: int, hops: int) -> int:
        try:
            return self.opendir(path)
        except FileNotFoundError:
            pass
        parent, name = split(path)
        if not name:  # "x/.." or "x/.": its parent chain is missing
            raise FileNotFoundError(errno.ENOENT, "no such directory", path)
        pfd = self._makedirs(parent, mode, uid, gid, hops)
        try:
            try:
                os.mkdir(name, mode, dir_fd=pfd)
            except FileExistsError:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    raise
                # a dangling symlink: make what it points to, inside the root
                if hops >= _MAX_HOPS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path) from None
                target = os.readlink(name, dir_fd=pfd)
                if not target.startswith("/"):
                    target = posixpath.join(parent, target)
                return self._makedirs(target, mode, uid, gid, hops + 1)
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            os.fchmod(fd, mode)  # not the umask's
            if uid >= 0 or gid >= 0:
                os.fchown(fd, uid, gid)
            return fd
        finally:
            os.close(pfd)

    @contextlib.contextmanager
    def parent_of(self, path: str) -> Iterator[tuple[int, str]]:
        """(fd of the parent directory, last name) of ``path``, the parent resolved
        inside the root; name ``""`` if the path names a directory through ``.``/``..``
        (then the fd is that directory)."""
        parent, name = split(path)
        fd = self.opendir(parent)
        try:
            if not name:
                yield fd, ""
            else:
                yield fd, name
        finally:
            os.close(fd)

    def write_file(self, path: str, src: int | BinaryIO, mode: int = 0o644, uid: int = -1,
                   gid: int = -1, mtime_ns: int | None = None) -> None:
        """Create (or replace) the regular file ``path`` with the content of ``src`` (an
        fd or a binary file, read to its end). The parent must exist; an existing
        file or symlink there is replaced (a new inode), never written through; an
        existing directory is an error (IsADirectoryError)."""
        with self.parent_of(path) as (pfd, name):
            if not name:
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            remove_entry(pfd, name, keep_dir=True)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=pfd)
            try:
                if isinstance(src, int):
                    copy_data(src, fd)
                else:
                    with open(fd, "wb", closefd=False) as out:
                        shutil.copyfileobj(src, out)
                if uid >= 0 or gid >= 0:
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                if mtime_ns is not None:
                    os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)

    def symlink(self, path: str, target: str) -> None:
        """Make ``path`` a symlink to ``target`` (replacing a non-directory there); the
        target is stored as given: it is the container's business, never followed here."""
        with self.parent_of(path) as (pfd, name):
            if not name:
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            remove_entry(pfd, name, keep_dir=True)
            os.symlink(target, name, dir_fd=pfd)

    def remove(self, path: str) -> None:
        """Remove ``path`` (a whole tree for a directory), never following a symlink."""
        with self.parent_of(path) as (pfd, name):
            if not name:
                raise OSError(errno.EINVAL, "cannot remove a root or a '..' path", path)
            if not remove_entry(pfd, name, keep_dir=False):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)

    # -- walking ---------------------------------------------------------------------------
    def walk(self, path: str = ".") -> Iterator[tuple[str, int, list[tuple[str, os.stat_result]]]]:
        """Top-down: (directory path relative to the root, its fd -- valid until the next
        step --, its entries with their lstat, sorted). Symlinks are listed, never
        entered; a directory swapped for something else meanwhile is skipped."""
        fd = self.opendir(path)
        yield from walk_fd(fd, _norm(path))


def _norm(path: str) -> str:
    return "/".join(p for p in path.split("/") if p and p != ".") or "."


def walk_fd(fd: int, rel: str) -> Iterator[tuple[str, int, list[tuple[str, os.stat_result]]]]:
    """:meth:`Root.walk` from a directory fd (closed when done)."""
    try:
        entries = []
        for name in sorted(os.listdir(fd)):
            with contextlib.suppress(FileNotFoundError):
                entries.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
        yield rel, fd, entries
        for name, st in entries:
            if not stat.S_ISDIR(st.st_mode):
                continue
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue
                raise
            yield from walk_fd(sub, name if rel == "." else f"{rel}/{name}")
    finally:
        os.close(fd)


def remove_entry(dir_fd: int, name: str, *, keep_dir: bool) -> os.stat_result | None:
    """Make room for a new ``name`` in ``dir_fd``: unlink a non-directory, remove a
    directory tree unless ``keep_dir`` (then IsADirectoryError). Returns the lstat of
    what was there (None if nothing). Never follows a symlink: ``shutil.rmtree`` with a
    ``dir_fd`` walks by fds and refuses to descend into links."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
    return st


def copy_data(src: int, dst: int) -> int:
    """Copy from fd ``src`` (at its offset) to ``dst`` until EOF; returns the bytes."""
    total = 0
    try:
        while n := os.copy_file_range(src, dst, 1 << 30):
            total += n
        return total
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                           errno.EBADF, errno.EPERM):
            raise
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
        total += len(chunk)
    return total
