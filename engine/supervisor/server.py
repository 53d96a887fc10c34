"""The supervisor process: one per state root, serving the CLI on a unix socket.

Started on demand by :func:`pycompose.engine.client.connect` (double fork, setsid,
stdio to ``$ROOT/supervisor.log``); an flock on ``$ROOT/supervisor.lock`` makes a second
copy exit at once. It exits after ``$PYCOMPOSE_SUPERVISOR_IDLE`` seconds (default 45)
with no container, no exec and no client.

Protocol (SOCK_SEQPACKET, one JSON object per packet)::

    client                                   supervisor
    {"op": "run", "request": CreateRequest} [+ fds] ->
                                          <- {"ok": true, "id": ...}
                                          <- {"event": "pty"} + master fd   (-t only)
    {"op": "detach"} (ctrl-p ctrl-q)      ->
                                          <- {"event": "exit", "code": N}
    errors at any point                   <- {"ok": false, "error": {"kind", "message", ...}}
                                             (engine/errors.py: the client raises the same kind)
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket as pysocket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import trio

from pycompose.util.fs import tighten_state
from pycompose.util.paths import PRIVATE_FILE, private_dir, state_root
from pycompose.util.plain import from_plain

from ..api.requests import CreateRequest, ExecRequest
from ..client import code_stamp
from ..errors import Busy, EngineError, Internal, InvalidArgument, NotFound
from . import net, rt
from . import spec as S
from .holder import Holder, Live

log = logging.getLogger("pycompose.supervisor")

MAX_MSG = 1 << 20


def idle_seconds() -> float:
    try:
        return float(os.environ.get("PYCOMPOSE_SUPERVISOR_IDLE", "45"))
    except ValueError:
        return 45.0


class Conn:
    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    async def send(self, msg: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(msg).encode()
        with contextlib.suppress(OSError, trio.ClosedResourceError):
            if fds:
                anc = [(pysocket.SOL_SOCKET, pysocket.SCM_RIGHTS,
                        array.array("i", fds).tobytes())]
                await self.sock.sendmsg([data], anc)
            else:
                await self.sock.send(data)

    async def recv(self) -> tuple[dict[str, Any] | None, list[int]]:
        """The next message, or None at EOF."""
        fds = array.array("i")
        try:
            data, anc, _f, _a = await self.sock.recvmsg(MAX_MSG, pysocket.CMSG_SPACE(16 * 4))
        except OSError:
            return None, []
        for level, typ, payload in anc:
            if level == pysocket.SOL_SOCKET and typ == pysocket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:
            for fd in fds:
                os.close(fd)
            return None, []
        return json.loads(data), list(fds)


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.clients = 0
        self.holder: Holder
        self.shutdown = trio.Event()
        self.stamp = code_stamp()

    async def main(self) -> None:
        rt.warm_launcher()
        try:
            await self._main()
        finally:
            rt.stop_warm_launcher()
            try:
                net.drop_prepared(self.root)
            except Exception as e:
                log.warning("removing prepared network namespaces at exit: %s", e)
            # A last sweep before leaving: a destroy that lost a race (an exec's launcher
            # joining the cgroup as the container died) can leave an empty cgroup; no
            # later supervisor may come for this root, so clear it now. Running
            # containers (none, after an idle exit) are kept.
            holder = getattr(self, "holder", None)
            keep = set(holder.live) if holder is not None else set()
            try:
                rt.cleanup_leftovers(self.root, keep)
                if not keep:
                    net.drop_idle_default(self.root)
            except Exception as e:
                log.warning("cleanup of leftovers at exit: %s", e)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self.holder = Holder(self.root, nursery)
            await self.holder.logs.start(nursery)  # first: adopted containers' logs
            self.holder.reconcile()
            try:  # what a killed predecessor prepared (their addresses are reserved)
                net.drop_prepared(self.root)
            except Exception as e:
                log.warning("removing stale prepared network namespaces: %s", e)
            nursery.start_soon(self.holder.reap_orphans)
            path = self.root / "supervisor.sock"
            sock = await _listen(path)
            nursery.start_soon(self._accept, sock, nursery)
            async with trio.open_nursery() as until:
                async def idle() -> None:
                    await self._idle()
                    until.cancel_scope.cancel()

                async def asked() -> None:
                    await self.shutdown.wait()
                    until.cancel_scope.cancel()
                until.start_soon(idle)
                until.start_soon(asked)
            await self.holder.logs.close()
            nursery.cancel_scope.cancel()
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def _idle(self) -> None:
        limit = idle_seconds()
        quiet = 0.0
        step = min(1.0, max(limit / 4, 0.05))
        while True:
            await trio.sleep(step)
            if self.clients or self.holder.busy():
                quiet = 0.0
            else:
                quiet += step
                if quiet >= limit:
                    log.info("idle for %.0f s with nothing to hold: exiting", limit)
                    return

    async def _accept(self, sock: trio.socket.SocketType, nursery: trio.Nursery) -> None:
        owner = os.stat(self.root).st_uid
        while True:
            s, _ = await sock.accept()
            uid = _peer_uid(s)
            if uid in (0, owner, os.geteuid()):
                nursery.start_soon(self._serve, Conn(s))
                continue
            log.warning("refused a client of uid %s: only root and uid %s may use this "
                        "supervisor", uid, owner)
            nursery.start_soon(self._refuse, Conn(s), uid)

    async def _refuse(self, conn: Conn, uid: int | None) -> None:
        """One refusal line, in answer to the client's first message (so that the
        client reads it rather than a broken pipe), then the door closes."""
        try:
            with trio.move_on_after(2):
                _msg, fds = await conn.recv()
                for fd in fds:
                    os.close(fd)
            err = EngineError(f"permission denied: uid {uid} may not use the pycompose "
                              f"supervisor of {self.root} (only root and its owner may)")
            await conn.send({"ok": False, "error": err.to_wire()})
        finally:
            conn.sock.close()

    async def _serve(self, conn: Conn) -> None:
        self.clients += 1
        try:
            msg, fds = await conn.recv()
            if msg is not None and msg.get("op") == "hello":
                outdated = msg.get("stamp") not in (None, self.stamp)
                if outdated and not self.holder.busy() and self.clients == 1:
                    log.info("the engine's code changed: stepping down for a new supervisor")
                    await conn.send({"ok": True, "outdated": True})
                    self.shutdown.set()
                    return
                if outdated:
                    log.warning("the engine's code changed; still holding containers, "
                                "serving with the code loaded at start")
                await conn.send({"ok": True})
                msg, fds = await conn.recv()
            if msg is None:
                return
            try:
                await self._dispatch(conn, msg, fds)
                if msg.get("op") in ("run", "start"):  # answered: now prepare the next
                    net.refill_soon(self.root)
            except EngineError as e:
                await conn.send({"ok": False, "error": e.to_wire()})
            except OSError as e:
                if e.errno not in DISK_ERRORS:
                    log.exception("request %s failed", msg.get("op"))
                await conn.send({"ok": False, "error": disk_error(e, self.root).to_wire()})
            except Exception as e:
                log.exception("request %s failed", msg.get("op"))
                err = Internal(f"internal error in the supervisor: {type(e).__name__}: {e}")
                await conn.send({"ok": False, "error": err.to_wire()})
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        finally:
            self.clients -= 1
            conn.sock.close()

    def _resolve(self, ref: str) -> str:
        return self.holder.store.resolve(ref)

    async def _dispatch(self, conn: Conn, msg: dict[str, Any], fds: list[int]) -> None:
        op = msg.get("op")
        h = self.holder
        if op in ("run", "start", "restart", "exec"):
            rt.expect_create()
        if op == "ping":
            await conn.send({"ok": True, "pid": os.getpid()})
        elif op == "create":
            rec = h.create(_request(msg))
            await conn.send({"ok": True, "id": rec["Id"]})
        elif op == "run":
            req = _request(msg)
            rec = h.create(req)
            try:
                await self._start(conn, rec["Id"], msg, fds)
            except BaseException:
                if req.auto_remove:
                    h._remove_files(rec["Id"], volumes=True)
                raise
        elif op == "start":
            await self._start(conn, self._resolve(msg["id"]), msg, fds)
        elif op == "stop":
            cid = self._resolve(msg["id"])
            await h.stop(cid, msg.get("timeout"), msg.get("signal"))
            await conn.send({"ok": True, "id": cid})
        elif op == "restart":
            cid = self._resolve(msg["id"])
            await h.stop(cid, msg.get("timeout"), msg.get("signal"))
            await h.start(cid, None)
            await conn.send({"ok": True, "id": cid})
        elif op == "kill":
            cid = self._resolve(msg["id"])
            h.kill(cid, S.parse_signal(msg.get("signal"), signal.SIGKILL))
            await conn.send({"ok": True, "id": cid})
        elif op == "rm":
            cid = self._resolve(msg["id"])
            await h.remove(cid, force=bool(msg.get("force")), volumes=bool(msg.get("volumes")))
            await conn.send({"ok": True, "id": cid})
        elif op == "wait":
            cid = self._resolve(msg["id"])
            await conn.send({"ok": True, "code": await h.wait(cid)})
        elif op == "shutdown":
            # for tests and ``system`` commands: leave now if nothing is held
            if h.busy():
                raise Busy(f"the supervisor still holds {len(h.live)} running "
                           "container(s); stop them first")
            await conn.send({"ok": True})
            self.shutdown.set()
        elif op == "exec":
            await self._exec(conn, self._resolve(msg["id"]), msg, fds)
        elif op in ("pause", "unpause"):
            cid = self._resolve(msg["id"])
            await h.pause(cid, op == "pause")
            await conn.send({"ok": True, "id": cid})
        elif op == "stats":
            cid = self._resolve(msg["id"])
            await conn.send({"ok": True, "id": cid, "stats": h.stats(cid),
                             "time_ns": time.time_ns()})
        elif op == "wait_health":
            cid = self._resolve(msg["id"])
            timeout = msg.get("timeout")
            rec = await h.wait_health(cid, None if timeout is None else float(timeout))
            await conn.send({"ok": True, "id": cid, "record": rec})
        elif op == "events":
            await self._events(conn, msg)
        else:
            raise EngineError(f"unknown request {op!r}")

    async def _events(self, conn: Conn, msg: dict[str, Any]) -> None:
        """A stream of events until the client goes away (``events``): an answer,
        then one message per event, each ``{"event": {...}}``."""
        since = msg.get("since_ns")
        with self.holder.events.subscribe(int(since) if since is not None else None) as sub:
            await conn.send({"ok": True})
            async with trio.open_nursery() as n:
                async def until_gone() -> None:
                    while True:
                        m, fds = await conn.recv()
                        for fd in fds:
                            os.close(fd)
                        if m is None:
                            n.cancel_scope.cancel()
                            return

                async def pump() -> None:
                    while True:
                        ev = await sub.next()
                        await conn.send({"event": ev.to_wire(), "lost": sub.lost})
                n.start_soon(until_gone)
                n.start_soon(pump)

    @staticmethod
    def _stdio(msg: dict[str, Any], fds: list[int]) -> tuple[int | None, int | None,
                                                              int | None] | None:
        """The client's fds for an attached non-terminal session: stdin (or /dev/null
        without -i), stdout, stderr."""
        if not msg.get("attach") or msg.get("tty"):
            return None
        if len(fds) != 3:
            raise EngineError("an attached run needs the client's stdin, stdout and stderr")
        return (fds[0] if msg.get("interactive") else None, fds[1], fds[2])

    async def _start(self, conn: Conn, cid: str, msg: dict[str, Any], fds: list[int]) -> None:
        cs = msg.get("console_size")
        size = (int(cs[0]), int(cs[1])) if cs else None
        stdio = self._stdio(msg, fds)
        if msg.get("tty") and msg.get("attach"):
            stdio = None
        live = await self.holder.start(cid, stdio, size, attached=bool(msg.get("attach")))
        await conn.send({"ok": True, "id": cid})
        if msg.get("attach"):
            await self._follow(conn, live, msg)

    async def _follow(self, conn: Conn, live: Live, msg: dict[str, Any]) -> None:
        """Send the pty (if any) and then the exit status; a detach or a vanished client
        ends the session but never the container. A container's terminal comes with the
        pipe its output is relayed on (the log keeper reads the terminal); an exec's
        terminal alone."""
        if live.pty_master is not None:
            fds = [live.pty_master] + ([live.pty_out] if live.pty_out is not None else [])
            await conn.send({"event": "pty"}, fds)
            if live.pty_out is not None:
                os.close(live.pty_out)  # the client has it now
                live.pty_out = None
        left = trio.Event()

        async def watch_client() -> None:
            while True:
                m, fds = await conn.recv()
                for fd in fds:
                    os.close(fd)
                if m is None or m.get("op") == "detach":
                    left.set()
                    return

        async with trio.open_nursery() as n:
            n.start_soon(watch_client)
            async with trio.open_nursery() as inner:
                async def on_done() -> None:
                    await live.done.wait()
                    inner.cancel_scope.cancel()

                async def on_left() -> None:
                    await left.wait()
                    inner.cancel_scope.cancel()
                inner.start_soon(on_done)
                inner.start_soon(on_left)
            n.cancel_scope.cancel()
        if live.done.is_set():
            code = live.code if live.code is not None else await self.holder.wait(live.cid)
            await conn.send({"event": "exit", "code": code})
            return
        self.holder.logs.unforward(live.log)  # the client left: logging goes on
        if live.pty_master is not None and live.cid in self.holder.live \
                and self.holder.live[live.cid] is live:
            await conn.send({"event": "detached"})

    async def _exec(self, conn: Conn, cid: str, msg: dict[str, Any], fds: list[int]) -> None:
        try:
            req = from_plain(ExecRequest, msg["request"])
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgument(f"malformed exec request: {e}")
        if req.tty or req.detach:
            stdio: tuple[int | None, int | None, int | None] = (None, None, None)
        else:
            if len(fds) != 3:
                raise InvalidArgument("exec needs the client's stdin, stdout and stderr")
            stdio = (fds[0] if req.interactive else None, fds[1], fds[2])
        ex = await self.holder.exec(cid, req, stdio)
        await conn.send({"ok": True, "id": cid, "pid": ex.pid})
        if not req.detach:
            await self._follow(conn, ex, {})


def _request(msg: dict[str, Any]) -> CreateRequest:
    """The typed request a create or run carries (a malformed one is refused)."""
    try:
        return from_plain(CreateRequest, msg["request"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidArgument(f"malformed create request: {e}")


def _peer_uid(s: trio.socket.SocketType) -> int | None:
    """The uid of the process at the other end (SO_PEERCRED: the kernel's word, taken
    when it connected), None if the kernel will not say."""
    try:
        raw = s.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


async def _listen(path: Path) -> trio.socket.SocketType:
    """The supervisor's socket at ``path``, 0600 from the moment it can be connected
    to, whatever the umask: bound under a temporary name, chmod-ed, then renamed into
    place (the state root above it is 0700 as well)."""
    sock = trio.socket.socket(pysocket.AF_UNIX, pysocket.SOCK_SEQPACKET)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    await sock.bind(str(tmp))
    os.chmod(tmp, PRIVATE_FILE)
    sock.listen(64)
    os.replace(tmp, path)  # a stale socket goes: we hold the lock, nobody else serves it
    return sock


def _answers(root: Path) -> bool:
    s = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_SEQPACKET)
    try:
        s.connect(str(root / "supervisor.sock"))
        return True
    except OSError:
        return False
    finally:
        s.close()


#: what a full, read-only or failing disk gives: the user's to fix, not a bug of ours
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def disk_error(e: OSError, root: Path) -> EngineError:
    """An OSError of a request as one line naming what was being written; a full disk
    says where to make room. Any other OSError stays an internal error."""
    what = f" writing {e.filename}" if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return EngineError(f"{os.strerror(e.errno).lower()}{what}: free some space on the "
                           f"file system of {root}")
    if e.errno in DISK_ERRORS:
        return EngineError(f"{os.strerror(e.errno or 0).lower()}{what}")
    return Internal(f"internal error in the supervisor: OSError: {e}")


def default_signals() -> None:
    """Start from default dispositions and an empty mask whatever the CLI that
    started us had (``nohup``, a blocked SIGCHLD): the supervisor lives on after its
    caller, and what it starts (nft, ip, the launchers) inherits what it has. Python's
    own SIGPIPE and SIGXFSZ ignores stay: its file calls expect EPIPE, not death."""
    keep = {signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ}
    for sig in signal.valid_signals():
        if sig in keep:
            continue
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def main() -> int:
    default_signals()
    # A daemon's umask, as dockerd sets it: what the supervisor makes for containers
    # (upper dirs, /etc files, volumes) and the containers' own processes never take
    # the mode of whoever happened to start it; state is made private explicitly.
    os.umask(0o022)
    root = private_dir(state_root())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s supervisor[%(process)d] %(levelname)s %(message)s")
    for path in tighten_state(root):
        log.info("tightened the mode of %s (state is root-only)", path)
    lock_fd = os.open(root / "supervisor.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                      PRIVATE_FILE)
    for _ in range(300):  # a stepping-down predecessor may need a moment to exit
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if (root / "supervisor.sock").exists() and _answers(root):
                return 0  # another supervisor serves this root
            time.sleep(0.01)
    else:
        return 0
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())
    log.info("serving %s", root)
    try:
        trio.run(Server(root).main)
    except NotFound as e:
        log.error("%s", e)
        return 1
    return 0
