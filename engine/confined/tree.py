"""Entries of a confined tree, and the merge of a directory across overlay layers.

An :class:`Entry` is a file as a tree shows it: its ``lstat`` and the places it lives,
each a (directory fd, name) pair. Every later step (open, list, read a link) is an
``*at()`` call on that directory fd with a single name and ``O_NOFOLLOW``, so once a
tree has handed out an entry nothing is resolved by path again: a container that swaps
a directory for a symlink meanwhile gets an error (or a different, still confined,
file), never the host's.

A directory of an overlay stack lives in several layers at once; :func:`children`
merges them as overlayfs does: the top layer's entry of a name wins, a whiteout (char
device 0:0) deletes the name, a non-directory hides every lower layer's entry, and an
opaque directory (``trusted.overlay.opaque=y``) hides what lower layers hold below it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .kernel import fd_path, is_opaque, is_whiteout

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Entry:
    """One file of a tree. ``places``: (parent directory fd, name), top layer first; a
    directory merged from several layers has one per layer, anything else exactly one.
    An empty name means the fd is the object itself (a tree's root, or a path resolved
    through its last symlink). The fds belong to the tree that made the entry."""

    st: os.stat_result
    places: list[tuple[int, str]]
    overlay: bool = False
    #: the last place is an opaque directory: the merge stops there (nothing below)
    closed: bool = field(default=False, repr=False)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.st.st_mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.st.st_mode)

    def xattr_path(self) -> tuple[str, bool]:
        """(a path naming the top place for the xattr calls, which take no dir fd,
        whether to follow it): the entry's name in its directory's magic link, never
        followed; or, for an fd that is the object itself, its own magic link."""
        fd, name = self.places[0]
        return (fd_path(fd, name), False) if name else (fd_path(fd), True)

    def open(self, flags: int = os.O_RDONLY) -> int:
        """An fd of the top place, never through a symlink. The caller closes it."""
        fd, name = self.places[0]
        if name:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        if self.is_dir:
            return os.open(".", flags | os.O_CLOEXEC, dir_fd=fd)
        # an O_PATH fd of a file: reopen it through its own magic link (our fd, an
        # object already resolved inside the root)
        return os.open(fd_path(fd), flags | os.O_CLOEXEC)

    def readlink(self) -> str:
        fd, name = self.places[0]
        if not name:
            raise OSError(22, "not a symbolic link")
        return os.readlink(name, dir_fd=fd)

    def dir_fds(self) -> list[int]:
        """Readable fds of this directory in each layer it is merged from (top first).
        Raises OSError (ELOOP, ENOTDIR) if a place stopped being a directory; the
        caller closes them (:func:`close_all`)."""
        out: list[int] = []
        try:
            for fd, name in self.places:
                out.append(os.open(name or ".", _DIR_FLAGS, dir_fd=fd))
        except BaseException:
            close_all(out)
            raise
        return out


def close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
    fds.clear()


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _merge(entry: Entry | None, dir_fd: int, name: str, st: os.stat_result,
           overlay: bool) -> tuple[Entry | None, bool]:
    """Add the place (dir_fd, name) of a lower layer to what the upper layers made of
    ``name``; returns (entry, decided) -- decided: no lower layer can change it."""
    if not overlay:
        return Entry(st, [(dir_fd, name)]), True
    if entry is None:  # the topmost occurrence
        if is_whiteout(st):
            return None, True
        e = Entry(st, [(dir_fd, name)], overlay=True)
        if not e.is_dir:
            return e, True
        e.closed = is_opaque(fd_path(dir_fd, name))
        return e, e.closed
    # a directory above: a lower directory merges into it, anything else ends it
    if not stat.S_ISDIR(st.st_mode):
        return entry, True
    entry.places.append((dir_fd, name))
    entry.closed = is_opaque(fd_path(dir_fd, name))
    return entry, entry.closed


def lookup(dir_fds: list[int], name: str, overlay: bool) -> Entry | None:
    """The entry ``name`` of the directory open as ``dir_fds`` (its layers, top first),
    or None if no layer has it (or a whiteout deleted it)."""
    entry: Entry | None = None
    for fd in dir_fds:
        st = _lstat(fd, name)
        if st is None:
            continue
        entry, decided = _merge(entry, fd, name, st, overlay)
        if decided:
            break
    return entry


def children(dir_fds: list[int], overlay: bool) -> list[tuple[str, Entry]]:
    """The entries of the directory open as ``dir_fds`` (its layers, top first), merged,
    sorted by name. An entry that vanished while it was listed is left out."""
    found: dict[str, Entry | None] = {}
    decided: set[str] = set()
    for fd in dir_fds:
        for name in os.listdir(fd):
            if name in decided:
                continue
            st = _lstat(fd, name)
            if st is None:
                continue
            entry, done = _merge(found.get(name), fd, name, st, overlay)
            found[name] = entry
            if done:
                decided.add(name)
    return sorted(((n, e) for n, e in found.items() if e is not None), key=lambda t: t[0])


def split(path: str) -> tuple[str, str]:
    """(parent, name) of a path inside a root; name ``""`` when the path names a
    directory through ``.``, ``..`` or nothing at all (resolve the whole path then)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[-1] in (".", ".."):
        return "/".join(parts) or ".", ""
    return "/".join(parts[:-1]) or ".", parts[-1]
