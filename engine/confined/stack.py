"""A read-only view of an overlay stack (upper dir and lowerdirs, top first) as
overlayfs would merge it, without mounting anything: a stopped container has no
mounted rootfs, and an image's content is wanted before its container runs (volume
copy-up).

Each path is resolved one component at a time through the layers, top-down: a
whiteout deletes a name, a non-directory hides the layers below it, an opaque
directory hides what lower layers hold beneath it, and a symlink met on the way is
read and followed *inside the stack* (an absolute target restarts at the stack's root,
``..`` stops there). Components are looked up with ``fstatat``/``openat`` on directory
fds by single names with ``O_NOFOLLOW``; the kernel never follows a link here, so no
layer's symlink can lead to the host.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

from .tree import Entry, close_all, lookup

_MAX_HOPS = 40
#: the root of a stack of no layers (an image ``FROM scratch`` with nothing added)
_EMPTY_DIR = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 1, 0, 0, 0, 0, 0, 0))


class LayerStack:
    """The merged tree of ``layers`` (host directories of ours, top first). Use as a
    context manager, or :meth:`close` it; the fds of the entries it hands out live
    until then."""

    overlay = True

    def __init__(self, layers: Sequence[str | os.PathLike[str]]) -> None:
        self._held: list[int] = []
        try:
            for layer in layers:
                # the store's short layer links are ours: resolve them on the host
                self._held.append(os.open(os.path.realpath(layer),
                                          os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        except BaseException:
            close_all(self._held)
            raise
        self.layer_fds = list(self._held)

    def close(self) -> None:
        close_all(self._held)

    def __enter__(self) -> LayerStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def root(self) -> Entry:
        st = os.fstat(self.layer_fds[0]) if self.layer_fds else _EMPTY_DIR
        return Entry(st, [(fd, "") for fd in self.layer_fds], overlay=True)

    def _open_dir(self, entry: Entry) -> list[int]:
        fds = entry.dir_fds()
        self._held.extend(fds)
        return fds

    def resolve(self, path: str, *, follow: bool = False) -> tuple[list[str], Entry]:
        """(the path's canonical names from the root, its entry): every symlink on the
        way resolved inside the stack, the last one only if ``follow``. Raises
        FileNotFoundError, NotADirectoryError or OSError(ELOOP) as a kernel walk would."""
        todo = [p for p in path.split("/") if p and p != "."]
        names: list[str] = []
        trail: list[Entry] = [self.root()]
        hops = 0
        while todo:
            part = todo.pop(0)
            here = trail[-1]
            if not here.is_dir:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            if part == "..":
                if names:
                    names.pop()
                    trail.pop()
                continue
            entry = lookup(self._open_dir(here), part, overlay=True)
            if entry is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            if entry.is_link and (todo or follow):
                hops += 1
                if hops > _MAX_HOPS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = entry.readlink()
                if target.startswith("/"):
                    names, trail = [], trail[:1]
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            names.append(part)
            trail.append(entry)
        return names, trail[-1]

    def locate(self, path: str, *, follow: bool = False) -> Entry:
        """The entry at ``path`` (see :meth:`resolve`)."""
        return self.resolve(path, follow=follow)[1]

    def exists(self, path: str) -> bool:
        try:
            self.locate(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True
