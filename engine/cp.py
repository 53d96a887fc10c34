"""``container cp``: docker's rules for what goes where, over confined trees.

Docker's rules (``docker cp``), for SRC and DEST:

- SRC a file: DEST an existing directory -> into it as SRC's name; DEST a file or
  missing -> DEST (its parent must exist); DEST ending in ``/`` must be a directory.
- SRC a directory: DEST missing -> made as a copy of SRC; DEST an existing directory
  -> SRC copied into it, or only SRC's content if SRC ends in ``/.``; DEST a file ->
  refused.
- A symlink SRC is copied as a link unless ``-L`` (or a trailing ``/``); a symlink at
  DEST in the container is followed, inside the container, as docker's CLI does;
  inside a copied directory an existing entry of the destination is *replaced*
  (a symlink is never written through), a directory merged into.
- Owners: into a container, files belong to its root (its remapped root in a user
  namespace), or keep their ids with ``-a``; out of one, to whoever copies, with
  set-id bits and file capabilities dropped and device nodes made 0600 (a root-owned
  setuid file from a container would otherwise be a way to root on the host).

Where the files are: a running container through ``/proc/PID/root`` (the pid checked
against its start time, so a reused pid never names the host's root); a stopped one
through its layer stack, read with :class:`LayerStack` and written into its upper dir
(what overlayfs shows on the next start). Every path is resolved inside the container
(``engine/confined``); nothing a container holds can make a copy read or write the
host's files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .confined import Entry, LayerStack, Policy, Root, copy, copy_children
from .confined.tree import split
from .errors import EngineError, InvalidArgument, NotFound

IdMap = list[tuple[int, int, int]]

#: filesystems whose content is the kernel's, not the container's: a copy out of a
#: running container makes their mount points, never enters them (docker cannot copy
#: /proc or /sys either)
PSEUDO_FS = frozenset({"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "debugfs",
                       "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl",
                       "binfmt_misc", "autofs", "efivarfs"})


@dataclass(frozen=True)
class ContainerFiles:
    """Where a container's files are: ``pid`` and ``start_time`` if it runs, its
    layers (upper dir first) for when it does not."""

    name: str
    upper: str
    lowers: list[str]
    pid: int = 0
    start_time: int | None = None
    uid_map: IdMap | None = None
    gid_map: IdMap | None = None
    layers: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", [self.upper, *self.lowers])


def _to_host(cid: int, idmap: IdMap | None) -> int:
    for ctr, host, size in idmap or ():
        if ctr <= cid < ctr + size:
            return host + cid - ctr
    return cid


# -- opening a container's tree -------------------------------------------------------------
def _proc_start_time(pid_fd: int) -> int | None:
    try:
        fd = os.open("stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=pid_fd)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    fields = data[data.rindex(b")") + 2:].split()
    return None if fields[0] in (b"Z", b"X") else int(fields[19])


def _pseudo_devs(pid_fd: int) -> frozenset[int]:
    out = set()
    try:
        fd = os.open("mountinfo", os.O_RDONLY | os.O_CLOEXEC, dir_fd=pid_fd)
    except OSError:
        return frozenset()
    with open(fd, "rb") as f:
        for line in f:
            left, _, right = line.partition(b" - ")
            fields = left.split()
            if len(fields) > 2 and right.split()[:1] and right.split()[0].decode() in PSEUDO_FS:
                major, _, minor = fields[2].partition(b":")
                out.add(os.makedev(int(major), int(minor)))
    return frozenset(out)


def _live_root(c: ContainerFiles) -> tuple[Root, frozenset[int]] | None:
    """The root of the running container, or None if its process is gone (a record
    that still says running after a crash): the /proc dir fd pins the process, and its
    start time tells it from a later process that got the same pid."""
    if not c.pid:
        return None
    try:
        pid_fd = os.open(f"/proc/{c.pid}", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        started = _proc_start_time(pid_fd)
        if started is None or (c.start_time is not None and started != c.start_time):
            return None
        try:
            root_fd = os.open("root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pid_fd)
        except OSError:
            return None
        return Root(root_fd), _pseudo_devs(pid_fd)
    finally:
        os.close(pid_fd)


@contextlib.contextmanager
def _tree(c: ContainerFiles) -> Iterator[tuple[Root | LayerStack, frozenset[int]]]:
    live = _live_root(c)
    if live is not None:
        with live[0] as root:
            yield root, live[1]
        return
    # a container created and never started has no upper dir yet: an empty layer
    with LayerStack([p for p in c.layers if p != c.upper or os.path.isdir(p)]) as stack:
        yield stack, frozenset()


def _errors(what: str) -> contextlib.AbstractContextManager[None]:
    return _OSErrors(what)


class _OSErrors(contextlib.AbstractContextManager[None]):
    """OSError -> EngineError naming the copy and the file."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __exit__(self, typ: object, e: BaseException | None, tb: object) -> None:
        if isinstance(e, OSError) and not isinstance(e, EngineError):
            name = f" ({e.filename})" if e.filename else ""
            if e.errno == errno.EROFS:
                raise EngineError(f"{self.what}: the container's file system is read-only"
                                  f"{name}") from None
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise EngineError(f"{self.what}: no space left on device{name}") from None
            raise EngineError(f"{self.what}: {e.strerror or e}{name}") from None


