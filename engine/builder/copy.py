"""COPY and ADD: files from a source into an image's filesystem, confined to it.

The destination is a directory fd of the image's root (a detached overlay mount, see
:mod:`.overlay`). Every path in it is resolved by the kernel inside that root
(``openat2(RESOLVE_IN_ROOT)``): a destination directory that is a symlink in the parent
image is followed *inside the image*, never on the host. The entry being written is
created with ``O_NOFOLLOW``/``O_EXCL`` after removing what was there, so a symlink at the
destination is replaced, not written through (as docker's copy does).

Sources (:class:`Source`) are the build context (owners become root, or ``--chown``) or
another root: a stage or an image, mounted read-only (owners kept). Directories are
copied by their contents, symlinks inside them as symlinks; modes and mtimes are kept;
``--chmod`` replaces the mode of what is copied; ``--chown`` is resolved in the
destination's ``/etc/passwd`` and ``/etc/group``.

Every path is resolved by the engine's one confined resolver (:mod:`..confined`):
``Root`` for the destination and for stage/image sources, its ``copy`` for trees read
from a stage or an image.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterator
from typing import Any, Protocol

from ..errors import InvalidArgument, NotFound
from .context import Entry


class Source(Protocol):
    """Where COPY reads from."""

    def walk(self, rel: str) -> Iterator[Entry]: ...
    def open_file(self, rel: str) -> int: ...
    def owner(self, rel: str) -> tuple[int, int]: ...


class RootSource:
    """A mounted image root (a stage, ``--from=IMAGE``) as a COPY source: read through
    the confined resolver, owners kept."""

    def __init__(self, root_fd: int) -> None:
        from ..confined import Root

        self.root = Root(os.dup(root_fd))  # the Root closes its own fd
        self.root_fd = root_fd

    def close(self) -> None:
        self.root.close()

    def entry(self, rel: str) -> Any:
        """The confined entry of ``rel`` (its last symlink followed inside the root)."""
        return self.root.locate(rel or ".", follow=True)

    def exists(self, rel: str) -> bool:
        try:
            self.entry(rel)
        except OSError:
            return False
        return True

    def walk(self, rel: str) -> Iterator[Entry]:
        e = self.entry(rel)
        yield _entry(rel, e.st, "")
        if not stat.S_ISDIR(e.st.st_mode):
            return
        fd = self.root.opendir(rel or ".")
        try:
            yield from _walk_fd(fd, rel)
        finally:
            os.close(fd)

    def open_file(self, rel: str) -> int:
        return int(self.root.open(rel, os.O_RDONLY, follow=True))

    def owner(self, rel: str) -> tuple[int, int]:
        st = self.root.lstat(rel)
        return st.st_uid, st.st_gid

    def glob(self, pattern: str) -> list[str]:
        from .context import glob_match, has_glob

        parts = [p for p in pattern.split("/") if p]
        found = [""]
        for part in parts:
            nxt = []
            for base in found:
                if not has_glob(part):
                    nxt.append(posixpath.join(base, part) if base else part)
                    continue
                try:
                    fd = self.root.opendir(base or ".")
                except OSError:
                    continue
                try:
                    names = sorted(os.listdir(fd))
                finally:
                    os.close(fd)
                nxt += [posixpath.join(base, n) if base else n for n in names
                        if glob_match(part, n)]
            found = nxt
        return [f for f in found if self.exists(f)]


def _kind(st: os.stat_result) -> str:
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "other"


def _entry(rel: str, st: os.stat_result, link: str) -> Entry:
    return Entry(rel, _kind(st), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, link)


def _walk_fd(dfd: int, rel: str) -> Iterator[Entry]:
    with os.scandir(dfd) as it:
        items = sorted(it, key=lambda e: e.name)
    for e in items:
        sub = posixpath.join(rel, e.name) if rel else e.name
        st = e.stat(follow_symlinks=False)
        link = os.readlink(e.name, dir_fd=dfd) if stat.S_ISLNK(st.st_mode) else ""
        yield _entry(sub, st, link)
        if stat.S_ISDIR(st.st_mode):
            cfd = os.open(e.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=dfd)
            try:
                yield from _walk_fd(cfd, sub)
            finally:
                os.close(cfd)


# -- owners ---------------------------------------------------------------------------------
def _read_in_root(root_fd: int, path: str) -> str:
    from ..confined.kernel import open_in_root

    try:
        fd = open_in_root(root_fd, path, os.O_RDONLY)
    except OSError:
        return ""
    with open(fd, "rb") as f:
        return f.read(1 << 20).decode(errors="replace")


def _lookup(text: str, name: str, field: int) -> int | None:
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > field and parts[0] == name and parts[field].isdigit():
            return int(parts[field])
    return None


def resolve_owner(root_fd: int, spec: str, what: str) -> tuple[int, int]:
    """``--chown=user[:group]`` (names or numbers) against the image's /etc files. A
    user alone gives the same number as the group, as docker does."""
    user, sep, group = spec.partition(":")
    if not user:
        raise InvalidArgument(f"{what}: invalid --chown {spec!r}")
    if user.isdigit():
        uid = int(user)
    else:
        found = _lookup(_read_in_root(root_fd, "etc/passwd"), user, 2)
        if found is None:
            raise InvalidArgument(f"{what}: --chown: unable to find user {user} in the "
                                  "image's /etc/passwd")
        uid = found
    if not sep or not group:
        return uid, uid
    if group.isdigit():
        return uid, int(group)
    gid = _lookup(_read_in_root(root_fd, "etc/group"), group, 2)
    if gid is None:
        raise InvalidArgument(f"{what}: --chown: unable to find group {group} in the "
                              "image's /etc/group")
    return uid, gid


def parse_chmod(text: str, what: str) -> int:
    """``--chmod=0755`` (octal)."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"{what}: invalid --chmod {text!r}: use octal digits "
                              "such as 0755") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"{what}: invalid --chmod {text!r}")
    return mode


