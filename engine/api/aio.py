"""The face for trio callers: the supervisor's long conversations as async calls.

The blocking face (:class:`pycompose.engine.api.Engine`) suits one-shot front ends; a
server under trio (the Docker Engine API service) holds many conversations at once and
must be able to end each one when its own client goes away. So the calls that last
(an attached start, an exec, a wait, a terminal's keyboard) are here, on trio sockets, a
cancel scope ends them, and closing one tells the supervisor the client left (the
container goes on). Connecting (and starting a supervisor when none answers) is the thin
client's, in a worker thread. Errors are the same kinds as everywhere.

::

    waiter = await aio.open_wait(root, ref, "next-exit")   # registered when it returns
    session = await aio.start_attached(root, ref, tty=False, stdin=True,
                                       stdio=(r_in, w_out, w_err))
    code = await session.wait()                            # None if it detached
    code, error = await waiter.result()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket as pysocket
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import trio

from pycompose.util import fdpass

from .. import client
from ..errors import EngineError
from .requests import Event, ExecRequest

MAX_MSG = 1 << 20


class AsyncConn:
    """One connection to the supervisor (SOCK_SEQPACKET: a JSON message per packet,
    fds with the message they belong to)."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    async def send(self, msg: dict[str, Any], fds: list[int] | tuple[int, ...] = ()
                   ) -> None:
        data = json.dumps(msg).encode()
        if fds:
            await self.sock.sendmsg([data], fdpass.rights(fds))
        else:
            await self.sock.send(data)

    async def recv(self) -> tuple[dict[str, Any], list[int]]:
        """The next message and its fds; an error reply raises its kind, EOF an
        EngineError."""
        data, anc, _f, _a = await self.sock.recvmsg(MAX_MSG, pysocket.CMSG_SPACE(16 * 4))
        return client.reply(data, anc)

    def close(self) -> None:
        self.sock.close()


async def connect(root: Path) -> AsyncConn:
    """A connection to the supervisor of ``root`` (started if none answers)."""
    conn = await trio.to_thread.run_sync(client.connect, root)
    s = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_SEQPACKET, fileno=conn.sock.detach())
    return AsyncConn(trio.socket.from_stdlib_socket(s))


class Session:
    """An attached start, exec or terminal until the process exits.

    ``pty_master`` is the terminal (a ``-t`` session: write the keyboard to it; an
    exec's terminal is also read from it); ``pty_out`` the pipe a container's terminal
    output is relayed on (the log keeper reads the terminal, so that it is logged).
    Both are the caller's to close (:meth:`close` does)."""

    def __init__(self, conn: AsyncConn, cid: str, pid: int | None = None) -> None:
        self.conn = conn
        self.id = cid
        self.pid = pid
        self.pty_master: int | None = None
        self.pty_out: int | None = None
        self.code: int | None = None
        self.over = False

    async def _take_pty(self) -> None:
        msg, fds = await self.conn.recv()
        if msg.get("event") != "pty" or not fds:
            for fd in fds:
                os.close(fd)
            raise EngineError(f"the supervisor sent {msg.get('event')!r} where a "
                              "terminal was expected")
        self.pty_master = fds[0]
        self.pty_out = fds[1] if len(fds) > 1 else None

    async def wait(self) -> int | None:
        """Its exit status; None when it detached (the process goes on)."""
        while not self.over:
            msg, fds = await self.conn.recv()
            for fd in fds:
                os.close(fd)
            ev = msg.get("event")
            if ev == "exit":
                self.code = int(msg["code"])
                self.over = True
            elif ev == "detached":
                self.over = True
        return self.code

    async def detach(self) -> None:
        """Leave the process running (ctrl-p ctrl-q, or the client went away)."""
        if not self.over:
            with contextlib.suppress(OSError, trio.ClosedResourceError):
                await self.conn.send({"op": "detach"})

    def close(self) -> None:
        for fd in (self.pty_master, self.pty_out):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pty_master = self.pty_out = None
        self.conn.close()


