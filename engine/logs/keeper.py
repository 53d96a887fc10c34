"""The log keeper: ``python -S -s -m pycompose.engine.logs.keeper ROOT``.

One small process per state root (no trio, only built-in modules; ~10 MiB RSS for all
containers) that holds the read end of every container's stdout and stderr pipe (and
the master of a detached terminal), writes what they carry into the container's log
files with rotation, and relays it to an attached client. It lives apart from the
supervisor so that a supervisor killed with -9 breaks nothing: the keeper keeps reading,
so no container ever writes into a pipe without a reader (SIGPIPE/EPIPE) and no line is
lost; the next supervisor connects and takes up where the last one stopped.

The supervisor keeps a duplicate of every read end it hands over (it never reads
them). So each pipe has two holders, and either may die alone: if the keeper dies, the
supervisor starts a new one and hands it the same pipes; what the containers wrote
meanwhile waits in the pipe (64 KiB; past that a writer blocks, it never loses output
or gets EPIPE). Only if both die at once does a container's next write fail.

Protocol on ``$ROOT/logs.sock`` (SOCK_SEQPACKET, 0600, SO_PEERCRED-checked; one JSON
object per packet, fds by SCM_RIGHTS)::

    supervisor                                          keeper
    {"op": "add", "sid", "cid", "path", "log": {...},
     "streams": ["stdout", "stderr"], "forward": [true, true]}
        + fds [read ends..., client fds for the streams forwarded] ->
    {"op": "unforward", "sid"}   (the attached client left)    ->
    {"op": "drop", "sid"}        (give up on it now)           ->
    {"op": "hello"}                                            ->
                         <- {"event": "session", "sid", "cid", "path", "log", "streams"}
                            + dups of its read ends            (one per held session)
                         <- {"event": "hello", "pid", "sessions": N}
                         <- {"event": "eof", "sid"}   (every stream of sid ended, all of
                                                       it written and relayed)

The keeper exits once it holds no stream and no supervisor is connected.
"""

from __future__ import annotations

import _socket
import errno
import fcntl
import json
import os
import select
import stat
import struct
import sys
import time

from pycompose.util import fdpass

from .codec import LineSplitter
from .config import LogSettings
from .files import LogWriter, NullWriter, writer_for

SOCK_NAME = "logs.sock"
LOCK_NAME = "logs.lock"
READ_CHUNK = 65536
MAX_MSG = 1 << 16
MAX_FDS = 16
#: an attached client that lags this much pauses its container's stream
FORWARD_HIGH = 256 * 1024
#: with no supervisor ever connected, give up after this long
START_GRACE = 10.0

IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR


def _say(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} keeper[{os.getpid()}] {msg}",
          file=sys.stderr, flush=True)


def recv_packet(sock: _socket.socket, max_fds: int = MAX_FDS
                ) -> tuple[dict[str, object] | None, list[int]]:
    """One JSON packet and its fds; (None, []) at EOF."""
    data, anc, _flags, _addr = sock.recvmsg(MAX_MSG, fdpass.space(max_fds))
    return fdpass.packet(data, anc)


def send_packet(sock: _socket.socket, msg: dict[str, object], fds: list[int] | None = None,
                flags: int = 0) -> None:
    data = json.dumps(msg).encode()
    sock.sendmsg([data], fdpass.rights(fds or []), flags)


