"""Entering network namespaces from one thread (ctypes ``setns``: Python 3.11's ``os``
lacks it), and the named namespaces of ``ip netns``.

``setns(CLONE_NEWNET)`` moves only the calling thread, so a worker thread can step into
a namespace, open a netlink or UDP socket there (a socket stays in the namespace it was
made in) and step back. pyroute2's own netns support forks a helper process per socket,
which costs milliseconds we do not want to pay per attachment.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import NetplugError

CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20
NETNS_RUN_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def netns_path(name_or_path: str) -> str:
    """A named netns (``ip netns``) or a path (``/proc/PID/ns/net``) -> a path."""
    return name_or_path if "/" in name_or_path else str(NETNS_RUN_DIR / name_or_path)


@contextlib.contextmanager
def in_netns(name_or_path: str | None) -> Iterator[None]:
    """Run the block in another network namespace (this thread only); None: stay."""
    if name_or_path is None:
        yield
        return
    path = netns_path(name_or_path)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NetplugError(f"network namespace {path} does not exist (container gone?)")
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def netns_exists(name: str) -> bool:
    return (NETNS_RUN_DIR / name).exists()


def list_netns(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def add_netns(name: str) -> None:
    """``ip netns add``, in-process: a new network namespace for this thread
    (``unshare``), bind-mounted at /run/netns/NAME, and the thread back in its own.
    (An ``ip`` process costs ~5-10 ms; this, well under one.) /run/netns is first
    made a shared mount point, as ``ip`` makes it, so that the name's unmount
    propagates to every mount namespace and the namespace is freed."""
    if netns_exists(name):
        return
    _prepare_run_dir()
    path = NETNS_RUN_DIR / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
    except FileExistsError:
        return  # another process is making it
    os.close(fd)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            _unlink(path)
            raise NetplugError(f"cannot create network namespace {name}: {os.strerror(e)}")
        try:
            if _libc.mount(b"/proc/thread-self/ns/net", str(path).encode(), b"none",
                           MS_BIND, None) != 0:
                e = ctypes.get_errno()
                _unlink(path)
                raise NetplugError(f"cannot create network namespace {name}: "
                                   f"{os.strerror(e)}")
        finally:
            _setns(own)
    finally:
        os.close(own)


_run_dir_ready = False


def _prepare_run_dir() -> None:
    """/run/netns exists and is a shared mount point (``ip netns add``'s rule)."""
    global _run_dir_ready
    if _run_dir_ready:
        return
    NETNS_RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    run_dir = str(NETNS_RUN_DIR).encode()
    if _libc.mount(b"", run_dir, b"none", MS_SHARED | MS_REC, None) != 0:
        e = ctypes.get_errno()
        if e != errno.EINVAL:
            raise NetplugError(f"cannot make {NETNS_RUN_DIR} a shared mount: {os.strerror(e)}")
        # not a mount point yet: make it one (bound on itself), then shared
        if _libc.mount(run_dir, run_dir, b"none", MS_BIND | MS_REC, None) != 0 or \
                _libc.mount(b"", run_dir, b"none", MS_SHARED | MS_REC, None) != 0:
            e = ctypes.get_errno()
            raise NetplugError(f"cannot make {NETNS_RUN_DIR} a shared mount: {os.strerror(e)}")
    _run_dir_ready = True


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def del_netns(name: str) -> None:
    """Remove a named netns (``ip netns del``: the name's mount detached, its file
    removed). Its links (bridges, veth ends, and with them their peers in the host and
    in containers) go when the kernel frees it: at once when no process and no socket
    holds it, which is the case for a scope's namespace once its containers are gone."""
    if not netns_exists(name):
        return
    forget_netns(name)


def forget_netns(name: str) -> None:
    """Drop the name of a netns that processes still hold (a container joined it):
    detach its bind mount and unlink the file, without a process of ``ip``. The
    kernel then frees it when its last process is gone, lazily, which is what we
    want here; del_netns is for namespaces whose links must be gone when it returns.
    Idempotent."""
    path = NETNS_RUN_DIR / name
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):  # not mounted (a half-made name)
            raise NetplugError(f"cannot remove network namespace {name}: {os.strerror(e)}")
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise NetplugError(f"cannot remove network namespace {name}: {e.strerror}") from None


def write_sysctl(key: str, value: str, netns: str | None = None) -> None:
    """Write /proc/sys/KEY (dots become slashes) in a namespace (this thread)."""
    path = "/proc/sys/" + key.replace(".", "/")
    with in_netns(netns):
        try:
            # /proc/sys/net shows the netns of the thread that opens it (tried here)
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise NetplugError(f"sysctl {key} does not exist")
            raise
