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

Here: the socket, its clients, one request's dispatch and the process's lifetime. The
framing is wire.py's; the conversations that outlive their first answer (attached
start and exec, wait, attach, events) are sessions.py's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
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

from pycompose.util.besteffort import best_effort
from pycompose.util.fs import spread_state, tighten_state
from pycompose.util.paths import PRIVATE_FILE, private_dir, state_root
from pycompose.util.plain import from_plain

from ..api.requests import CreateRequest
from ..client import code_stamp
from ..errors import Busy, EngineError, Internal, InvalidArgument, NotFound
from . import net, rt, sessions
from . import spec as S
from .holder import Holder
from .wire import Conn

log = logging.getLogger("pycompose.supervisor")

def idle_seconds() -> float:
    try:
        return float(os.environ.get("PYCOMPOSE_SUPERVISOR_IDLE", "45"))
    except ValueError:
        return 45.0


class Server:
    def __init__(self, root: Path, ready: Ready | None = None) -> None:
        self.root = root
        self.ready = ready or Ready(None)
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
            sweep_vanished_roots(self.root)
            nursery.start_soon(self.holder.reap_orphans)
            path = self.root / "supervisor.sock"
            sock = await _listen(path)
            self.ready.tell("ok")
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
                # once stepping down, every later client of new code hears so too (one
                # told "ok" now would lose its connection to the shutdown)
                if outdated and (self.shutdown.is_set() or
                                 (not self.holder.busy() and self.clients == 1)):
                    if not self.shutdown.is_set():
                        log.info("the engine's code changed: stepping down for a new "
                                 "supervisor")
                    await conn.send({"ok": True, "outdated": True})
                    self.shutdown.set()
                    return
                if outdated:
                    log.warning("the engine's code changed; still holding containers, "
                                "serving with the code loaded at start")
                # the stamp: a client remembers only a supervisor of its own code as one
                # it may skip the hello with (an outdated one may step down any moment)
                await conn.send({"ok": True, "stamp": self.stamp})
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
            req = _request(msg)
            await h.unpack_image(req)
            rec = await h.create(req)
            await conn.send({"ok": True, "id": rec["Id"]})
        elif op == "run":
            req = _request(msg)
            await h.unpack_image(req)
            rec = await h.create(req)
            try:
                await sessions.start(h, conn, rec["Id"], msg, fds)
            except BaseException:
                if req.auto_remove:
                    h._remove_files(rec["Id"], volumes=True)
                raise
        elif op == "start":
            await sessions.start(h, conn, self._resolve(msg["id"]), msg, fds)
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
            if msg.get("ack") or msg.get("condition"):
                await sessions.wait(h, conn, cid, str(msg.get("condition") or "not-running"))
            else:
                await conn.send({"ok": True, "code": await h.wait(cid)})
        elif op == "resize":
            sessions.resize(h, self._resolve(msg["id"]), int(msg["rows"]), int(msg["cols"]))
            await conn.send({"ok": True})
        elif op == "attach":
            await sessions.attach_input(h, conn, self._resolve(msg["id"]))
        elif op == "shutdown":
            # for tests and ``system`` commands: leave now if nothing is held (once
            # the removals that go on after their exit code was told are done)
            await h.settle()
            if h.busy():
                raise Busy(f"the supervisor still holds {len(h.live)} running "
                           "container(s); stop them first")
            await conn.send({"ok": True})
            self.shutdown.set()
        elif op == "exec":
            await sessions.run_exec(h, conn, self._resolve(msg["id"]), msg, fds)
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
            await sessions.events(h, conn, msg)
        else:
            raise EngineError(f"unknown request {op!r}")


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


class Ready:
    """The pipe the client that started this supervisor waits on (client.py's
    ``_spawn_supervisor``): "ok" once it listens, "error: WHY" when it cannot start.
    A full or read-only state root is told there in a line, not as a wait of the
    client's whole timeout: the log on that disk may not take a word. Closed
    without a word when another supervisor serves the root."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    @classmethod
    def from_env(cls) -> Ready:
        raw = os.environ.pop("_PYCOMPOSE_READY_FD", "")  # not for what this starts
        try:
            fd = int(raw)
            os.set_inheritable(fd, False)
        except (ValueError, OSError):
            return cls(None)
        return cls(fd)

    def tell(self, text: str | None = None) -> None:
        """Say ``text`` (if any) and close; once."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if text:
                os.write(fd, text.encode()[:4000])
        with contextlib.suppress(OSError):
            os.close(fd)


def _start_error(e: BaseException, root: Path) -> str | None:
    """One line for a start that failed: a disk's error names the file; None when
    ``e`` is no OSError (nor a group of them)."""
    if isinstance(e, BaseExceptionGroup):
        for sub in e.exceptions:
            line = _start_error(sub, root)
            if line is not None:
                return line
        return None
    if isinstance(e, OSError):
        err = disk_error(e, root)
        return f"cannot start the supervisor of {root}: {err}"
    if isinstance(e, EngineError):
        return f"cannot start the supervisor of {root}: {e}"
    return None


def main() -> int:
    ready = Ready.from_env()
    try:
        return _main(ready)
    except BaseException as e:
        line = _start_error(e, state_root())
        ready.tell(f"error: {line or f'the supervisor failed as it started: {e!r}'}")
        raise
    finally:
        ready.tell()


def _main(ready: Ready) -> int:
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
    spread_state(root)
    lock_fd = os.open(root / "supervisor.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                      PRIVATE_FILE)
    for _ in range(300):  # a stepping-down predecessor may need a moment to exit
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if (root / "supervisor.sock").exists() and _answers(root):
                log.info("another supervisor serves %s: this one exits", root)
                return 0
            time.sleep(0.01)
    else:
        log.info("another supervisor holds %s: this one exits", root / "supervisor.lock")
        return 0
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())
    log.info("serving %s", root)
    try:
        trio.run(Server(root, ready).main)
    except NotFound as e:
        log.error("%s", e)
        ready.tell(f"error: cannot start the supervisor of {root}: {e}")
        return 1
    return 0


def sweep_vanished_roots(root: Path) -> list[str]:
    """Note ``root``'s id, then remove the kernel objects of noted roots whose folder
    is gone (util/roots.py: their supervisor died, then the folder was deleted, and
    none will come for them again): their container cgroups if none holds a process,
    then their namespaces, links and nft table. Returns the ids swept."""
    from pycompose.util import roots

    swept = []
    with best_effort(log, "note the state root %s", root):
        roots.note(root)
    for rid in roots.vanished():
        with best_effort(log, "remove what the vanished root %s left", rid):
            if not rt.remove_idle_root_cgroups(rid):
                log.warning("root %s is gone but a container of it still runs: kept", rid)
                continue
            net.remove_root_objects(rid)
            roots.forget(rid)
            swept.append(rid)
            log.info("removed the kernel objects of the vanished root %s", rid)
    return swept
