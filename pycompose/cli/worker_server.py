"""The compose worker's own loop (see ``worker.py`` for why it exists and its protocol),
run as ``python -m pycompose.cli.worker_server`` (worker.spawn starts it).

A plain blocking loop over ``selectors``, not trio: the worker forks for every command,
and a process that forks must hold no threads and no running event loop. It imports
what compose commands need once, at start, so that each forked child finds them loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pycompose.util.paths import PRIVATE_FILE, private_dir, state_root

from .worker import IN_WORKER, _recv, _send, code_stamp, socket_path

log = logging.getLogger("pycompose.worker")


def idle_seconds() -> float:
    try:
        return float(os.environ.get("PYCOMPOSE_WORKER_IDLE", "60"))
    except ValueError:
        return 60.0


def preload() -> None:
    """Import what the compose verbs use, so that a forked child starts warm."""
    import trio

    import pycompose.cli.compose_common
    import pycompose.cli.compose_info
    import pycompose.cli.compose_ops
    import pycompose.cli.compose_progress
    import pycompose.cli.compose_run
    import pycompose.cli.gotemplate
    import pycompose.cli.project
    import pycompose.cli.stack
    import pycompose.compose.attach
    import pycompose.compose.loader
    import pycompose.compose.model
    import pycompose.compose.orchestrate
    import pycompose.compose.render
    import pycompose.engine.api
    import pycompose.engine.api.images
    import pycompose.engine.api.logs
    import pycompose.engine.api.networks
    import pycompose.engine.api.session
    import pycompose.engine.api.volumes

    _ = pycompose.engine.api.networks.Networks  # netplug: networks are made in the caller
    # image pull/push/build (cli.WORKER_VERBS): the engine's lazily loaded verbs, and
    # the parsers of every command sent here, built once before any fork
    import pycompose.cli.apiservice
    import pycompose.cli.build
    import pycompose.cli.errors
    import pycompose.cli.image
    import pycompose.cli.progress
    import pycompose.cli.registry
    import pycompose.cli.versions
    import pycompose.engine.api.warm
    import pycompose.util.units
    from pycompose.cli import WORKER_COMMANDS, WORKER_VERBS
    from pycompose.cli.parsing import prebuild

    pycompose.engine.api.warm.preload()
    prebuild(sorted(WORKER_COMMANDS | {g for g, _ in WORKER_VERBS}), sorted(WORKER_VERBS))
    try:  # the live display (only a terminal's commands use it)
        import rich.console
        import rich.live
        import rich.spinner
        import rich.table  # noqa: F401
    except ImportError:
        log.info("rich is not installed: the tty display will be slower to start")

    async def nothing() -> None:  # trio's first run loads more of itself
        await trio.lowlevel.checkpoint()
    trio.run(nothing)
    # A first project through loading, validation (pydantic builds some validators
    # at first use), the graph (networkx is imported then) and translation.
    import tempfile

    from pycompose.compose import plan as P
    from pycompose.compose import translate as T
    from pycompose.compose.loader import LoadOptions, load
    from pycompose.compose.model import validate

    with tempfile.TemporaryDirectory(prefix="pycompose-worker-") as tmp:
        path = os.path.join(tmp, "compose.yaml")
        with open(path, "w") as f:
            f.write("services:\n  a: {image: busybox, ports: ['80'], volumes: [v:/v],\n"
                    "      depends_on: {b: {condition: service_healthy}},\n"
                    "      healthcheck: {test: [CMD, 'true'], interval: 1s}}\n"
                    "  b: {image: busybox, environment: {X: '1'}, command: [true]}\n"
                    "volumes: {v: {}}\n")
        project = validate(load(LoadOptions(files=(path,), project_name="warm",
                                            environ={}, cwd=tmp)))
        P.selected_services(project, ["a"], True)
        for name, svc in project.services.items():
            T.create_request(project, name, svc, 1)


@dataclass
class Job:
    conn: socket.socket
    pid: int
    pidfd: int
    done: int = -1          # the read end of the child's exit report (see _child)
    reported: bool = False  # the client has its exit status


def _peer_uid(s: socket.socket) -> int | None:
    try:
        raw = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return int(struct.unpack("3i", raw)[1])


def _listen(path: Path) -> socket.socket:
    """Bound under a temporary name, made 0600, then renamed into place."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    sock.bind(str(tmp))
    os.chmod(tmp, PRIVATE_FILE)
    sock.listen(64)
    os.replace(tmp, path)
    return sock