async def start_attached(root: Path, ref: str, *, tty: bool, stdin: bool,
                         stdio: tuple[int, int, int] | None = None,
                         console_size: tuple[int, int] | None = None) -> Session:
    """Start ``ref`` with the caller attached: without a terminal its stdin, stdout and
    stderr are ``stdio`` (the caller keeps its own copies); with one, the session
    carries the terminal. Returns once it runs."""
    if not tty and stdio is None:
        raise EngineError("an attached start without a terminal needs stdio")
    conn = await connect(root)
    try:
        await conn.send({"op": "start", "id": ref, "attach": True, "tty": tty,
                         "interactive": stdin, "console_size": console_size},
                        () if tty else stdio or ())
        reply, fds = await conn.recv()
        for fd in fds:
            os.close(fd)
        session = Session(conn, str(reply["id"]))
        if tty:
            await session._take_pty()
        return session
    except BaseException:
        conn.close()
        raise


async def exec_attached(root: Path, ref: str, req: ExecRequest,
                        stdio: tuple[int, int, int] | None = None) -> Session:
    """Run ``req`` in ``ref``; without a terminal on ``stdio``, with one the session
    carries it. Returns once the process runs (``session.pid``)."""
    from pycompose.util.plain import to_plain

    if not req.tty and stdio is None:
        raise EngineError("an exec without a terminal needs stdio")
    conn = await connect(root)
    try:
        await conn.send({"op": "exec", "id": ref, "request": to_plain(req)},
                        () if req.tty else stdio or ())
        reply, fds = await conn.recv()
        for fd in fds:
            os.close(fd)
        session = Session(conn, str(reply["id"]), int(reply.get("pid") or 0) or None)
        if req.tty:
            await session._take_pty()
        return session
    except BaseException:
        conn.close()
        raise


async def attach_terminal(root: Path, ref: str) -> Session:
    """The terminal of a running ``-t`` container, for a keyboard attached after it
    started (its output is read from its log)."""
    conn = await connect(root)
    try:
        await conn.send({"op": "attach", "id": ref})
        reply, fds = await conn.recv()
        for fd in fds:
            os.close(fd)
        session = Session(conn, str(reply["id"]))
        await session._take_pty()
        return session
    except BaseException:
        conn.close()
        raise


class Waiter:
    """A registered wait; :meth:`result` is (exit code, error)."""

    def __init__(self, conn: AsyncConn) -> None:
        self.conn = conn

    async def result(self) -> tuple[int, str]:
        try:
            while True:
                msg, fds = await self.conn.recv()
                for fd in fds:
                    os.close(fd)
                if msg.get("event") == "exit":
                    return int(msg.get("code") or 0), str(msg.get("error") or "")
        finally:
            self.conn.close()

    def close(self) -> None:
        self.conn.close()


async def open_wait(root: Path, ref: str, condition: str = "not-running") -> Waiter:
    """Register a wait on ``ref`` (docker's ``not-running``, ``next-exit``,
    ``removed``); it is in place when this returns. NotFound for no such container."""
    conn = await connect(root)
    try:
        await conn.send({"op": "wait", "id": ref, "condition": condition, "ack": True})
        await conn.recv()
        return Waiter(conn)
    except BaseException:
        conn.close()
        raise


async def events(root: Path, since_ns: int | None = None) -> AsyncGenerator[Event, None]:
    """The engine's events as they happen (the supervisor's stream); with ``since_ns``,
    the recent ones from then on first. Closing the iterator ends the subscription."""
    conn = await connect(root)
    try:
        await conn.send({"op": "events", "since_ns": since_ns})
        await conn.recv()
        while True:
            msg, fds = await conn.recv()
            for fd in fds:
                os.close(fd)
            ev = msg.get("event")
            if isinstance(ev, dict):
                yield Event(type=str(ev.get("type", "container")), action=str(ev["action"]),
                            id=str(ev["id"]),
                            attributes={str(k): str(v) for k, v in
                                        (ev.get("attributes") or {}).items()},
                            time_ns=int(ev["time_ns"]))
    finally:
        conn.close()
