"""The supervisor's side of the log keeper (``engine/logs/keeper.py``).

The supervisor never reads a container's output: it hands each start's read ends (and
an attached client's stdout/stderr) to the keeper, keeps its own copy of every read end
so that the pipes outlive a keeper that dies, and waits for the keeper's ``eof`` before
it records an exit (so that ``logs`` after ``wait`` has every line, and an attached
client has printed everything before it exits).

One task owns the connection: it connects (starting a keeper when none answers),
says hello, takes up the sessions a keeper already holds (after a supervisor crash:
the containers it held are adopted with their logging intact), hands over again the
ones a new keeper lacks (after a keeper crash), then sends what is queued and reads
events until the connection ends, and starts over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket as pysocket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from pycompose.util import fdpass

from ..logs import keeper as K
from ..logs.config import LogSettings

log = logging.getLogger("pycompose.supervisor")


@dataclass
class Held:
    """One start of one container whose output the keeper logs."""

    sid: str
    cid: str
    path: str | None
    cfg: LogSettings
    streams: list[str]
    sources: list[int]  # our copies of the read ends (never read here)
    forwards: list[int | None] = field(default_factory=list)  # the client's, per stream
    done: trio.Event = field(default_factory=trio.Event)

    def message(self) -> tuple[dict[str, Any], list[int]]:
        fwd = [f for f in self.forwards if f is not None]
        return ({"op": "add", "sid": self.sid, "cid": self.cid, "path": self.path,
                 "log": self.cfg.wire(), "streams": self.streams,
                 "forward": [f is not None for f in self.forwards]},
                [*self.sources, *fwd])

    def close_forwards(self) -> None:
        for f in self.forwards:
            if f is not None:
                with contextlib.suppress(OSError):
                    os.close(f)
        self.forwards = [None] * len(self.forwards)

    def close(self) -> None:
        self.close_forwards()
        for f in self.sources:
            with contextlib.suppress(OSError):
                os.close(f)
        self.sources = []


def _spawn_env() -> dict[str, str]:
    import pycompose

    env = {"PYTHONPATH": str(Path(pycompose.__file__).resolve().parent.parent),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if "PYCOMPOSE_ROOT" in os.environ:  # marks the keeper as ours in leak checks
        env["PYCOMPOSE_ROOT"] = os.environ["PYCOMPOSE_ROOT"]
    return env


class LogService:
    """The supervisor's link to its root's keeper."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.held: dict[str, Held] = {}
        self._seq = 0
        self._sock: trio.socket.SocketType | None = None
        self._queue: list[tuple[dict[str, Any], list[int]]] = []
        self._wake = trio.Event()
        self._closing = False
        self.keeper_pid: int | None = None
        self._spawned: subprocess.Popen[bytes] | None = None
        self._scope = trio.CancelScope()

    # -- what the holder asks ------------------------------------------------------------
    def add(self, cid: str, path: Path | None, cfg: LogSettings,
            sources: list[tuple[int, str]], forwards: list[int | None] | None = None) -> Held:
        """Hand a start's streams to the keeper. Takes ownership of the read ends;
        ``forwards`` (the client's fds, one per stream or None) are duplicated."""
        self._seq += 1
        fwd = [os.dup(f) if f is not None else None for f in (forwards or [])]
        fwd += [None] * (len(sources) - len(fwd))
        h = Held(f"{cid}.{os.getpid()}.{self._seq}", cid, str(path) if path else None, cfg,
                 [s for _, s in sources], [fd for fd, _ in sources], fwd)
        self.held[h.sid] = h
        self._send(*h.message())
        return h

    def unforward(self, h: Held | None) -> None:
        """The attached client left: stop relaying to it (logging goes on)."""
        if h is None or h.sid not in self.held or not any(f is not None for f in h.forwards):
            return
        h.close_forwards()
        self._send({"op": "unforward", "sid": h.sid}, [])

    async def drained(self, h: Held | None, timeout: float) -> None:
        """Until the keeper has written (and relayed) all of ``h``; after
        ``timeout`` it is told to let go of what is left."""
        if h is None:
            return
        with trio.move_on_after(timeout):
            await h.done.wait()
        if not h.done.is_set():
            log.warning("log of %s not drained after %.0f s: dropped", h.cid[:12], timeout)
            self._send({"op": "drop", "sid": h.sid}, [])
            self._finish(h.sid)

    def adopted(self, cid: str) -> Held | None:
        """The session a keeper already held for ``cid`` (a supervisor crashed)."""
        return next((h for h in self.held.values() if h.cid == cid), None)

    def _send(self, msg: dict[str, Any], fds: list[int]) -> None:
        """Queue a message; its fds are duplicated now, so that closing ours before
        it is sent (a client that left at once) never sends a stale fd number."""
        self._queue.append((msg, [os.dup(f) for f in fds]))
        self._wake.set()

    def _unqueue(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        out = []
        for msg, fds in self._queue:
            if keep(msg):
                out.append((msg, fds))
            else:
                _close_all(fds)
        self._queue = out

    def _finish(self, sid: str) -> None:
        h = self.held.pop(sid, None)
        if h is not None:
            h.close()
            h.done.set()

    # -- the connection ------------------------------------------------------------------
    async def start(self, nursery: trio.Nursery) -> None:
        """Connect to a running keeper and take up its sessions (before the holder
        reconciles), then keep the connection in a task of ``nursery``."""
        if await self._connect(spawn=False):
            try:
                with trio.fail_after(5):
                    await self._hello()
            except Exception as e:  # a keeper that answers badly: the link task retries
                log.warning("log keeper hello failed: %s", e)
                self._disconnect()
        nursery.start_soon(self._run)

    async def _run(self) -> None:
        """Keep a connection, starting a keeper at once: by the time the first
        container starts it is there, and no start waits for it."""
        with self._scope:
            await self._keep_connected()

    async def _keep_connected(self) -> None:
        """Connect, hello, serve the connection until it ends; again. A failure of
        this link is logged and retried with a back-off, never raised: the
        containers' output stays safe in the keeper and in our copies meanwhile."""
        delay = 0.05
        while not self._closing:
            served = False
            try:
                if self._sock is None:
                    if not await self._connect(spawn=True):
                        raise OSError("no log keeper answers")
                    with trio.fail_after(10):
                        await self._hello()
                served = True
                async with trio.open_nursery() as n:
                    n.start_soon(self._reader, n.cancel_scope)
                    n.start_soon(self._writer)
            except* Exception as eg:  # (not Cancelled: closing goes through)
                log.warning("log keeper link: %s", eg.exceptions[0])
            self._disconnect()
            if self._closing:
                return
            if served:
                log.warning("log keeper connection lost: starting another")
                delay = 0.05
            else:
                await trio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _connect(self, *, spawn: bool) -> bool:
        path = str(self.root / K.SOCK_NAME)
        for attempt in range(100 if spawn else 1):
            s = trio.socket.socket(pysocket.AF_UNIX, pysocket.SOCK_SEQPACKET)
            try:
                await s.connect(path)
                self._sock = s
                return True
            except OSError:
                s.close()
            if not spawn:
                return False
            if attempt % 20 == 0:
                self._spawn()
            await trio.sleep(0.01)
        return False

    def _spawn(self) -> None:
        """Start a keeper in its own session (a signal to our process group must not
        reach it); a second one exits at once on the keeper's lock."""
        if self._spawned is not None and self._spawned.poll() is None:
            return
        self._spawned = subprocess.Popen(
            [sys.executable, "-S", "-s", "-m", "pycompose.engine.logs.keeper",
             str(self.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd="/",
            env=_spawn_env(), close_fds=True, start_new_session=True)

    async def _hello(self) -> None:
        """Learn what the keeper holds; hand it what it lacks."""
        assert self._sock is not None
        await self._sock.send(json.dumps({"op": "hello"}).encode())
        has: set[str] = set()
        while True:
            msg, fds = await self._recv()
            if msg is None:
                raise OSError("the log keeper closed the connection")
            ev = msg.get("event")
            if ev == "session":
                sid = str(msg["sid"])
                has.add(sid)
                if sid in self.held:  # ours already: keep our copies
                    for f in fds:
                        os.close(f)
                    continue
                self.held[sid] = Held(sid, str(msg["cid"]), msg.get("path"),
                                      LogSettings.from_wire(msg["log"]),
                                      [str(x) for x in msg["streams"]], fds,
                                      [None] * len(fds))
                log.info("took up the log of %s from the keeper", str(msg["cid"])[:12])
            elif ev == "hello":
                self.keeper_pid = int(msg["pid"])
                break
            elif ev == "eof":
                self._finish(str(msg["sid"]))
            else:
                for f in fds:
                    os.close(f)
        # a new keeper: what we handed the old one (queued adds are obsolete)
        self._unqueue(lambda m: m.get("op") != "add")
        for sid, h in list(self.held.items()):
            if sid not in has:
                if not h.sources:
                    self._finish(sid)
                    continue
                self._send(*h.message())
        self._wake.set()

    async def _recv(self) -> tuple[dict[str, Any] | None, list[int]]:
        assert self._sock is not None
        data, anc, _f, _a = await self._sock.recvmsg(K.MAX_MSG,
                                                     pysocket.CMSG_SPACE(4 * K.MAX_FDS))
        return fdpass.packet(data, anc)

    async def _reader(self, scope: trio.CancelScope) -> None:
        while True:
            msg, fds = await self._recv()
            for f in fds:
                os.close(f)
            if msg is None:
                scope.cancel()
                return
            if msg.get("event") == "eof":
                self._finish(str(msg["sid"]))

    async def _writer(self) -> None:
        assert self._sock is not None
        while True:
            while self._queue:
                msg, fds = self._queue[0]
                data = json.dumps(msg).encode()
                await self._sock.sendmsg([data], fdpass.rights(fds))
                _close_all(self._queue.pop(0)[1])
            self._wake = trio.Event()
            await self._wake.wait()

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def close(self) -> None:
        """At the supervisor's exit: let go of the keeper; when it holds nothing it
        exits, and we wait for that (nothing of ours outlives an idle supervisor)."""
        self._closing = True
        with trio.move_on_after(2):
            while self._queue and self._sock is not None:
                await trio.sleep(0.01)
        self._scope.cancel()
        await trio.sleep(0)  # let the connection's tasks unwind before the socket goes
        self._disconnect()
        pid = self.keeper_pid or (self._spawned.pid if self._spawned else None)
        if self.held or pid is None:
            return
        with trio.move_on_after(3):
            while _alive(pid):
                await trio.sleep(0.01)
        if self._spawned is not None:
            with contextlib.suppress(ChildProcessError, OSError):
                self._spawned.poll()


def _close_all(fds: list[int]) -> None:
    for f in fds:
        with contextlib.suppress(OSError):
            os.close(f)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours has exited: reap it
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    return True