def _child(msg: dict[str, object], fds: list[int], socks: list[socket.socket],
           done: int = -1) -> None:
    """In the forked child: become the client's command, then exit with its status.

    The status is written to ``done`` once stdout and stderr are flushed and closed,
    before the exit: the worker answers the client then, not when the kernel has torn
    the process down, which can take 10-30 ms (a netlink socket of libnftables, closed
    at exit, waits for the kernel to finish the transactions it committed)."""
    code = 70
    try:
        for s in socks:
            s.close()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH,
                    signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python's start-up does
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for n, fd in enumerate(fds[:3]):
            os.dup2(fd, n)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        env = msg.get("env")
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        os.environ[IN_WORKER] = "1"
        os.umask(int(msg.get("umask") or 0o022))  # type: ignore[call-overload]
        os.chdir(str(msg.get("cwd") or "/"))
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8",
                                     errors="surrogateescape")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="surrogateescape", line_buffering=os.isatty(1))
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        argv = [str(a) for a in msg.get("argv") or []]  # type: ignore[attr-defined]
        sys.argv = ["pycompose", *argv]
        from pycompose.cli import main

        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except BaseException as e:
        with contextlib.suppress(Exception):
            print(f"internal error (a bug in pycompose): {type(e).__name__}: {e}",
                  file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if done >= 0:
            for n in (0, 1, 2):  # the client's streams end with the command
                with contextlib.suppress(OSError):
                    os.close(n)
            with contextlib.suppress(OSError):
                os.write(done, bytes([code & 0xFF]))
        os._exit(code & 0xFF)


class Worker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stamp = code_stamp()
        self.sel = selectors.DefaultSelector()
        self.jobs: dict[int, Job] = {}  # pidfd -> job
        self.by_conn: dict[int, Job] = {}
        self.pending: dict[int, socket.socket] = {}  # connected, not yet asked
        self.listener: socket.socket | None = None
        self.leaving = False

    def run(self) -> None:
        path = Path(socket_path(self.root))
        self.listener = _listen(path)
        ours = os.stat(path).st_ino
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        limit = idle_seconds()
        quiet_since = time.monotonic()
        try:
            while True:
                timeout = max(0.05, limit - (time.monotonic() - quiet_since))
                for key, _ in self.sel.select(timeout):
                    self._ready(key)
                if self.jobs or self.pending:
                    quiet_since = time.monotonic()
                elif self.leaving or time.monotonic() - quiet_since >= limit:
                    break
        finally:
            with contextlib.suppress(FileNotFoundError):
                # only our own socket: a successor may have bound a new one already
                if os.stat(path).st_ino == ours:
                    path.unlink()
            if self.listener is not None:
                self.listener.close()

    def _ready(self, key: selectors.SelectorKey) -> None:
        if key.data == "accept":
            assert self.listener is not None
            conn, _ = self.listener.accept()
            uid = _peer_uid(conn)
            if uid not in (0, os.geteuid()):
                log.warning("refused a client of uid %s", uid)
                conn.close()
                return
            self.pending[conn.fileno()] = conn
            self.sel.register(conn, selectors.EVENT_READ, "ask")
        elif key.data == "ask":
            conn = self.pending.pop(key.fd)
            self.sel.unregister(conn)
            self._ask(conn)
        elif key.data == "job":
            job = self.jobs.pop(key.fd)
            self.sel.unregister(key.fd)
            self._finished(job)
        elif key.data == "done":
            self._done(key.fd)
        elif key.data == "client":
            self._from_client(self.by_conn[key.fd])

    def _ask(self, conn: socket.socket) -> None:
        msg, fds = _recv(conn)
        if msg is None or msg.get("stamp") != self.stamp:
            for fd in fds:
                os.close(fd)
            if msg is not None:
                with contextlib.suppress(OSError):
                    _send(conn, {"outdated": True})
                log.info("the code changed: leaving for a new worker")
                self.leaving = True
                self._stop_listening()
            conn.close()
            return
        assert self.listener is not None
        socks = [self.listener, conn, *self.pending.values(),
                 *(j.conn for j in self.jobs.values())]
        done_r, done_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        pid = os.fork()
        if pid == 0:
            self.sel.close()
            os.close(done_r)
            for j in self.jobs.values():
                os.close(j.pidfd)
                if j.done >= 0:
                    os.close(j.done)
            _child(msg, fds, socks, done_w)
        os.close(done_w)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        job = Job(conn, pid, pidfd, done_r)
        self.jobs[pidfd] = job
        self.by_conn[conn.fileno()] = job
        self.sel.register(pidfd, selectors.EVENT_READ, "job")
        self.sel.register(done_r, selectors.EVENT_READ, "done")
        self.sel.register(conn, selectors.EVENT_READ, "client")
        with contextlib.suppress(OSError):
            _send(conn, {"pid": pid})

    def _stop_listening(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.listener)

    def _from_client(self, job: Job) -> None:
        msg, fds = _recv(job.conn)
        for fd in fds:
            os.close(fd)
        if msg is None:  # the client went away: hang its command up
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(job.conn)
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, signal.SIGHUP)
            return
        sig = msg.get("signal")
        if isinstance(sig, int):
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, sig)

    def _done(self, fd: int) -> None:
        """The child reported its status (or died without: EOF, then the pidfd says)."""
        job = next((j for j in self.jobs.values() if j.done == fd), None)
        if job is None:  # an event of a pipe _finished closed in this same round
            return
        try:
            data = os.read(fd, 1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.sel.unregister(fd)
        os.close(fd)
        job.done = -1
        if data:
            self._report(job, data[0])

    def _report(self, job: Job, code: int) -> None:
        job.reported = True
        self.by_conn.pop(job.conn.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(job.conn)
        with contextlib.suppress(OSError):
            _send(job.conn, {"exit": code})
        job.conn.close()

    def _finished(self, job: Job) -> None:
        status = 0
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(job.pid, 0)
        code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
            os.WEXITSTATUS(status)
        os.close(job.pidfd)
        if job.done >= 0:  # exited before its report was read
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(job.done)
            os.close(job.done)
            job.done = -1
        if not job.reported:
            self._report(job, code)


def serve() -> int:
    os.umask(0o077)
    root = private_dir(state_root())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s compose-worker[%(process)d] %(levelname)s "
                               "%(message)s")
    lock = os.open(root / "compose-worker.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                   PRIVATE_FILE)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another worker serves this root
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    try:
        preload()
    except Exception as e:
        log.error("preloading failed: %s: %s", type(e).__name__, e)
        return 1
    # what is loaded now is shared with every fork: the collector never walks it again,
    # so a child does not copy the pages it would touch
    gc.collect()
    gc.freeze()
    log.info("serving %s", root)

    def leave(_signum: int, _frame: object) -> None:
        raise SystemExit(0)  # out through run()'s finally: the socket goes
    signal.signal(signal.SIGTERM, leave)
    Worker(root).run()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
