"""The image store's own crash recovery: what dead processes left half-written (a
staging folder under ``tmp/`` whose lock nobody holds, atomic writes' temporaries) is
removed by the next writer. It knows the store's layout by the few paths it needs
(:class:`Layout`), not the store itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Protocol

from pycompose.util.fs import drop_lock_file

from . import fsops


class Layout(Protocol):
    """The paths recovery works on (``layout.StoreLayout`` has them)."""

    tmp: Path
    images_dir: Path
    blobs: Path
    #: this process's shared hold of ``gc.lock`` (None when it holds none)
    _gc_fd: int | None


def remove_tree(path: str) -> None:
    """A file, or a directory after unmounting what is mounted under it."""
    if os.path.isdir(path) and not os.path.islink(path):
        fsops.umount_under(path)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _take_free_lock(path: str) -> int | None:
    """The fd of ``path``'s lock when nobody holds it (None when somebody does). A
    missing lock file is free too: -1."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        return None


def _drop_lock(path: str, fd: int) -> None:
    """Remove the lock file ``fd`` holds, while holding it, and only if ``path`` still
    names that file: a lock file unlinked by its path after the check could be a new one
    a live holder has just taken (its next comer would then lock a third file and enter
    beside it: two unpacked one layer at once)."""
    if fd >= 0:
        drop_lock_file(Path(path), fd)


def recover(store: Layout, *, exclusive: bool = False) -> list[str]:
    """Remove what dead processes left half-written; return what was removed.
    ``exclusive``: the caller holds gc.lock exclusively (no other writer exists)."""
    removed: list[str] = []
    try:
        names = os.listdir(store.tmp)
    except FileNotFoundError:
        return removed
    for name in names:
        if name.endswith(".lock"):
            continue
        path = os.path.join(store.tmp, name)
        lock = path + ".lock"
        fd = _take_free_lock(lock)
        if fd is not None:
            try:
                remove_tree(path)
            finally:
                _drop_lock(lock, fd)
            removed.append(path)
    for name in names:  # locks whose directory is gone and whose holder is dead
        if name.endswith(".lock") and name[:-5] not in names:
            lock = os.path.join(store.tmp, name)
            fd = _take_free_lock(lock)
            if fd is not None:
                _drop_lock(lock, fd)
    # atomic_write's temporaries (.NAME.xxx.tmp): only safe when nobody else writes
    for d in (store.images_dir, store.blobs):
        with contextlib.suppress(FileNotFoundError):
            stale = [n for n in os.listdir(d) if n.startswith(".") and n.endswith(".tmp")]
            if stale and (exclusive or _try_exclusive(store)):
                for n in stale:
                    remove_tree(os.path.join(d, n))
                    removed.append(os.path.join(d, n))
    return removed


def _try_exclusive(store: Layout) -> bool:
    """True when this process is the only writer (it holds gc.lock shared once)."""
    fd = os.open(store.images_dir / "gc.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        # Our own shared lock is on another open file description: a non-blocking
        # exclusive lock succeeds only if no *other* process holds it.
        if store._gc_fd is not None:
            fcntl.flock(store._gc_fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    finally:
        os.close(fd)
        if store._gc_fd is not None:
            fcntl.flock(store._gc_fd, fcntl.LOCK_SH)