def _basename(path: str) -> str:
    parts = [p for p in path.split("/") if p and p != "."]
    return parts[-1] if parts and parts[-1] != ".." else ""


def _contents_only(path: str) -> bool:
    """``DIR/.`` (or the root itself): the directory's content, not the directory."""
    return path.endswith("/.") or path == "." or not _basename(path)


# -- out of a container ---------------------------------------------------------------------
def copy_out(c: ContainerFiles, path: str, dest: Path | str, *,
             follow_link: bool = False) -> None:
    """``cp CONTAINER:PATH DEST`` (see the module's docstring)."""
    dest_s = str(dest)
    with _errors(f"copy {c.name}:{path} to {dest_s}"), _tree(c) as (tree, skip):
        follow = follow_link or path.endswith("/") or path.endswith("/.")
        try:
            entry = tree.locate(path, follow=follow)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"Could not find the file {path} in container {c.name}")
        if (path.endswith("/") or path.endswith("/.")) and not entry.is_dir:
            raise InvalidArgument(f"{path} in container {c.name} is not a directory")
        policy = Policy(owner=None, keep_setid=False, private_devices=True, skip_devs=skip)
        _put(entry, _basename(path), _contents_only(path), dest_s, policy)


def _put(entry: Entry, name: str, contents: bool, dest: str, policy: Policy) -> None:
    """Write ``entry`` at the host path ``dest`` by docker's rules."""
    is_dir = os.path.isdir(dest)  # the user's own path: followed as given
    if entry.is_dir:
        if os.path.lexists(dest) and not is_dir:
            raise InvalidArgument(f"cannot overwrite non-directory {dest} with a directory")
        if is_dir and not contents:
            with Root.at(dest) as d:
                copy(entry, d.fd, name, policy)
            return
        if not is_dir:  # DEST is made as a copy of SRC
            _host_parent(dest)
            os.mkdir(dest, 0o700)
        with Root.at(dest) as d:
            copy_children(entry, d.fd, policy)
        if not is_dir:
            _dir_meta(dest, entry)
        return
    if dest.endswith("/") and not is_dir:
        raise InvalidArgument(f"destination directory {dest} does not exist")
    if is_dir:
        with Root.at(dest) as d:
            copy(entry, d.fd, name, policy)
        return
    parent = _host_parent(dest)
    with Root.at(parent) as d:
        copy(entry, d.fd, os.path.basename(dest.rstrip("/")), policy)


def _dir_meta(dest: str, entry: Entry) -> None:
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fchmod(fd, entry.st.st_mode & 0o1777)
        os.utime(fd, ns=(entry.st.st_atime_ns, entry.st.st_mtime_ns))
    finally:
        os.close(fd)


def _host_parent(dest: str) -> str:
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/"))) or "/"
    if not os.path.isdir(parent):
        raise NotFound(f"no such directory: {parent}")
    return parent


# -- into a container -----------------------------------------------------------------------
def _host_entry(src: str, follow: bool, held: list[int]) -> Entry:
    """The host file ``src`` (the user's own path: resolved as given) as an entry."""
    if follow:
        fd = os.open(src, os.O_PATH | os.O_CLOEXEC)
        held.append(fd)
        return Entry(os.fstat(fd), [(fd, "")])
    parent = os.path.dirname(os.path.abspath(src.rstrip("/") or "/")) or "/"
    name = os.path.basename(os.path.abspath(src.rstrip("/") or "/"))
    pfd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    held.append(pfd)
    if not name:
        return Entry(os.fstat(pfd), [(pfd, "")])
    return Entry(os.stat(name, dir_fd=pfd, follow_symlinks=False), [(pfd, name)])


