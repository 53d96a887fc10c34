"""The builder's own corner of the state root, and cleaning up after killed builds.

::

    $ROOT/build/                      0700
        work/<pid>-<rand>/            one build's scratch space (upper dirs of COPY steps,
        work/<pid>-<rand>.lock        an unpacked tar context, secrets, heredoc scripts),
                                      held by an flock for the build's life
        cache/<id>/ + <id>.lock       RUN --mount=type=cache directories, kept between
                                      builds (flock: shared, or exclusive for
                                      sharing=locked)
        sums/<folder hash>.json       content digests of context files (context.py)

A build killed with Ctrl-C or ``kill -9`` leaves its work dir with a free lock and,
maybe, a RUN container labelled with its pid: :func:`sweep` (run at the start of every
build) removes both, so nothing a dead build left is in the next one's way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..images import fsops


def build_dir(root: Path) -> Path:
    d = root / "build"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    if d.stat().st_mode & 0o077:
        os.chmod(d, 0o700)
    return d


def _lock_free(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    fsops.umount_under(str(path))
    shutil.rmtree(path, ignore_errors=True)


class Workspace:
    """One build's private scratch directory, removed when the build ends."""

    def __init__(self, root: Path) -> None:
        self.root = root
        base = build_dir(root) / "work"
        base.mkdir(exist_ok=True, mode=0o700)
        self.name = f"{os.getpid()}-{os.urandom(6).hex()}"
        self.lock = base / f"{self.name}.lock"
        self._fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.path = base / self.name
        self.path.mkdir(mode=0o700)
        self._n = 0

    def new_dir(self, what: str) -> Path:
        """A fresh empty directory for one step."""
        self._n += 1
        d = self.path / f"{self._n}-{what}"
        d.mkdir(mode=0o700)
        return d

    def close(self) -> None:
        _remove_tree(self.path)
        with contextlib.suppress(FileNotFoundError):
            self.lock.unlink()
        os.close(self._fd)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep(root: Path) -> list[str]:
    """Remove the work dirs of builds that are no longer running; return them."""
    base = build_dir(root) / "work"
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(base):
            if name.endswith(".lock"):
                continue
            if _lock_free(base / f"{name}.lock"):
                _remove_tree(base / name)
                with contextlib.suppress(FileNotFoundError):
                    (base / f"{name}.lock").unlink()
                removed.append(name)
    return removed


def running_dir(root: Path) -> Path:
    return build_dir(root) / "running"


def _running_name(mark: str, build_id: str) -> str:
    return f"{mark.replace(':', '-')}-{build_id}"


def note_running(root: Path, mark: str, build_id: str) -> None:
    """Say that build ``build_id`` of the process ``mark`` (``PID:START``) is about to
    make RUN containers, so that if it dies, the next build knows to look for them."""
    d = running_dir(root)
    d.mkdir(exist_ok=True, mode=0o700)
    os.close(os.open(d / _running_name(mark, build_id),
                     os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))


def done_running(root: Path, mark: str, build_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (running_dir(root) / _running_name(mark, build_id)).unlink()


def dead_builds(root: Path, alive: object) -> list[tuple[str, str]]:
    """(mark, build id) of builds that noted RUN containers and whose process is gone
    (``alive(mark)`` False)."""
    try:
        names = os.listdir(running_dir(root))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        pid, _, rest = n.partition("-")
        start, _, build_id = rest.partition("-")
        mark = f"{pid}:{start}"
        if not alive(mark):  # type: ignore[operator]
            out.append((mark, build_id))
    return out


@contextlib.contextmanager
def cache_mount(root: Path, mount_id: str, sharing: str, *, mode: int, uid: int,
                gid: int, scratch: Workspace) -> Iterator[Path]:
    """The directory of ``RUN --mount=type=cache,id=...`` for the length of one RUN.

    ``shared``: any number of builds at once; ``locked``: one at a time (the others
    wait); ``private``: a build that finds it in use gets a fresh directory of its own
    for this run (not kept)."""
    base = build_dir(root) / "cache"
    base.mkdir(exist_ok=True, mode=0o700)
    name = hashlib.sha256(mount_id.encode()).hexdigest()[:32]
    path = base / name
    fd = os.open(base / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if sharing == "locked":
            fcntl.flock(fd, fcntl.LOCK_EX)
        elif sharing == "private":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                private = scratch.new_dir("cache")
                os.chmod(private, mode)
                os.chown(private, uid, gid)
                yield private
                return
        else:
            fcntl.flock(fd, fcntl.LOCK_SH)
        if not path.is_dir():
            tmp = base / f".{name}.{os.getpid()}.tmp"
            with contextlib.suppress(FileExistsError):
                tmp.mkdir()
            os.chmod(tmp, mode)
            os.chown(tmp, uid, gid)
            try:
                os.rename(tmp, path)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)  # another build made it first
        yield path
    finally:
        os.close(fd)


def prune_cache_mounts(root: Path) -> int:
    """Remove every cache mount directory no build is using; return how many."""
    base = build_dir(root) / "cache"
    n = 0
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(base):
            if name.endswith(".lock") or name.startswith("."):
                continue
            lock = base / f"{name}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                shutil.rmtree(base / name, ignore_errors=True)
                n += 1
            finally:
                os.close(fd)
    return n
