"""``attach``, ``logs`` and ``wait``: a container's streams and its end.

``docker run`` (without ``-d``) asks in this order: attach (the connection is
hijacked), wait ``next-exit`` (or ``removed`` with ``--rm``), start, resize. So an attach
to a container that is not running waits here (:class:`Attacher`) for its start; the
start handler (:func:`start_with_attachers`) then starts it attached, with pipes of ours
as its stdin/stdout/stderr (without a terminal: the supervisor gives them to the
container, the log keeper relays its output to them and logs it) or with its terminal.
An attach to a running container follows its log from now on (and, with a terminal,
gets the terminal for its keyboard). ``wait`` is registered with the supervisor before
its response head goes out, so the start that follows cannot be missed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import termios
from collections.abc import AsyncIterator

import trio

from ..engine.api import Conflict, ContainerRecord, EngineError, Status, aio
from .context import Context
from .http import Hijack, Hijacked, Reply, Request, Stream, bad_request, json_reply
from .relay import detach_keys, relay, terminal_ends
from .routes import route
from .sessions import Attacher, Ends
from .streams import (
    MUX,
    RAW,
    STDERR,
    STDOUT,
    log_entries,
    open_log,
    read_history,
    render,
    window,
)

log = logging.getLogger("pycompose.dockerapi")


def _open_null(flags: int) -> int:
    return os.open(os.devnull, flags | os.O_CLOEXEC)


async def start_with_attachers(ctx: Context, rec: ContainerRecord) -> bool:
    """Start ``rec`` attached to the streams waiting for it; False when none waits."""
    waiting = [a for a in ctx.attachers.pop(rec.id, []) if not a.gone]
    if not waiting:
        return False
    first, others = waiting[0], waiting[1:]
    size = ctx.console_sizes.get(rec.id)
    stdin = first.stdin and bool((rec.raw.get("Config") or {}).get("OpenStdin"))
    try:
        if rec.tty:
            session = await aio.start_attached(ctx.root, rec.id, tty=True, stdin=stdin,
                                               console_size=size)
            ends = terminal_ends(session)
            if not stdin:
                with contextlib.suppress(OSError):
                    os.close(ends.terminal or -1)
                ends.terminal = None
        else:
            session, ends = await _start_piped(ctx, rec, first, stdin)
    except BaseException:
        for a in waiting:
            a.started.set()  # their streams end: the start failed
        raise
    first.session, first.ends = session, ends
    first.started.set()
    for a in others:
        a.follow = True
        a.started.set()
    return True


async def _start_piped(ctx: Context, rec: ContainerRecord, a: Attacher, stdin: bool
                       ) -> tuple[aio.Session, Ends]:
    theirs: list[int] = []
    ours = Ends()
    try:
        if stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            theirs.append(r)
            ours.stdin = w
        else:
            theirs.append(_open_null(os.O_RDONLY))
        for want, number in ((a.stdout, STDOUT), (a.stderr, STDERR)):
            if want:
                r, w = os.pipe2(os.O_CLOEXEC)
                ours.outputs.append((r, number))
                theirs.append(w)
            else:
                theirs.append(_open_null(os.O_WRONLY))
        session = await aio.start_attached(ctx.root, rec.id, tty=False, stdin=stdin,
                                           stdio=(theirs[0], theirs[1], theirs[2]))
    except BaseException:
        ours.close()
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return session, ours


def resize_local(ctx: Context, cid: str, rows: int, cols: int) -> bool:
    """Resize a terminal this service holds for ``cid``; False when it holds none."""
    fd = ctx.terminals.get(cid)
    if fd is None:
        return False
    if rows > 0 and cols > 0:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return True


# -- attach ------------------------------------------------------------------------------
async def attach_container(ctx: Context, req: Request, id: str) -> Hijack:
    rec = await ctx.call(ctx.engine.container, id)
    if rec.status is Status.PAUSED:
        raise Conflict(f"container {id} is paused, unpause the container before attach")
    if rec.status is Status.RESTARTING:
        raise Conflict(f"container {id} is restarting, wait until the container is "
                       "running")
    keys = detach_keys(req.arg("detachKeys"))
    a = Attacher(rec.id, req.flag("stdin"), req.flag("stdout"), req.flag("stderr"), keys)
    stream, logs = req.flag("stream"), req.flag("logs")
    tty = rec.tty
    ctype = RAW if tty else MUX
    if stream and not rec.status.is_active:
        ctx.attachers.setdefault(rec.id, []).append(a)

    async def run(raw: Hijacked) -> None:
        try:
            if logs:
                await _send_history(ctx, raw, rec, a, tty)
            if not stream:
                return
            if rec.status.is_active:
                await _follow_running(ctx, raw, rec, a, tty)
                return
            await _wait_for_start(raw, a)
            if a.gone:
                return
            if a.follow:
                await _follow_running(ctx, raw, rec, a, tty)
                return
            if a.session is None or a.ends is None:
                return  # its start failed: the start's answer says why
            if tty and a.ends.terminal is not None:
                ctx.terminals[rec.id] = a.ends.terminal
            try:
                await relay(raw, a.session, a.ends, mux=not tty, keys=a.keys)
            finally:
                ctx.terminals.pop(rec.id, None)
                a.session.close()
        finally:
            a.gone = True
            waiting = ctx.attachers.get(rec.id)
            if waiting and a in waiting:
                waiting.remove(a)
                if not waiting:
                    ctx.attachers.pop(rec.id, None)
    return Hijack(run, ctype, upgrade=True)


async def _wait_for_start(raw: Hijacked, a: Attacher) -> None:
    """Until the container starts; the client's early bytes are kept for its stdin.
    The end of its bytes is not its going away: the docker CLI half-closes its side at
    once when it has no stdin to send (a client that went away shows when the first
    output cannot be sent)."""
    early = bytearray()
    eof = False
    async with trio.open_nursery() as n:
        async def started() -> None:
            await a.started.wait()
            n.cancel_scope.cancel()
        n.start_soon(started)
        while True:
            data = await raw.receive_some()
            if not data:
                eof = True
                break
            if a.stdin:
                early += data
        await a.started.wait()
        n.cancel_scope.cancel()
    if a.ends is not None:
        a.ends.early, a.ends.early_eof = bytes(early), eof


async def _send_history(ctx: Context, raw: Hijacked, rec: ContainerRecord, a: Attacher,
                        tty: bool) -> None:
    async for e in log_entries(ctx, rec, window("all", "", ""), follow=False):
        if (e.stream == "stderr" and a.stderr) or (e.stream != "stderr" and a.stdout):
            await raw.send_all(render(e, timestamps=False, tty=tty))


async def _follow_running(ctx: Context, raw: Hijacked, rec: ContainerRecord, a: Attacher,
                          tty: bool) -> None:
    """A running container's output from its log, from now on; with a terminal and
    stdin, the client's keys go to the terminal."""
    reader = open_log(rec)
    session = None
    if tty and a.stdin and bool((rec.raw.get("Config") or {}).get("OpenStdin")):
        with contextlib.suppress(EngineError):
            session = await aio.attach_terminal(ctx.root, rec.id)
    try:
        async with trio.open_nursery() as n:
            async def output() -> None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    async for e in log_entries(ctx, rec, window("0", "", ""), follow=True,
                                               log=reader):
                        if (e.stream == "stderr" and a.stderr) or \
                                (e.stream != "stderr" and a.stdout):
                            await raw.send_all(render(e, timestamps=False, tty=tty))
                n.cancel_scope.cancel()
            n.start_soon(output)
            if session is not None and session.pty_master is not None:
                ends = Ends(terminal=session.pty_master, shared_terminal=True)
                session.pty_master = None
                ctx.terminals.setdefault(rec.id, ends.terminal or -1)
                n.start_soon(_keyboard, raw, session, ends, a.keys, n.cancel_scope)
    finally:
        if session is not None:
            if ctx.terminals.get(rec.id) is not None:
                ctx.terminals.pop(rec.id, None)
            await session.detach()
            session.close()


