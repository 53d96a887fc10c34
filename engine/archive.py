"""A container's files as tar streams, for the Docker API's ``archive`` (``docker cp``
through a daemon) and ``changes``: built on ``cp.py``'s confined trees.

- :func:`tar_out`: a tar of ``PATH`` (named by its base name, as docker's archive is:
  ``/etc/hosts`` -> ``hosts``, ``/etc`` -> ``etc/...``, ``/etc/.`` -> ``./...``), read by
  single names through directory fds (``engine/confined``), with the container's own
  owners (mapped back from a user namespace's host ids) and modes;
- :func:`tar_in`: a tar extracted into the directory ``PATH`` of the container, each
  member's parent resolved inside the container (a symlinked ``/bin`` is followed
  within it), each entry made by name with ``O_NOFOLLOW`` in a directory fd: no member
  name, link or race leads outside the container's root;
- :func:`stat_path`: docker's ``PathStat`` (name, size, Go file mode, mtime, link
  target) of ``PATH``;
- :func:`changes`: what the upper dir holds against the image's layers (docker's
  added 1, changed 0, deleted 2).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Callable
from typing import IO, BinaryIO

from pycompose.util.records import record

from .confined import Entry, LayerStack, Policy, Root, children
from .confined.copying import ensure_dir
from .confined.root import remove_entry, walk_fd
from .confined.tree import close_all, split
from .cp import ContainerFiles, _basename, _contents_only, _Dest, _errors, _to_host, _tree
from .errors import InvalidArgument, NotFound

# Go's os.FileMode bits (docker's PathStat carries them)
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHAR = 1 << 21
_GO_STICKY = 1 << 20


@record(frozen=True)
class PathStat:
    """docker's ``X-Docker-Container-Path-Stat``: ``mode`` in Go's FileMode bits."""

    name: str
    size: int
    mode: int
    mtime: str
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _GO_DIR)


@record(frozen=True)
class Change:
    """One entry of ``docker diff``: kind 0 changed, 1 added, 2 deleted."""

    path: str
    kind: int


def go_mode(mode: int) -> int:
    out = mode & 0o777
    if stat.S_ISDIR(mode):
        out |= _GO_DIR
    elif stat.S_ISLNK(mode):
        out |= _GO_SYMLINK
    elif stat.S_ISFIFO(mode):
        out |= _GO_PIPE
    elif stat.S_ISSOCK(mode):
        out |= _GO_SOCKET
    elif stat.S_ISCHR(mode):
        out |= _GO_DEVICE | _GO_CHAR
    elif stat.S_ISBLK(mode):
        out |= _GO_DEVICE
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        f".{ns % 10**9:09d}Z"


def _not_found(c: ContainerFiles, path: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {c.name}")


def _to_container(hid: int, idmap: list[tuple[int, int, int]] | None) -> int:
    for ctr, host, size in idmap or ():
        if host <= hid < host + size:
            return ctr + hid - host
    return hid


def stat_path(c: ContainerFiles, path: str) -> PathStat:
    """``HEAD /containers/{id}/archive``: the entry at ``path`` (its last symlink not
    followed: ``link_target`` says where it leads, inside the container)."""
    with _errors(f"stat {c.name}:{path}"), _tree(c) as (tree, _skip):
        try:
            entry = tree.locate(path, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(c, path)
        target = ""
        if entry.is_link:
            parent, _ = split(path)
            link = entry.readlink()
            target = posixpath.normpath(link if link.startswith("/")
                                        else posixpath.join("/", parent, link))
        st = entry.st
        name = _basename(path) or "/"
        return PathStat(name, st.st_size, go_mode(st.st_mode), _rfc3339(st.st_mtime_ns),
                        target)


# -- out ---------------------------------------------------------------------------------
def tar_out(c: ContainerFiles, path: str, out: BinaryIO | IO[bytes], *,
            follow_link: bool = False) -> None:
    """Write a tar stream of ``path`` to ``out``."""
    with _errors(f"archive {c.name}:{path}"), _tree(c) as (tree, skip):
        follow = follow_link or path.endswith("/") or path.endswith("/.")
        try:
            entry = tree.locate(path, follow=follow)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(c, path)
        if (path.endswith("/") or path.endswith("/.")) and not entry.is_dir:
            raise InvalidArgument(f"{path} in container {c.name} is not a directory")
        name = "." if _contents_only(path) else _basename(path)
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, entry, name, c, skip)


def _info(entry: Entry, name: str, c: ContainerFiles) -> tarfile.TarInfo:
    st = entry.st
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = _to_container(st.st_uid, c.uid_map)
    info.gid = _to_container(st.st_gid, c.gid_map or c.uid_map)
    info.mtime = st.st_mtime
    return info


def _add(tar: tarfile.TarFile, entry: Entry, name: str, c: ContainerFiles,
         skip: frozenset[int]) -> None:
    info = _info(entry, name, c)
    mode = entry.st.st_mode
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        if entry.st.st_dev in skip:  # /proc, /sys of a live container: the mount point
            return
        try:
            fds = entry.dir_fds()
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                return  # it changed while we read it: left out, as cp does
            raise
        try:
            for child, sub in children(fds, entry.overlay):
                _add(tar, sub, child if name == "." else f"{name}/{child}", c, skip)
        finally:
            close_all(fds)
    elif stat.S_ISREG(mode):
        try:
            fd = entry.open(os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
                return
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return
            info.size = st.st_size
            tar.addfile(info, _Exactly(f, st.st_size))
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = entry.readlink()
        tar.addfile(info)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
        tar.addfile(info)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor = os.major(entry.st.st_rdev)
        info.devminor = os.minor(entry.st.st_rdev)
        tar.addfile(info)
    # sockets are left out, as docker's archives leave them


class _Exactly:
    """A file read as exactly ``size`` bytes (a file that grows or shrinks while it is
    archived must not break the tar's framing)."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self.f = f
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if n < 0 else min(n, self.left)
        data = self.f.read(want)
        if len(data) < want:
            data += b"\0" * (want - len(data))
        self.left -= len(data)
        return data


# -- in ------------------------------------------------------------------------------------
def _member_parts(name: str) -> list[str]:
    """A member's path inside the extraction directory; ``..`` cannot climb out of it."""
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return parts


def tar_in(c: ContainerFiles, path: str, src: BinaryIO | IO[bytes], *,
           no_overwrite_dir_non_dir: bool = False) -> int:
    """Extract the tar stream ``src`` (plain, gzip, bzip2 or xz) into the directory
    ``path`` of the container; returns the number of entries made."""
    made = 0
    with _errors(f"extract into {c.name}:{path}"), _tree(c) as (tree, pseudo):
        try:
            top = tree.locate(path, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(c, path)
        if not top.is_dir:
            raise InvalidArgument(f"extraction point is not a directory: {path} in "
                                  f"container {c.name}")
        dest = _Dest(tree, c, pseudo)
        policy = Policy(upper=isinstance(tree, LayerStack), skip_devs=pseudo)

        def host_ids(info: tarfile.TarInfo) -> tuple[int, int]:
            return _to_host(info.uid, c.uid_map), _to_host(info.gid, c.gid_map or c.uid_map)

        try:
            tar = tarfile.open(fileobj=src, mode="r|*")  # noqa: SIM115 (closed below)
        except tarfile.TarError as e:
            raise InvalidArgument(f"the archive for {c.name}:{path} is not a tar stream: {e}")
        with tar:
            base = path.rstrip("/") or "/"
            for info in tar:
                parts = _member_parts(info.name)
                if not parts:
                    continue  # the directory itself ("./")
                parent = posixpath.join(base, *parts[:-1])
                name = parts[-1]
                try:
                    pfd = _parent_fd(dest, tree, parent, policy)
                except (FileNotFoundError, NotADirectoryError):
                    raise InvalidArgument(f"{info.name}: its directory {parent} cannot be "
                                          f"made in container {c.name}")
                try:
                    _make(tar, info, pfd, name, dest, tree, base, policy, host_ids,
                          no_overwrite_dir_non_dir)
                    made += 1
                finally:
                    os.close(pfd)
    return made


def _parent_fd(dest: _Dest, tree: Root | LayerStack, parent: str, policy: Policy) -> int:
    """A writable fd of the container directory ``parent`` (made, with its missing
    ancestors, when the archive did not list it first)."""
    try:
        return dest.dir_fd(parent)
    except FileNotFoundError:
        up, name = split(parent)
        fd = _parent_fd(dest, tree, "/" + up, policy)
        try:
            sub = ensure_dir(fd, name, policy)
            os.fchmod(sub, 0o755)
            return sub
        finally:
            os.close(fd)


def _make(tar: tarfile.TarFile, info: tarfile.TarInfo, pfd: int, name: str, dest: _Dest,
          tree: Root | LayerStack, base: str, policy: Policy,
          host_ids: Callable[[tarfile.TarInfo], tuple[int, int]], no_overwrite: bool
          ) -> None:
    uid, gid = host_ids(info)
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and no_overwrite and stat.S_ISDIR(st.st_mode) != info.isdir():
        what = "a directory with a non-directory" if stat.S_ISDIR(st.st_mode) else \
            "a non-directory with a directory"
        raise InvalidArgument(f"cannot overwrite {what}: {info.name}")
    if info.isdir():
        fd = ensure_dir(pfd, name, policy)
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, info.mode & 0o7777)
            os.utime(fd, (info.mtime, info.mtime))
        finally:
            os.close(fd)
        return
    if info.isreg():
        remove_entry(pfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            data = tar.extractfile(info)
            if data is not None:
                while chunk := data.read(1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            os.fchown(fd, uid, gid)
            os.fchmod(fd, info.mode & 0o7777)
            os.utime(fd, (info.mtime, info.mtime))
        finally:
            os.close(fd)
        return
    if info.issym():
        remove_entry(pfd, name, keep_dir=False)
        os.symlink(info.linkname, name, dir_fd=pfd)
    elif info.islnk():
        parts = _member_parts(info.linkname)
        if not parts:
            raise InvalidArgument(f"{info.name}: a hard link to nothing")
        src_dir = posixpath.join(base, *parts[:-1])
        sfd = dest.dir_fd(src_dir)
        try:
            remove_entry(pfd, name, keep_dir=False)
            os.link(parts[-1], name, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(sfd)
        return
    elif info.ischr() or info.isblk() or info.isfifo():
        kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK if info.isblk() else \
            stat.S_IFIFO
        remove_entry(pfd, name, keep_dir=False)
        os.mknod(name, kind | (info.mode & 0o777), os.makedev(info.devmajor, info.devminor)
                 if kind != stat.S_IFIFO else 0, dir_fd=pfd)
    else:
        return  # anything else a tar can hold (GNU sparse headers are files) is skipped
    os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
    if not info.issym():
        os.chmod(name, info.mode & 0o7777, dir_fd=pfd, follow_symlinks=False)
    os.utime(name, (info.mtime, info.mtime), dir_fd=pfd, follow_symlinks=False)


# -- changes -----------------------------------------------------------------------------
def changes(c: ContainerFiles) -> list[Change]:
    """``docker diff``: each entry of the upper dir against the image's layers."""
    try:
        fd = os.open(c.upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []  # never started: nothing changed
    out: list[Change] = []
    with LayerStack([p for p in c.lowers if os.path.isdir(p)]) as lower:
        for rel, _dfd, entries in walk_fd(fd, "."):
            for name, st in entries:
                p = name if rel == "." else f"{rel}/{name}"
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    out.append(Change("/" + p, 2))  # a whiteout
                    continue
                out.append(Change("/" + p, 0 if lower.exists(p) else 1))
    return sorted(out, key=lambda ch: ch.path)