class Forward:
    """An attached client's stdout or stderr. Written without ever blocking the
    keeper: a pipe or terminal is reopened with its own O_NONBLOCK (setting it on the
    client's file description would leak into the user's shell), a socket gets
    MSG_DONTWAIT, a regular file is written as it is (it never blocks for long)."""

    def __init__(self, fd: int) -> None:
        self.pending = bytearray()
        self.dead = False
        self.sock: _socket.socket | None = None
        mode = os.fstat(fd).st_mode
        self.pollable = False
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            try:
                own = os.open(f"/proc/self/fd/{fd}",
                              os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError:
                own = -1  # no reader left (ENXIO), or not reopenable: write as it is
            if own >= 0:
                os.close(fd)
                fd, self.pollable = own, True
        elif stat.S_ISSOCK(mode):
            self.sock = _socket.socket(fileno=fd)
            self.pollable = True
        self.fd = fd

    def flush(self) -> bool:
        """Write what is pending, as far as it goes without blocking; False when the
        client's end is gone (the keeper keeps logging and stops relaying)."""
        while self.pending:
            try:
                if self.sock is not None:
                    n = self.sock.send(self.pending, _socket.MSG_DONTWAIT)
                else:
                    n = os.write(self.fd, self.pending)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            del self.pending[:n]
        return True

    def close(self) -> None:
        if not self.dead:
            self.dead = True
            self.pending.clear()
            if self.sock is not None:
                self.sock.close()
            else:
                os.close(self.fd)


class Source:
    """One stream of one container: the read end of its pipe, or a pty master."""

    def __init__(self, fd: int, stream: str, session: Session) -> None:
        self.fd = fd
        self.stream = stream
        self.session = session
        self.split = LineSplitter()
        self.forward: Forward | None = None
        self.open = True
        self.paused = False
        # our own pipe can be made non-blocking; a terminal's master cannot (its file
        # description is shared with the attached client, who writes the keyboard to
        # it), so it is read only when a poll of its own says it is readable
        self.blocking = not stat.S_ISFIFO(os.fstat(fd).st_mode)
        if not self.blocking:
            os.set_blocking(fd, False)

    def readable(self) -> bool:
        if not self.blocking:
            return True
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return bool(p.poll(0))


class Session:
    """One start of one container: its streams, where they are logged and relayed."""

    def __init__(self, sid: str, cid: str, path: str | None, cfg: LogSettings,
                 writer: LogWriter | NullWriter) -> None:
        self.sid = sid
        self.cid = cid
        self.path = path
        self.cfg = cfg
        self.writer = writer
        self.sources: list[Source] = []


class Keeper:
    def __init__(self, root: str) -> None:
        self.root = root
        self.ep = select.epoll()
        self.listen = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        self.conns: dict[int, _socket.socket] = {}
        self.sessions: dict[str, Session] = {}
        self.sources: dict[int, Source] = {}
        self.forwards: dict[int, tuple[Forward, Source]] = {}  # registered for EPOLLOUT
        self.writers: dict[str, tuple[LogWriter | NullWriter, int]] = {}
        self.seen_conn = False
        self.started = time.monotonic()

    # -- set-up --------------------------------------------------------------------------
    def bind(self) -> None:
        path = os.path.join(self.root, SOCK_NAME)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)
        try:
            self.listen.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.listen.listen(16)
        self.listen.setblocking(False)
        self.ep.register(self.listen.fileno(), select.EPOLLIN)

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            try:
                events = self.ep.poll(1.0)
            except InterruptedError:
                continue
            for fd, _ev in events:
                if fd == self.listen.fileno():
                    self._accept()
                elif fd in self.conns:
                    self._from_conn(fd)
                elif fd in self.sources:
                    self._read(self.sources[fd])
                elif fd in self.forwards:
                    self._writable(fd)
            if not self.sessions and not self.conns and (
                    self.seen_conn or time.monotonic() - self.started > START_GRACE):
                return

    def _accept(self) -> None:
        try:
            fd, _ = self.listen._accept()  # type: ignore[attr-defined]  # a bare fd
        except (BlockingIOError, InterruptedError):
            return
        s = _socket.socket(fileno=fd)
        creds = s.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid not in (0, os.geteuid()):
            _say(f"refused a connection from uid {uid}")
            s.close()
            return
        s.setblocking(True)
        self.conns[s.fileno()] = s
        self.seen_conn = True
        self.ep.register(s.fileno(), select.EPOLLIN)

    def _drop_conn(self, fd: int) -> None:
        s = self.conns.pop(fd)
        self.ep.unregister(fd)
        s.close()

    def _from_conn(self, fd: int) -> None:
        s = self.conns[fd]
        try:
            msg, fds = recv_packet(s)
        except (OSError, ValueError) as e:
            _say(f"bad packet from the supervisor: {e}")
            msg, fds = None, []
        if msg is None:
            self._drop_conn(fd)
            return
        op = msg.get("op")
        try:
            if op == "add":
                self._add(msg, fds)
                fds = []
            elif op == "unforward":
                sess = self.sessions.get(str(msg.get("sid")))
                for src in sess.sources if sess else []:
                    self._unforward(src)
            elif op == "drop":
                sess = self.sessions.get(str(msg.get("sid")))
                if sess is not None:
                    for src in list(sess.sources):
                        self._end(src)
            elif op == "hello":
                self._hello(s)
        except (OSError, ValueError, KeyError, TypeError) as e:
            _say(f"request {op!r} failed: {e}")
        for f in fds:
            os.close(f)

    def _add(self, msg: dict[str, object], fds: list[int]) -> None:
        sid, cid = str(msg["sid"]), str(msg["cid"])
        streams = [str(x) for x in msg["streams"]]  # type: ignore[attr-defined]
        forward = [bool(x) for x in msg.get("forward") or [False] * len(streams)]  # type: ignore[attr-defined]
        cfg = LogSettings.from_wire(msg["log"])  # type: ignore[arg-type]
        path = str(msg["path"]) if msg.get("path") else None
        sources, rest = fds[:len(streams)], fds[len(streams):]
        if sid in self.sessions:  # a resend after we were restarted twice: keep ours
            for f in fds:
                os.close(f)
            return
        try:
            writer = self._writer(path, cfg)
        except OSError as e:
            _say(f"cannot open the log of {cid[:12]} ({path}): {e.strerror}; its output "
                 "is read and dropped")
            writer = NullWriter()
        sess = Session(sid, cid, path, cfg, writer)
        self.sessions[sid] = sess
        for fd, stream, fwd in zip(sources, streams, forward, strict=False):
            src = Source(fd, stream, sess)
            if fwd and rest:
                src.forward = Forward(rest.pop(0))
            sess.sources.append(src)
            self.sources[fd] = src
            self.ep.register(fd, IN)
        for f in rest:
            os.close(f)

    def _writer(self, path: str | None, cfg: LogSettings) -> LogWriter | NullWriter:
        if path is None:
            return writer_for(None, cfg)
        w, n = self.writers.get(path, (None, 0))
        if w is None:
            w = writer_for(path, cfg)
        self.writers[path] = (w, n + 1)
        return w

    def _release(self, sess: Session) -> None:
        if sess.path not in self.writers:  # none, or its log could not be opened
            return
        w, n = self.writers[sess.path]
        if n <= 1:
            del self.writers[sess.path]
            w.close()
        else:
            self.writers[sess.path] = (w, n - 1)

    def _hello(self, s: _socket.socket) -> None:
        for sess in self.sessions.values():
            live = [src for src in sess.sources if src.open]
            dups = [os.dup(src.fd) for src in live]
            try:
                send_packet(s, {"event": "session", "sid": sess.sid, "cid": sess.cid,
                                "path": sess.path, "log": sess.cfg.wire(),
                                "streams": [src.stream for src in live]}, dups)
            finally:
                for d in dups:
                    os.close(d)
        send_packet(s, {"event": "hello", "pid": os.getpid(), "sessions": len(self.sessions)})

    # -- streams -------------------------------------------------------------------------
    def _read(self, src: Source) -> None:
        if not src.readable():  # an event for an fd number since reused
            return
        try:
            data = os.read(src.fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: a pty whose last slave closed
                _say(f"read {src.session.cid[:12]} {src.stream}: {e.strerror}")
            data = b""
        if not data:
            self._end(src)
            return
        now = time.time_ns()
        src.session.writer.write(src.split.feed(data), src.stream, now)
        fwd = src.forward
        if fwd is not None:
            fwd.pending += data
            if not fwd.flush():
                self._unforward(src)
            elif fwd.pending:
                self._wait_writable(fwd, src)

    def _wait_writable(self, fwd: Forward, src: Source) -> None:
        if not fwd.pollable:  # a file: it took what it could; drop the rest
            fwd.pending.clear()
            return
        if fwd.fd not in self.forwards:
            self.forwards[fwd.fd] = (fwd, src)
            self.ep.register(fwd.fd, select.EPOLLOUT)
        if len(fwd.pending) >= FORWARD_HIGH and not src.paused and src.open:
            src.paused = True
            self.ep.unregister(src.fd)

    def _writable(self, fd: int) -> None:
        fwd, src = self.forwards[fd]
        if not fwd.flush():
            self._unforward(src)
        elif not fwd.pending:
            del self.forwards[fd]
            self.ep.unregister(fd)
        if src.paused and len(fwd.pending) < FORWARD_HIGH:
            src.paused = False
            self.ep.register(src.fd, IN)
        self._maybe_done(src.session)

    def _unforward(self, src: Source) -> None:
        fwd, src.forward = src.forward, None
        if fwd is None:
            return
        if fwd.fd in self.forwards:
            del self.forwards[fwd.fd]
            self.ep.unregister(fwd.fd)
        fwd.close()
        if src.paused:
            src.paused = False
            self.ep.register(src.fd, IN)

    def _end(self, src: Source) -> None:
        """The stream reached its end (or is dropped): log its last piece, close it."""
        if not src.open:
            return
        src.open = False
        self.sources.pop(src.fd, None)
        if not src.paused:
            self.ep.unregister(src.fd)
        os.close(src.fd)
        src.session.writer.write(src.split.flush(), src.stream, time.time_ns())
        self._maybe_done(src.session)

    def _maybe_done(self, sess: Session) -> None:
        if any(src.open for src in sess.sources):
            return
        if any(src.forward is not None and src.forward.pending for src in sess.sources):
            return  # still relaying the end to a client
        for src in sess.sources:
            if src.forward is not None:
                self._unforward(src)
        if self.sessions.pop(sess.sid, None) is None:
            return
        self._release(sess)
        for fd, s in list(self.conns.items()):
            try:  # never wait for a supervisor: one that lags is dropped and resyncs
                send_packet(s, {"event": "eof", "sid": sess.sid}, flags=_socket.MSG_DONTWAIT)
            except OSError as e:
                _say(f"dropping a supervisor connection: {e}")
                self._drop_conn(fd)

    def close(self) -> None:
        for w, _ in self.writers.values():
            w.close()


def main(argv: list[str]) -> int:
    root = argv[0] if argv else os.environ.get("PYCOMPOSE_ROOT", "")
    if not os.path.isdir(root):
        _say(f"no state root {root!r}")
        return 2
    lock = os.open(os.path.join(root, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                   0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another keeper holds this root
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    keeper = Keeper(root)
    keeper.bind()
    try:
        keeper.run()
    finally:
        keeper.close()
        try:
            os.unlink(os.path.join(root, SOCK_NAME))
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
