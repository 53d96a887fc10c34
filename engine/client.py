"""The thin client of the supervisor: what ``container run/exec/stop/...`` import.

Every such command pays this module's import cost, so it uses the standard library's
light parts only (socket, json, os): no trio, no pydantic. It talks to the supervisor
over ``$ROOT/supervisor.sock`` (SOCK_SEQPACKET: one JSON message per packet, so file
descriptors passed with SCM_RIGHTS always arrive with the message they belong to),
and starts the supervisor when nobody answers.

Terminal runs (``-t``): the supervisor hands the pty master to the client, which writes
the keyboard to it directly (raw mode, SIGWINCH -> resize, ctrl-p ctrl-q detaches); a
container's output comes on a pipe from the log keeper, which reads the terminal so
that the session is in ``logs`` too (an exec's terminal is read directly). No byte of
an interactive session goes through the supervisor.
"""

from __future__ import annotations

import _signal as signal  # the C modules: socket.py and signal.py build enums at
import _socket as socket  # import (~3 ms together), and this client needs none of it
import _thread
import contextlib
import errno
import json
import os
import sys
import time
from pathlib import Path

from pycompose.util import fdpass

from .errors import EngineError, from_wire

TYPE_CHECKING = False  # not typing's: importing typing costs every command ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

MAX_MSG = 1 << 20
DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


def socket_path(root: Path) -> Path:
    return root / "supervisor.sock"


