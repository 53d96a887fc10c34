"""``/containers/{id}/exec`` and ``/exec/{id}/...``: docker's exec instances.

docker's daemon keeps an exec as an object: created (its config), started once
(attached through a hijacked connection, or detached), inspected for its exit code.
The service keeps them the same way (:class:`ExecInstance`, in memory, dropped with
their container); the process itself is the supervisor's, started through the face's
``exec_attached``. A detached exec is followed by a task of the service, so that its
exit code is known to ``/exec/{id}/json``.

A command that cannot be started is docker's: the start answers with the stream, the
error is its first line, and the exec's exit code is 126 or 127.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time

import trio

from ..engine.api import (
    CannotExecute,
    CommandNotFound,
    Conflict,
    EngineError,
    ExecRequest,
    NotFound,
    Status,
    aio,
)
from .context import Context
from .errors import message_of
from .http import Hijack, Hijacked, Reply, Request, bad_request, empty, json_reply
from .jsondoc import Doc
from .relay import detach_keys, relay, terminal_ends
from .routes import route
from .sessions import Ends, ExecInstance
from .streams import MUX, RAW, STDERR, STDOUT, frame

log = logging.getLogger("pycompose.dockerapi")

#: finished execs are forgotten after this long (docker keeps them with the container)
KEEP_FINISHED = 15 * 60


def _forget_old(ctx: Context) -> None:
    now = time.monotonic()
    for eid, x in list(ctx.execs.items()):
        if x.ended_at and now - x.ended_at > KEEP_FINISHED:
            ctx.execs.pop(eid, None)


async def create_exec(ctx: Context, req: Request, id: str) -> Reply:
    body = Doc(await req.json(required=True))
    rec = await ctx.call(ctx.engine.container, id)
    if rec.status is Status.PAUSED:
        raise Conflict(f"Container {rec.id} is paused, unpause the container before exec")
    if not rec.status.is_active:
        raise Conflict(f"container {rec.id} is not running")
    cmd = body.strs("Cmd")
    if not cmd:
        raise bad_request("No exec command specified")
    size = body.raw("ConsoleSize")
    console = (int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 \
        and all(isinstance(v, int) and v > 0 for v in size) else None
    ereq = ExecRequest(cmd=cmd, env=body.strs("Env"), user=body.text("User"),
                       workdir=body.text("WorkingDir"), tty=body.boolean("Tty"),
                       interactive=body.boolean("AttachStdin"),
                       privileged=body.boolean("Privileged"), console_size=console)
    _forget_old(ctx)
    eid = secrets.token_hex(32)
    ctx.execs[eid] = ExecInstance(eid, rec.id, ereq, body.boolean("AttachStdin"),
                                  body.boolean("AttachStdout"), body.boolean("AttachStderr"),
                                  detach_keys(body.text("DetachKeys")))
    return json_reply({"Id": eid}, 201)


def _instance(ctx: Context, id: str) -> ExecInstance:
    x = ctx.execs.get(id)
    if x is None:
        raise NotFound(f"No such exec instance: {id}")
    return x


async def inspect_exec(ctx: Context, req: Request, id: str) -> Reply:
    return json_reply(_instance(ctx, id).doc())


async def resize_exec(ctx: Context, req: Request, id: str) -> Reply:
    import fcntl
    import struct
    import termios

    x = _instance(ctx, id)
    rows, cols = req.int_arg("h") or 0, req.int_arg("w") or 0
    if not x.running:
        raise Conflict(f"Exec {id} is not running")
    if x.terminal is not None and rows > 0 and cols > 0:
        with contextlib.suppress(OSError):
            fcntl.ioctl(x.terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return empty(200)


def _exit_code_of(e: EngineError) -> int:
    """docker's exit code of an exec that could not start: 127 for a missing command,
    126 for one that cannot run, 126 for any other failure of the runtime's exec."""
    if isinstance(e, CommandNotFound):
        return 127
    return 126


