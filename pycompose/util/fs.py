"""Crash-safe files: atomic writes (write, fsync, rename) and advisory locks, and the
modes of the state root: records 0600 and directories 0700 whatever the umask
(paths.PRIVATE_FILE, paths.PRIVATE_DIR)."""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .paths import PRIVATE_DIR, PRIVATE_FILE, private_dir


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE, *,
                 sync: bool = True, sync_new: bool = True) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old or the new content,
    never a part, even if the process is killed or the machine loses power. The file
    gets ``mode`` exactly (root-only by default: this is how state is written); the
    directories made for it are 0700.

    The data is synced before the rename; the directory only when the name is new:
    replacing a file (every record update) needs no directory sync for old-or-new,
    only for the new name to survive, and each sync is a wait on the journal that a
    busy disk makes long (two per update on a container start's path, before).

    ``sync=False`` skips the data sync when the file is *replaced* (a new name is
    always synced, and its directory): for records whose every update a power loss
    makes moot (a container's running/exited state, a network's attachments: after a
    reboot nothing runs and nothing is wired, and the records are reconciled). A
    process killed at any moment still leaves the old or the new content (the rename
    is atomic), and a power loss the old or the new one on file systems that flush a
    file renamed over another before the rename (ext4's auto_da_alloc, btrfs).

    ``sync=False, sync_new=False``: no sync at all, for a caller that syncs the new
    file and its folders itself (fsync_path, fsync_dir) once it has let go of a lock,
    before it tells anyone the file exists (ContainerStore.create)."""
    private_dir(path.parent)
    new = not os.path.lexists(path)
    pending = _deferred.get()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if pending is not None:  # deferred_sync: noted, synced with the rest
                start_writeback(f.fileno())
                pending.append(path)
            elif sync or (new and sync_new):
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)  # a full disk's write error names no file
        raise
    if new and sync_new:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any, *, sync: bool = True,
                      sync_new: bool = True) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(),
                 sync=sync, sync_new=sync_new)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.load(f)


_deferred: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar(
    "pycompose_deferred_sync", default=None)


@contextlib.contextmanager
def deferred_sync() -> Iterator[list[Path]]:
    """Within the block (and the threads it starts with its context), atomic_write and
    fsync_dir start the writeback and note the path instead of waiting for the disk;
    :func:`sync_paths` of the yielded list waits for all of them at once. Each fsync is
    a commit of the filesystem's journal; one at the end finds the earlier ones' data
    written already, instead of a dozen waits on every build step's path. Old-or-new
    still holds for readers and for a killed process; only a power loss inside the
    block can cost what the block wrote (the builder: its own layers and records)."""
    paths: list[Path] = []
    token = _deferred.set(paths)
    try:
        yield paths
    finally:
        _deferred.reset(token)


def sync_paths(paths: list[Path]) -> None:
    """fsync each of ``paths`` (files or directories; gone ones skipped), emptying the
    list; files before directories, so that a name is synced after its data."""
    todo = list(dict.fromkeys(paths))
    paths.clear()
    todo.sort(key=lambda p: os.path.isdir(p))
    for p in todo:
        with contextlib.suppress(FileNotFoundError):
            fsync_path(p)


def fsync_dir(path: Path) -> None:
    pending = _deferred.get()
    if pending is not None:
        pending.append(Path(path))
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SYNC_FILE_RANGE_WRITE = 2
_sync_file_range: Any = None


def start_writeback(fd: int) -> bool:
    """Ask the kernel to start writing ``fd``'s dirty pages to disk now, without
    waiting (``sync_file_range(SYNC_FILE_RANGE_WRITE)``): a later ``fsync`` of the
    file then finds most of its data written and returns at once. Advisory: False
    when the call is unavailable or refused (the later fsync does all the work)."""
    global _sync_file_range
    if _sync_file_range is None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = getattr(libc, "sync_file_range", None)
        if fn is not None:
            fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            fn.restype = ctypes.c_int
        _sync_file_range = fn or False
    if not _sync_file_range:
        return False
    return bool(_sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0)


def fsync_path(path: Path) -> None:
    """fsync the file at ``path`` (opened read-only: fsync needs no write access)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``path`` (created if missing) for the block.

    flock locks die with their process, so a killed pycompose never leaves a lock
    held."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def names_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a lock file that its
    holder or a clean-up unlinked, and another process made again, does not)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def take_lock_file(path: Path, fd: int) -> bool:
    """After ``flock(fd)`` on ``path`` succeeded: True if the lock is good, else ``fd``
    is closed and the caller opens ``path`` again (it was unlinked meanwhile)."""
    if names_file(path, fd):
        return True
    os.close(fd)
    return False


def drop_lock_file(path: Path, fd: int) -> None:
    """Release a lock taken by ``lock_file``-style code: unlink ``path`` while still
    holding it, and only if it still names our file, then close."""
    try:
        with contextlib.suppress(OSError):
            if names_file(path, fd):
                os.unlink(path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def lock_file(path: Path) -> Iterator[int]:
    """Hold an exclusive flock on ``path`` for the block and remove the file after:
    for per-object locks (a blob, a layer) that must not pile up as files. A waiter
    whose file was unlinked under it takes the lock again on the new file, so two
    holders never overlap; the file is removed only by its holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        if take_lock_file(path, fd):
            break
    try:
        yield fd
    finally:
        drop_lock_file(path, fd)


#: ext2/3/4's inode flag ioctls (long-sized in their numbers, an int in the kernel)
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000

#: The folders whose children come and go by the thousand: containers (a dozen files
#: and dirs each, made by ``create`` and gone with ``rm``), layers and their unpacking.
_CHURN_DIRS = ("containers", "volumes", "images/layers", "images/tmp", "builds")


def spread_dir(path: Path | str) -> bool:
    """Mark ``path`` as the top of directory hierarchies (``chattr +T``): ext4 then
    puts each new folder in it in a block group of its own, as it does the root's
    children, instead of in ``path``'s group with its siblings. Without a journal (as
    on these VMs' ext4), ext4 skips every inode of a group freed in the last minute
    when it allocates one, reading each one's inode block: a group that holds every
    container's files made each new file scan thousands of them after a few ``up``
    and ``down`` (a quarter of the CPU of ``up -d`` of 30 services went there).
    False where the filesystem has no such flag (tmpfs, xfs, btrfs, overlay)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], "little")
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS,
                        (flags | _FS_TOPDIR_FL).to_bytes(4, "little") + bytes(4))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def spread_state(root: Path) -> None:
    """spread_dir() on the state root's churning folders that exist (a root made by
    an older pycompose gets the flag at its supervisor's next start)."""
    for name in _CHURN_DIRS:
        if (root / name).is_dir():
            spread_dir(root / name)