# -- writing ----------------------------------------------------------------------------------
class Target:
    """Where and how COPY writes: the image's root (through the confined resolver),
    the ownership and mode to impose."""

    def __init__(self, root_fd: int, owner: tuple[int, int] | None = None,
                 chmod: int | None = None, keep_owner: bool = False) -> None:
        from ..confined import Root

        self.root = Root(os.dup(root_fd))  # the Root closes its own fd
        self.root_fd = root_fd
        self.owner = owner  # --chown; None keeps the source's (or root)
        self.chmod = chmod
        self.keep_owner = keep_owner  # a root source (a stage): keep its owners

    def close(self) -> None:
        self.root.close()

    def dir_fd(self, path: str) -> int:
        """An fd of directory ``path`` in the root (symlinks followed inside), made with
        its parents when missing (0755, the --chown owner)."""
        uid, gid = self.owner or (0, 0)
        return int(self.root.makedirs(path.strip("/") or ".", 0o755, uid, gid))

    def is_dir(self, path: str) -> bool:
        try:
            return bool(self.root.locate(path.strip("/") or ".", follow=True).is_dir)
        except OSError:
            return False


def _clear(pfd: int, name: str, *, keep_dir: bool) -> bool:
    """Remove ``name`` so that a new entry can take its place (never following a
    symlink); True if a directory was there and kept (``keep_dir``)."""
    from ..confined import remove_entry

    try:
        remove_entry(pfd, name, keep_dir=keep_dir)
    except IsADirectoryError:
        return True
    return False


def _copy_data(src: int, dst: int) -> None:
    from ..confined import copy_data

    copy_data(src, dst)


