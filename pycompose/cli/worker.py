"""A warm compose worker: the compose verbs without their import cost.

Why: a compose command needs pydantic, trio, yaml and networkx, which take ~340 ms to
import (more on a busy machine) before any work: more than the whole budget of an
``up -d`` + ``down`` of one service (0.3 s). Two ways out were weighed:

- caching the validated model keyed by the files' contents saves only validation
  (a few ms for a small project) and still pays every import, since unpickling
  pydantic models needs pydantic, and ``up`` needs trio anyway;
- a worker that has imported everything once and lingers, as the supervisor does.
  Measured here, that is the difference: the command's own work is tens of ms.

So the first compose command of a state root runs in its own process and, on its way,
starts a worker (``python -m pycompose.cli.worker_server``) in the background. The worker
listens on ``$ROOT/compose.sock`` (0600 from the moment it exists, in the 0700 state
root; SO_PEERCRED: only its own uid or root), and exits after
``$PYCOMPOSE_WORKER_IDLE`` seconds (default 60) with nothing to do, or when the code
it loaded is older than the code on disk (the client sends a stamp of the files'
mtimes; a worker from other code steps down and the command runs locally).

For each command the client sends argv, its environment, cwd and umask, with its
stdin, stdout and stderr as file descriptors (SCM_RIGHTS). The worker forks: the
child takes those fds as 0, 1, 2, that environment, folder and umask, runs
:func:`pycompose.cli.main`, and exits with its status; the worker answers the client
with the child's pid, then its exit status. A fork of a process that has imported
everything costs a few ms and shares its pages, and each command is a process of its
own, so commands never share state (os.environ, cwd, signal handlers, trio runs).

Signals: the client forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH to the
child (through the worker: the child is not in the client's process group, so a
Ctrl-C reaches it only this way, and twice for a second Ctrl-C). A client that goes
away hangs the child up (SIGHUP), as a closed terminal would.

The client side (:func:`forward`) is imported by every compose command: standard
library only, and its light parts.
"""

from __future__ import annotations

import _signal as signal
import _socket as socket
import os
import sys

from pycompose.util import fdpass, wirejson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The client side imports no contextlib, json or pathlib (~8 ms together): a command
# sent here is done in ~20 ms, and its own imports were half of that.

MAX_MSG = 1 << 20
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH)
#: set in a child the worker runs a command in: it never forwards again
IN_WORKER = "_PYCOMPOSE_IN_WORKER"


def socket_path(root: str | os.PathLike[str]) -> str:
    return os.path.join(root, "compose.sock")


def enabled() -> bool:
    return os.environ.get("PYCOMPOSE_WORKER", "1") != "0" and not os.environ.get(IN_WORKER)


def _scan(path: str, dirs_too: bool) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return [e for e in it if e.name.endswith(".py") or
                    (dirs_too and not e.name.startswith("_") and e.is_dir())]
    except OSError:
        return []


def code_stamp() -> str:
    """Names and mtimes of pycompose's code: a worker that loaded other code steps
    down (an upgrade, a developer's edit)."""
    base = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # pycompose/
    dirs = [base, os.path.join(base, "cli"), os.path.join(base, "util")]
    for layer in ("compose", "engine", "netplug"):
        real = os.path.realpath(os.path.join(base, layer))
        dirs.append(real)
        dirs += [e.path for e in _scan(real, True) if not e.name.endswith(".py")]
    parts: list[str] = []
    for d in dirs:
        for e in _scan(d, False):
            try:
                parts.append(f"{e.path}:{e.stat().st_mtime_ns}")
            except OSError:
                continue
    import zlib

    return f"{zlib.crc32('|'.join(sorted(parts)).encode()):08x}"


def _send(sock: socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> None:
    data = wirejson.dumps(msg).encode()
    if fds:
        sock.sendmsg([data], fdpass.rights(fds))
    else:
        sock.send(data)


def _recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    try:
        data, anc, _f, _a = sock.recvmsg(MAX_MSG, fdpass.space(4))
    except OSError:
        return None, []
    try:
        return fdpass.packet(data, anc)
    except ValueError:  # not JSON: not one of ours
        for fd in fdpass.received(anc):
            os.close(fd)
        return None, []


def forward(root: str, argv: list[str]) -> int | None:
    """Run ``argv`` in the worker of ``root``; its exit status, or None when no worker
    serves (one is started for the next command) or the one that does is outdated:
    then the caller runs the command itself."""
    path = socket_path(root)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        if os.path.isdir(root):
            spawn(root)
        return None
    try:
        umask = os.umask(0)
        os.umask(umask)
        _send(sock, {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(),
                     "umask": umask, "stamp": code_stamp()}, [0, 1, 2])
        reply, _ = _recv(sock)
        if reply is None or reply.get("outdated") or "pid" not in reply:
            return None
        old: dict[int, Any] = {}

        def relay(signum: int, _frame: object) -> None:
            try:
                _send(sock, {"signal": signum})
            except OSError:
                pass
        for s in FORWARDED:
            old[s] = signal.signal(s, relay)
        try:
            while True:
                try:
                    msg, _ = _recv(sock)
                except InterruptedError:
                    continue
                if msg is None:
                    print("pycompose: the compose worker went away", file=sys.stderr)
                    return 1
                if "exit" in msg:
                    return int(msg["exit"])
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    finally:
        sock.close()


def spawn(root: str | os.PathLike[str]) -> None:
    """Start a worker for ``root`` in the background (double fork, setsid, stdio to
    ``$ROOT/compose-worker.log``); a second one finds the socket taken and leaves."""
    pid = os.fork()
    if pid:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        fd = os.open(os.path.join(root, "compose-worker.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.closerange(3, 1 << 16)
        os.chdir("/")
        env = dict(os.environ, PYCOMPOSE_ROOT=os.fspath(root))
        env.pop(IN_WORKER, None)
        os.execve(sys.executable, [sys.executable, "-m", "pycompose.cli.worker_server"], env)
    finally:
        os._exit(127)