class _Dest:
    """Where a copy into a container writes: the live root, or the upper dir of a
    stopped container (directories the image has are made there as overlayfs would
    copy them up)."""

    def __init__(self, tree: Root | LayerStack, c: ContainerFiles,
                 pseudo: frozenset[int] = frozenset()) -> None:
        self.tree = tree
        self.upper = c.upper
        self.c = c
        self.pseudo = pseudo

    def dir_fd(self, path: str) -> int:
        """A writable fd of the directory ``path`` (resolved inside the container); a
        directory of the kernel's (the container's /proc, /sys) is refused: the copy
        runs as host root, and docker cannot copy there either."""
        if isinstance(self.tree, Root):
            fd = self.tree.opendir(path)
            if os.fstat(fd).st_dev in self.pseudo:
                os.close(fd)
                raise InvalidArgument(f"cannot copy into {path} of container {self.c.name}: "
                                      "it belongs to the kernel (/proc, /sys)")
            return fd
        names, entry = self.tree.resolve(path, follow=True)
        if not entry.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.upper, 0o755)  # the container's "/": as its runtime makes it
            os.chmod(self.upper, 0o755)  # whatever the umask
        fd = os.open(self.upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            done: list[str] = []
            for name in names:
                done.append(name)
                try:
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    tmpl = self.tree.locate("/".join(done)).st  # the image's directory
                    os.mkdir(name, 0o700, dir_fd=fd)
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=fd)
                    # the owner overlayfs would give its copy-up: a lower layer's ids
                    # are the container's, the upper dir holds host ids (user ns)
                    os.fchown(sub, _to_host(tmpl.st_uid, self.c.uid_map),
                              _to_host(tmpl.st_gid, self.c.gid_map or self.c.uid_map))
                    os.fchmod(sub, tmpl.st_mode & 0o7777)
                    os.utime(sub, ns=(tmpl.st_atime_ns, tmpl.st_mtime_ns))
                os.close(fd)
                fd = sub
            return fd
        except BaseException:
            os.close(fd)
            raise


def copy_in(c: ContainerFiles, src: str, path: str, *, follow_link: bool = False,
            archive: bool = False) -> None:
    """``cp SRC CONTAINER:PATH`` (see the module's docstring)."""
    if not os.path.lexists(src):
        raise NotFound(f"no such file or directory: {src}")
    held: list[int] = []
    try:
        with _errors(f"copy {src} to {c.name}:{path}"), _tree(c) as (tree, pseudo):
            follow = follow_link or src.endswith("/") or src.endswith("/.")
            entry = _host_entry(src, follow, held)
            if (src.endswith("/") or src.endswith("/.")) and not entry.is_dir:
                raise InvalidArgument(f"{src} is not a directory")

            def owner(st: os.stat_result) -> tuple[int, int]:
                uid, gid = (st.st_uid, st.st_gid) if archive else (0, 0)
                return _to_host(uid, c.uid_map), _to_host(gid, c.gid_map or c.uid_map)

            policy = Policy(owner=owner, upper=isinstance(tree, LayerStack),
                            skip_devs=pseudo)
            dest = _Dest(tree, c, pseudo)
            _put_in(tree, dest, entry, _basename(src) or "root", src.endswith("/."), path,
                    policy, c.name)
    finally:
        for fd in held:
            os.close(fd)


def _put_in(tree: Root | LayerStack, dest: _Dest, entry: Entry, name: str, contents: bool,
            path: str, policy: Policy, cname: str) -> None:
    target = path
    for _ in range(40):  # a symlink at DEST is followed inside the container
        parent, base = split(target)
        try:
            tree.locate(parent, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            where = posixpath.normpath("/" + parent)
            raise NotFound(f"Could not find the directory {where} in container {cname}")
        try:
            found: Entry | None = tree.locate(target, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            found = None
        if found is None or not found.is_link:
            break
        link = found.readlink()
        target = link if link.startswith("/") else posixpath.join(parent, link)
    else:
        raise EngineError(f"{path} in container {cname}: too many levels of symbolic links")
    exists, is_dir = found is not None, found is not None and found.is_dir
    if entry.is_dir:
        if exists and not is_dir:
            raise InvalidArgument(f"cannot overwrite non-directory {path} in container "
                                  f"{cname} with a directory")
        if exists and not contents:
            fd = dest.dir_fd(target)
            try:
                copy(entry, fd, name, policy)
            finally:
                os.close(fd)
            return
        if not exists:
            if not base:
                raise NotFound(f"Could not find the directory {path} in container {cname}")
            fd = dest.dir_fd(parent)
            try:
                copy(entry, fd, base, policy)
            finally:
                os.close(fd)
            return
        fd = dest.dir_fd(target)
        try:
            copy_children(entry, fd, policy)
        finally:
            os.close(fd)
        return
    if path.endswith("/") and not is_dir:
        raise NotFound(f"Could not find the directory {path} in container {cname}")
    if is_dir:
        fd = dest.dir_fd(target)
        try:
            copy(entry, fd, name, policy)
        finally:
            os.close(fd)
        return
    fd = dest.dir_fd(parent)
    try:
        copy(entry, fd, base, policy)
    finally:
        os.close(fd)