class Copier:
    """One COPY/ADD: writes entries of ``source`` under ``target``."""

    def __init__(self, source: Source, target: Target, what: str) -> None:
        self.source = source
        self.target = target
        self.what = what
        self.dir_times: list[tuple[int, str, int]] = []  # (parent fd, name, mtime)
        self._fds: list[int] = []

    def close(self) -> None:
        for pfd, name, ns in reversed(self.dir_times):
            with contextlib.suppress(OSError):
                os.utime(name, ns=(ns, ns), dir_fd=pfd, follow_symlinks=False)
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self.dir_times.clear()

    def _ids(self, rel: str) -> tuple[int, int]:
        if self.target.owner is not None:
            return self.target.owner
        if self.target.keep_owner:
            return self.source.owner(rel)
        return 0, 0

    def _mode(self, e: Entry) -> int:
        return self.target.chmod if self.target.chmod is not None else e.mode

    def write(self, e: Entry, pfd: int, name: str) -> int | None:
        """Write entry ``e`` as ``name`` in directory ``pfd``; a directory's fd is
        returned (kept open until close)."""
        uid, gid = self._ids(e.rel)
        if e.kind == "dir":
            if not _clear(pfd, name, keep_dir=True):
                os.mkdir(name, 0o700, dir_fd=pfd)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=pfd)
            self._fds.append(fd)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, self._mode(e))
            self.dir_times.append((pfd, name, e.mtime_ns))
            return fd
        if e.kind == "symlink":
            _clear(pfd, name, keep_dir=False)
            os.symlink(e.link, name, dir_fd=pfd)
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(name, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)
            return None
        if e.kind != "file":
            return None  # sockets, fifos and devices of a context are not copied
        if _clear(pfd, name, keep_dir=True):
            raise InvalidArgument(f"{self.what}: cannot copy the file {e.rel or e.name!r} "
                                  f"over the directory {name!r}")
        src = self.source.open_file(e.rel)
        try:
            dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600, dir_fd=pfd)
            try:
                _copy_data(src, dst)
                os.fchown(dst, uid, gid)
                os.fchmod(dst, self._mode(e))
                os.utime(dst, ns=(e.mtime_ns, e.mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)
        return None

    def copy_tree(self, src_rel: str, dest_fd: int) -> None:
        """The contents of directory ``src_rel`` into the directory ``dest_fd``."""
        fds: dict[str, int] = {src_rel: dest_fd}
        walk = self.source.walk(src_rel)
        top = next(walk)
        assert top.kind == "dir"
        for e in walk:
            parent = posixpath.dirname(e.rel)
            pfd = fds.get(parent)
            if pfd is None:
                continue  # below an entry that was not a directory
            fd = self.write(e, pfd, e.name)
            if fd is not None:
                fds[e.rel] = fd


def copy_sources(source: Source, target: Target, sources: list[str], dest: str,
                 *, workdir: str, what: str, many: bool) -> None:
    """COPY ``sources`` to ``dest`` with docker's rules: a directory's contents go into
    ``dest``; a file goes into ``dest`` when it ends with ``/`` or is a directory, else
    becomes ``dest``; several sources need a directory (``dest/``)."""
    dest_abs = posixpath.normpath(posixpath.join(workdir or "/", dest))
    if not dest_abs.startswith("/"):
        dest_abs = "/" + dest_abs
    into_dir = dest.endswith("/") or dest in (".", "") or dest.endswith("/.")
    if many and not into_dir and not target.is_dir(dest_abs):
        raise InvalidArgument(f"{what}: when copying more than one source, the "
                              f"destination must be a directory and end with a /")
    copier = Copier(source, target, what)
    try:
        for src in sources:
            walk = source.walk(src)
            try:
                top = next(walk)
            except FileNotFoundError:
                raise NotFound(f"{what}: {src!r}: no such file or directory") from None
            if top.kind == "dir":
                dfd = target.dir_fd(dest_abs)
                copier._fds.append(dfd)
                copier.copy_tree(src, dfd)
                continue
            if into_dir or target.is_dir(dest_abs):
                pfd = target.dir_fd(dest_abs)
                name = posixpath.basename(src) or top.name
            else:
                parent, name = posixpath.split(dest_abs)
                pfd = target.dir_fd(parent)
            copier._fds.append(pfd)
            copier.write(top, pfd, name)
    finally:
        copier.close()


def write_content(target: Target, data: bytes, dest: str, name: str, *, workdir: str,
                  mode: int, mtime_ns: int) -> None:
    """COPY <<EOF: one file with ``data`` (the heredoc) at ``dest`` (into it if it is
    a directory)."""
    dest_abs = posixpath.normpath(posixpath.join(workdir or "/", dest))
    if dest.endswith("/") or target.is_dir(dest_abs):
        pfd = target.dir_fd(dest_abs)
    else:
        parent, name = posixpath.split(dest_abs)
        pfd = target.dir_fd(parent)
    try:
        _clear(pfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            uid, gid = target.owner or (0, 0)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, target.chmod if target.chmod is not None else mode)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
    finally:
        os.close(pfd)