async def _keyboard(raw: Hijacked, session: aio.Session, ends: Ends, keys: bytes,
                    scope: trio.CancelScope) -> None:
    """The client's bytes to a running container's terminal (no output side: the
    log carries it); the detach keys end the attach."""
    code = await relay(raw, session, ends, mux=False, keys=keys, grace=0)
    if code is None:
        scope.cancel()


# -- logs --------------------------------------------------------------------------------
async def logs(ctx: Context, req: Request, id: str) -> Stream:
    rec = await ctx.call(ctx.engine.container, id)
    out, err = req.flag("stdout"), req.flag("stderr")
    if not out and not err:
        raise bad_request("Bad parameters: you must choose at least one stream")
    win = window(req.arg("tail", "all"), req.arg("since"), req.arg("until"))
    reader = open_log(rec)  # a 501 for --log-driver none, before the head goes out
    tty = rec.tty
    stamps = req.flag("timestamps")
    follow = req.flag("follow")
    history = await read_history(ctx, reader, win, rec)

    async def chunks() -> AsyncIterator[bytes]:
        async for e in log_entries(ctx, rec, win, follow=follow, log=reader,
                                   history=history):
            if (e.stream == "stderr" and err) or (e.stream != "stderr" and out):
                yield render(e, timestamps=stamps, tty=tty)
    return Stream(chunks(), 200, RAW if tty else MUX, watch=True)


# -- wait --------------------------------------------------------------------------------
async def wait(ctx: Context, req: Request, id: str) -> Stream:
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f'invalid condition: "{condition}"')
    waiter = await aio.open_wait(ctx.root, id, condition)

    async def body() -> AsyncIterator[bytes]:
        try:
            code, error = await waiter.result()
        finally:
            waiter.close()
        yield json_line({"StatusCode": code, "Error": {"Message": error} if error else None})
    return Stream(body(), 200, watch=True)


def json_line(obj: object) -> bytes:
    import json

    return json.dumps(obj).encode() + b"\n"


async def attach_ws(ctx: Context, req: Request, id: str) -> Reply:
    raise bad_request("attach over websocket is not supported: use POST /attach")


ROUTES = [
    route("POST", "/containers/{id}/attach", attach_container),
    route("GET", "/containers/{id}/attach/ws", attach_ws),
    route("GET", "/containers/{id}/logs", logs),
    route("POST", "/containers/{id}/wait", wait),
]

__all__ = ["ROUTES", "Attacher", "json_reply", "resize_local", "start_with_attachers"]