#: What ``tighten_state`` closes under a state root, besides the root itself: the
#: record folders (and each record's own folder) and the record files. A volume's
#: ``_data`` and the image store's layers keep the modes containers need: the closed
#: root above them is what keeps other users out.
_STATE_DIRS = ("containers", "volumes", "networks", "images", "cache", "builds")
_RECORD_SUFFIXES = (".json", ".log", ".lock")


def tighten_state(root: Path) -> list[str]:
    """Close a state root made by an older pycompose or under a loose umask: the root
    and its folders 0700, records 0600. Only what this process owns is changed.
    Returns the paths it changed."""
    changed: list[str] = []
    me = os.geteuid()

    def close(path: Path, mode: int) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if st.st_uid != me or stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
            return
        if stat.S_IMODE(st.st_mode) & ~mode or mode == PRIVATE_DIR:
            os.chmod(path, mode)
            changed.append(str(path))

    close(root, PRIVATE_DIR)
    for entry in _scan(root):
        if entry.is_dir(follow_symlinks=False) and entry.name in _STATE_DIRS:
            close(Path(entry.path), PRIVATE_DIR)
        elif entry.is_file(follow_symlinks=False) and entry.name.startswith("supervisor."):
            close(Path(entry.path), PRIVATE_FILE)
    for folder in ("containers", "volumes"):
        for item in _scan(root / folder):
            if not item.is_dir(follow_symlinks=False):
                continue
            close(Path(item.path), PRIVATE_DIR)
            for f in _scan(Path(item.path)):
                if f.is_file(follow_symlinks=False) and f.name.endswith(_RECORD_SUFFIXES):
                    close(Path(f.path), PRIVATE_FILE)
    for f in _scan(root / "networks"):
        if f.is_file(follow_symlinks=False):
            close(Path(f.path), PRIVATE_FILE)
    return changed


def _scan(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