class Conn:
    """One connection to the supervisor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, msg: dict[str, Any], fds: Sequence[int] = ()) -> None:
        data = json.dumps(msg).encode()
        if fds:
            anc = fdpass.rights(fds)
            self.sock.sendmsg([data], anc)
        else:
            self.sock.send(data)

    def recv(self) -> tuple[dict[str, Any], list[int]]:
        """The next message and the fds that came with it; EOF is an EngineError."""
        data, anc, _flags, _addr = self.sock.recvmsg(MAX_MSG, socket.CMSG_SPACE(16 * 4))
        return reply(data, anc)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply(data: bytes, anc: list[tuple[int, int, bytes]]) -> tuple[dict[str, Any], list[int]]:
    """A supervisor's message as ``recvmsg`` gave it: the message and the fds that came
    with it; an error reply raises its kind (its fds closed), EOF an EngineError."""
    msg, fds = fdpass.packet(data, anc)
    if msg is None:
        raise EngineError("the supervisor closed the connection (it may have crashed; "
                          "see supervisor.log under the state root)")
    if msg.get("ok") is False:
        for fd in fds:
            os.close(fd)
        err = msg.get("error")
        raise from_wire(err) if isinstance(err, dict) else EngineError(str(err))
    return msg, fds


def _try_connect(path: Path) -> Conn | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        return None
    except PermissionError as e:  # another user's (root-only) state root: name it
        s.close()
        raise PermissionError(e.errno, e.strerror, str(path)) from None
    return Conn(s)


#: the fd a starting supervisor finds its ready pipe on (supervisor/server.py: Ready)
READY_FD = 3


def _spawn_supervisor(root: Path) -> int:
    """Start the supervisor as a daemon: double fork, setsid, stdio to its log file.
    If one is already starting, its flock makes our copy exit. Returns the read end
    of its ready pipe: "ok" once it listens, "error: WHY" if it could not start (a
    full or read-only disk: a pipe needs no disk, where its log does), EOF alone if it
    left the root to another."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    if pid:
        os.close(w)
        os.waitpid(pid, 0)
        return r
    try:  # the intermediate child
        os.setsid()
        if os.fork():
            os._exit(0)
        import fcntl

        w = fcntl.fcntl(w, fcntl.F_DUPFD, 10)  # clear of 0-3 (a caller with stdio closed)
        try:
            fd = os.open(root / "supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o600)
        except OSError:  # a read-only root: the supervisor says why on its pipe
            fd = os.open(os.devnull, os.O_WRONLY)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.dup2(w, READY_FD)
        os.closerange(READY_FD + 1, 1 << 16)
        os.chdir("/")
        env = dict(os.environ, PYCOMPOSE_ROOT=str(root), _PYCOMPOSE_READY_FD=str(READY_FD))
        os.execve(sys.executable, [sys.executable, "-m", "pycompose.engine.supervisor"], env)
    finally:
        os._exit(127)


def _read_ready(fd: int) -> str | None:
    """What the spawned supervisor said on its ready pipe so far: None while it is
    silent and running, "" at EOF without a word."""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return None
    return data.decode(errors="replace").strip()


#: the stamp of the code this process loaded, read from the disk once: a compose
#: command's dozens of requests each scanned six folders for it (~2.5 ms of CPU each)
_loaded_stamp: str | None = None


def code_stamp() -> str:
    """Names and mtimes of the engine's code: a supervisor started from other code (an
    upgrade, a developer's edit) steps down for a new one when it holds nothing. Read
    once per process (the code it runs is the code it loaded; the warm worker's
    commands inherit the worker's, which steps down itself when the code changes)."""
    global _loaded_stamp
    if _loaded_stamp is None:
        _loaded_stamp = _scan_stamp()
    # a test stands for an upgrade by starting processes with another salt
    return _loaded_stamp + os.environ.get("_PYCOMPOSE_STAMP_SALT", "")


def _scan_stamp() -> str:
    base = Path(__file__).resolve().parent
    parts = []
    for d in (base, base / "supervisor", base / "runtime", base / "images", base / "logs",
              base.parent / "netplug"):
        with contextlib.suppress(OSError), os.scandir(d) as it:
            for e in it:
                if e.name.endswith(".py"):
                    parts.append(f"{d.name}/{e.name}:{e.stat().st_mtime_ns}")
    import zlib

    return f"{zlib.crc32('|'.join(sorted(parts)).encode()):08x}"


#: (socket, supervisor pid, our code's stamp) that said hello as current in this
#: process: the next connections to that supervisor skip the round trip
_confirmed: set[tuple[str, int, str]] = set()


def _peer_pid(conn: Conn) -> int:
    creds = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # ucred
    return int.from_bytes(creds[:4], sys.byteorder)


def _current(conn: Conn, path: Path) -> bool:
    """Say hello; False if the supervisor runs outdated code and is leaving. Once per
    supervisor process (its pid, from the socket) and code stamp: a compose command's
    dozens of requests each paid a hello's round trip, behind the others' work."""
    stamp = code_stamp()
    try:
        key = (str(path), _peer_pid(conn), stamp)
    except OSError:
        key = None
    if key is not None and key in _confirmed:
        return True
    try:
        conn.send({"op": "hello", "stamp": stamp})
        data, anc, _flags, _addr = conn.sock.recvmsg(MAX_MSG, socket.CMSG_SPACE(16 * 4))
    except (ConnectionResetError, BrokenPipeError):
        data, anc = b"", []
    if not data:
        # a supervisor stepping down for another client's newer code closes the
        # connections it had not served yet: it is leaving, as "outdated" says
        for fd in fdpass.received(anc):
            os.close(fd)
        return False
    answer, fds = reply(data, anc)
    for fd in fds:
        os.close(fd)
    if answer.get("outdated"):
        return False
    if key is not None and answer.get("stamp") == stamp:
        _confirmed.add(key)
    return True


def connect(root: Path, *, start: bool = True, timeout: float = 15.0) -> Conn:
    """A connection to the supervisor of ``root``, starting it if needed (and again
    if the running one was started from other code and stepped down)."""
    path = socket_path(root)
    conn = _try_connect(path)
    if conn is not None and start and not _current(conn, path):
        conn.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # until the old one stops listening
            conn = _try_connect(path)
            if conn is None:
                break
            conn.close()
            time.sleep(0.01)
        conn = None
    if conn or not start:
        if conn is None:
            raise EngineError("the supervisor is not running")
        return conn
    return _start(root, path, timeout)


#: one thread of a process starts the supervisor; the others wait for it
_starting = _thread.allocate_lock()


def _start(root: Path, path: Path, timeout: float) -> Conn:
    """Start the supervisor and connect to it; one start for all the requests that
    found none. ``up`` of 30 services sends its 30 creates at once: each started a
    supervisor of its own (an interpreter and the engine's imports, 30 on two cores:
    ~5 s of CPU) for one to win the lock. Across processes, ``supervisor.start``'s
    flock elects one starter; the others wait for the socket to answer."""
    import fcntl

    from pycompose.util.paths import private_dir

    deadline = time.monotonic() + timeout
    with _starting:
        conn = _try_connect(path)  # another thread started it meanwhile
        if conn is not None:
            return conn
        private_dir(root)
        try:
            fd: int | None = os.open(root / "supervisor.start",
                                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:  # a read-only or full root: the supervisor's pipe says why
            fd = None
        ready: int | None = None
        said = None
        try:
            started = False
            delay = 0.005
            while True:
                if not started:
                    try:
                        if fd is not None:
                            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        pass  # another process is starting it
                    else:
                        conn = _try_connect(path)  # it started one and let go
                        if conn is not None:
                            return conn
                        ready = _spawn_supervisor(root)
                        os.set_blocking(ready, False)
                        started = True
                conn = _try_connect(path)
                if conn is not None:
                    return conn
                if ready is not None and said is None:
                    said = _read_ready(ready)
                    if said is not None and said.startswith("error: "):
                        raise EngineError(said[len("error: "):])
                    if said == "":  # it left without a word: another one serves soon
                        deadline = min(deadline, time.monotonic() + 2.0)
                if time.monotonic() >= deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        finally:
            if fd is not None:
                os.close(fd)  # lets the flock go
            if ready is not None:
                os.close(ready)
    if said == "":
        raise EngineError(f"the supervisor exited as it started; see "
                          f"{root / 'supervisor.log'}")
    raise EngineError(f"the supervisor did not start within {timeout:.0f} s; see "
                      f"{root / 'supervisor.log'}")


def request(root: Path, msg: dict[str, Any], fds: Sequence[int] = (), *,
            start: bool = True) -> dict[str, Any]:
    """One request, one answer."""
    with connect(root, start=start) as c:
        c.send(msg, fds)
        reply, got = c.recv()
        for fd in got:
            os.close(fd)
        return reply


def running(root: Path) -> bool:
    """Whether a supervisor answers on ``root`` (without starting one)."""
    c = _try_connect(socket_path(root))
    if c:
        c.close()
    return c is not None


def repair_stale(root: Path, records: Sequence[dict[str, Any]]) -> bool:
    """Whether ``records`` claimed a running container while no supervisor held it
    (one died): then a supervisor has been started, which reconciles the records
    before it answers (a container that died meanwhile is exited, never "Up"), and the
    caller reads them again."""
    if not any((r.get("State") or {}).get("Status") in ("running", "restarting")
               for r in records) or running(root):
        return False
    request(root, {"op": "ping"})
    return True


# -- attached runs ---------------------------------------------------------------------
def _winsize(fd: int) -> tuple[int, int] | None:
    import fcntl
    import struct
    import termios

    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, cols


def terminal_size() -> tuple[int, int] | None:
    for fd in (0, 1, 2):
        if os.isatty(fd):
            return _winsize(fd)
    return None


def _set_winsize(fd: int, size: tuple[int, int]) -> None:
    import fcntl
    import struct
    import termios

    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def attach_session(root: Path, conn: Conn, cid: str, *, tty: bool, stdin: bool,
                   sig_proxy: bool = True) -> int:
    """Follow an attached container (or exec) on ``conn`` until it exits; returns the
    exit status. With a terminal, relay the pty master the supervisor sent."""
    old_handlers: dict[int, Any] = {}
    if sig_proxy and not tty:
        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(EngineError, OSError):
                request(root, {"op": "kill", "id": cid, "signal": signum}, start=False)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            old_handlers[s] = signal.signal(s, forward)
    try:
        while True:
            msg, fds = conn.recv()
            if msg.get("event") == "pty" and fds:
                code = _relay_pty(conn, fds[0], stdin, fds[1] if len(fds) > 1 else None)
                if code is not None:
                    return code
                continue  # detached: nothing more to follow
            for fd in fds:
                os.close(fd)
            if msg.get("event") == "exit":
                return int(msg["code"])
            if msg.get("event") == "detached":
                return 0
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)


def _relay_pty(conn: Conn, master: int, with_stdin: bool,
               output: int | None = None) -> int | None:
    """Copy stdin -> pty and the terminal's output (``output``, else the master
    itself) -> stdout until the container exits (its status) or the user types the
    detach keys (None after telling the supervisor)."""
    import select
    import termios
    import tty as ttymod

    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    is_tty = os.isatty(in_fd)
    saved = termios.tcgetattr(in_fd) if is_tty and with_stdin else None
    size = terminal_size()
    if size:
        _set_winsize(master, size)

    def on_winch(_s: int, _f: object) -> None:
        sz = terminal_size()
        if sz:
            _set_winsize(master, sz)

    old_winch = signal.signal(signal.SIGWINCH, on_winch)
    if saved is not None:
        ttymod.setraw(in_fd, termios.TCSANOW)  # TCSAFLUSH would drop typed-ahead input
    prev = b""
    source = master if output is None else output
    master_open, stdin_open = True, with_stdin
    try:
        while True:
            rlist = [conn.sock.fileno()]
            if master_open:
                rlist.append(source)
            if stdin_open:
                rlist.append(in_fd)
            try:
                ready, _, _ = select.select(rlist, [], [])
            except InterruptedError:
                continue
            if source in ready:
                try:
                    data = os.read(source, 65536)
                except BlockingIOError:
                    continue  # the description is shared with the supervisor's copy
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if data:
                    _write_all(out_fd, data)
                else:
                    master_open = False
            if stdin_open and in_fd in ready:
                data = os.read(in_fd, 4096)
                if not data:
                    stdin_open = False
                    with contextlib.suppress(OSError):
                        os.write(master, b"\x04")  # EOF at the line discipline
                else:
                    seq = prev + data
                    if DETACH_KEYS in seq:
                        before = seq.split(DETACH_KEYS, 1)[0]
                        if before:
                            _write_all(master, before)
                        conn.send({"op": "detach"})
                        return None
                    # a trailing ctrl-p waits for the next key to decide
                    prev = DETACH_KEYS[:1] if seq.endswith(DETACH_KEYS[:1]) else b""
                    out = seq[: len(seq) - len(prev)]
                    if out:
                        _write_all(master, out)
            if conn.sock.fileno() in ready:
                msg, fds = conn.recv()
                for fd in fds:
                    os.close(fd)
                if msg.get("event") == "exit":
                    # drain what the container wrote last (the keeper's pipe is complete
                    # and closed by now; a terminal read directly just goes quiet)
                    wait = 0.05 if output is None else 2.0
                    while master_open:
                        r, _, _ = select.select([source], [], [], wait)
                        if not r:
                            break
                        try:
                            data = os.read(source, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            break
                        _write_all(out_fd, data)
                    return int(msg["code"])
    finally:
        if saved is not None:
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)
        if output is not None:
            os.close(output)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
