"""The supervisor's long conversations with one client, after the request that opens
them: an attached start or exec (the terminal handed over, then the exit status; a
detach or a vanished client ends the session, never the container), a wait for
docker's conditions, the keyboard of a running container's terminal, and the stream of
events. Each works on the holder and one connection; server.py dispatches to them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from typing import Any

import trio

from pycompose.util.plain import from_plain

from ..api.requests import ExecRequest
from ..errors import Conflict, EngineError, InvalidArgument
from .holder import Holder, Live
from .wire import Conn

#: docker's ``wait`` conditions
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


async def events(holder: Holder, conn: Conn, msg: dict[str, Any]) -> None:
    """A stream of events until the client goes away (``events``): an answer,
    then one message per event, each ``{"event": {...}}``."""
    since = msg.get("since_ns")
    with holder.events.subscribe(int(since) if since is not None else None) as sub:
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


def _stdio(msg: dict[str, Any],
           fds: list[int]) -> tuple[int | None, int | None, int | None] | None:
    """The client's fds for an attached non-terminal session: stdin (or /dev/null
    without -i), stdout, stderr."""
    if not msg.get("attach") or msg.get("tty"):
        return None
    if len(fds) != 3:
        raise EngineError("an attached run needs the client's stdin, stdout and stderr")
    return (fds[0] if msg.get("interactive") else None, fds[1], fds[2])


async def start(holder: Holder, conn: Conn, cid: str, msg: dict[str, Any], fds: list[int]) -> None:
    cs = msg.get("console_size")
    size = (int(cs[0]), int(cs[1])) if cs else None
    stdio = _stdio(msg, fds)
    if msg.get("tty") and msg.get("attach"):
        stdio = None
    live = await holder.start(cid, stdio, size, attached=bool(msg.get("attach")))
    await conn.send({"ok": True, "id": cid})
    if msg.get("attach"):
        await follow(holder, conn, live, msg)


async def follow(holder: Holder, conn: Conn, live: Live, msg: dict[str, Any]) -> None:
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
    await until_left(conn, live.done)
    if live.done.is_set():
        code = live.code if live.code is not None else await holder.wait(live.cid)
        await conn.send({"event": "exit", "code": code})
        return
    holder.logs.unforward(live.log)  # the client left: logging goes on
    if live.pty_master is not None and live.cid in holder.live \
            and holder.live[live.cid] is live:
        await conn.send({"event": "detached"})


async def run_exec(holder: Holder, conn: Conn, cid: str, msg: dict[str, Any],
                   fds: list[int]) -> None:
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
    ex = await holder.exec(cid, req, stdio)
    await conn.send({"ok": True, "id": cid, "pid": ex.pid})
    if not req.detach:
        await follow(holder, conn, ex, {})


async def until_left(conn: Conn, done: trio.Event) -> bool:
    """Until ``done`` is set (True) or the client hangs up (False)."""
    left = trio.Event()

    async def watch() -> None:
        while True:
            m, fds = await conn.recv()
            for fd in fds:
                os.close(fd)
            if m is None or m.get("op") == "detach":
                left.set()
                return
    async with trio.open_nursery() as n:
        n.start_soon(watch)

        async def either(ev: trio.Event) -> None:
            await ev.wait()
            n.cancel_scope.cancel()
        n.start_soon(either, done)
        n.start_soon(either, left)
    return done.is_set()


async def wait(holder: Holder, conn: Conn, cid: str, condition: str) -> None:
    """docker's wait conditions: ``not-running`` (at once if it is not running),
    ``next-exit`` (the end of its next run, even one that has not started yet),
    ``removed`` (once its record is gone, with its last exit code). The waiter
    subscribes to the holder's events, then tells the client ``registered`` (the
    Docker API sends its response head then: a start that follows cannot be
    missed), then ``{"event": "exit", "code", "error"}`` once the condition holds."""
    if condition not in WAIT_CONDITIONS:
        raise InvalidArgument(f'invalid condition: "{condition}"')
    h = holder
    rec = h.store.load(cid)
    code = int(rec["State"].get("ExitCode") or 0)
    if condition == "not-running" and cid not in h.live and \
            rec["State"].get("Status") != "restarting":
        await conn.send({"ok": True, "registered": True})
        await conn.send({"event": "exit", "code": code, "error": ""})
        return
    done = trio.Event()
    error = ""
    with h.events.subscribe() as sub:
        await conn.send({"ok": True, "registered": True})

        async def watch() -> None:
            nonlocal code, error
            while True:
                ev = await sub.next()
                if ev.id != cid:
                    continue
                if ev.action == "die":
                    code = int(ev.attributes.get("exitCode") or 0)
                    if condition != "removed":
                        break
                elif ev.action == "destroy":
                    if condition != "removed":
                        error = "the container was removed before it exited"
                    break
            done.set()
        async with trio.open_nursery() as n:
            n.start_soon(watch)
            if await until_left(conn, done):
                await conn.send({"event": "exit", "code": code, "error": error})
            n.cancel_scope.cancel()


def resize(holder: Holder, cid: str, rows: int, cols: int) -> None:
    """The terminal of a running container takes a new size (a container without
    one has nothing to resize: docker's clients only ask for terminals)."""
    import termios

    live = holder.live.get(cid)
    if live is None:
        raise Conflict(f"Container {cid[:12]} is not running")
    if live.pty_master is None or rows <= 0 or cols <= 0:
        return
    with contextlib.suppress(OSError):
        fcntl.ioctl(live.pty_master, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))


async def attach_input(holder: Holder, conn: Conn, cid: str) -> None:
    """A running container's terminal for a new attached client's keyboard (its
    output is in the log the client follows): ``{"event": "pty"}`` with a duplicate
    of the master, then the exit status."""
    live = holder.live.get(cid)
    if live is None:
        raise Conflict(f"Container {cid[:12]} is not running")
    if live.pty_master is None:
        raise Conflict(f"container {cid[:12]} has no terminal: the stdin of a "
                       "container without one can only be attached before it starts")
    await conn.send({"ok": True, "id": cid})
    dup = os.dup(live.pty_master)
    try:
        await conn.send({"event": "pty"}, [dup])
    finally:
        os.close(dup)
    if await until_left(conn, live.done):
        code = live.code if live.code is not None else await holder.wait(cid)
        await conn.send({"event": "exit", "code": code})