async def _open(ctx: Context, x: ExecInstance, req: ExecRequest, *, attached: bool
                ) -> tuple[aio.Session, Ends]:
    """Start the exec's process with ends of ours (the caller relays them)."""
    if req.tty:
        session = await aio.exec_attached(ctx.root, x.container, req)
        return session, terminal_ends(session)
    theirs: list[int] = []
    ours = Ends()
    try:
        if req.interactive and attached:
            r, w = os.pipe2(os.O_CLOEXEC)
            theirs.append(r)
            ours.stdin = w
        else:
            theirs.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        for want, number in ((x.attach_stdout, STDOUT), (x.attach_stderr, STDERR)):
            if want and attached:
                r, w = os.pipe2(os.O_CLOEXEC)
                ours.outputs.append((r, number))
                theirs.append(w)
            else:
                theirs.append(os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC))
        session = await aio.exec_attached(ctx.root, x.container, req,
                                          (theirs[0], theirs[1], theirs[2]))
    except BaseException:
        ours.close()
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return session, ours


async def start_exec(ctx: Context, req: Request, id: str) -> Reply | Hijack:
    x = _instance(ctx, id)
    body = Doc(await req.json())
    if x.started:
        raise Conflict(f"Exec {id} has already been started" if not x.running
                       else f"Exec {id} is already running")
    rec = await ctx.call(ctx.engine.container, x.container)
    if not rec.status.is_active:
        raise Conflict(f"container {rec.id} is not running")
    detach = body.boolean("Detach")
    ereq = x.req
    # The process has a terminal when the exec was created with one; the start's Tty
    # only chooses the stream's framing, as docker's daemon does: docker-py sends
    # Tty false by default, and reads a -t exec's output as stdout frames
    mux = not (body.boolean("Tty") if body.has("Tty") else ereq.tty)
    size = body.raw("ConsoleSize")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0
                                                         for v in size):
        ereq.console_size = (int(size[0]), int(size[1]))
    x.started = True
    if detach:
        try:
            session, ends = await _open(ctx, x, ereq, attached=False)
        except BaseException as e:
            x.finish(_exit_code_of(e) if isinstance(e, EngineError) else None)
            raise
        x.running, x.pid = True, session.pid or 0
        ctx.nursery.start_soon(_follow_detached, x, session, ends)
        return empty(200)

    async def run(raw: Hijacked) -> None:
        # The process starts after the response head is out, as docker's does: a
        # client (docker-py) that reads the head through a buffered reader and the
        # stream from the bare socket would lose output that came with the head.
        try:
            session, ends = await _open(ctx, x, ereq, attached=True)
        except (CommandNotFound, CannotExecute, EngineError) as e:
            x.finish(_exit_code_of(e))
            msg = message_of(e).encode() + b"\r\n"
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await raw.send_all(frame(STDOUT, msg) if mux else msg)
            return
        x.running, x.pid = True, session.pid or 0
        x.terminal = ends.terminal if ereq.tty else None
        code = await relay(raw, session, ends, mux=mux, keys=x.keys,
                           grace=0.2 if ereq.tty else 2.0, leave_running=False)
        if code is None and not session.over:  # the client left: the process goes on
            ctx.nursery.start_soon(_follow_detached, x, session, Ends())
            return
        x.finish(code if code is not None else session.code)
        session.close()
    return Hijack(run, MUX if mux else RAW, upgrade=True)


async def _follow_detached(x: ExecInstance, session: aio.Session, ends: Ends) -> None:
    """A detached exec runs to its end here, for its exit code."""
    ends.close()
    try:
        x.finish(await session.wait())
    except EngineError as e:
        log.info("exec %s: %s", x.id[:12], e)
        x.finish(None)
    finally:
        session.close()


ROUTES = [
    route("POST", "/containers/{id}/exec", create_exec),
    route("POST", "/exec/{id}/start", start_exec),
    route("POST", "/exec/{id}/resize", resize_exec),
    route("GET", "/exec/{id}/json", inspect_exec),
]
