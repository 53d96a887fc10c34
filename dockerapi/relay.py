"""Between a hijacked connection and a process's stdio: what ``attach`` and ``exec``
carry once the connection is raw.

Output (the process's stdout and stderr pipes, or its terminal) goes to the client,
framed in docker's multiplexed format without a terminal, raw with one; the client's
bytes go to the process's stdin (a pipe, or the terminal), watched for the detach keys
(ctrl-p ctrl-q by default, ``detachKeys`` as docker spells them). The relay ends when the
process has exited and its output is drained; when the client goes away or detaches,
the process is left running and the supervisor is told the client left.

A container's terminal is shared with the log keeper, which reads it: its output comes
on a pipe of its own, and keystrokes are written to it from a worker thread (making
the shared terminal non-blocking would change it under the keeper's feet).
"""

from __future__ import annotations

import contextlib
import logging
import os

import trio

from ..engine.api import EngineError, InvalidArgument
from ..engine.api.aio import Session
from .http import Hijacked
from .sessions import Ends
from .streams import STDOUT, frame

log = logging.getLogger("pycompose.dockerapi")

DEFAULT_DETACH = b"\x10\x11"  # ctrl-p ctrl-q
_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def detach_keys(spec: str) -> bytes:
    """docker's ``--detach-keys``: ``ctrl-p,ctrl-q``, ``ctrl-a,x``; "" is the default."""
    if not spec:
        return DEFAULT_DETACH
    out = bytearray()
    for part in spec.split(","):
        p = part.strip()
        if p.lower().startswith("ctrl-") and len(p) == 6:
            c = p[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
                continue
            if c in _CTRL:
                out.append(_CTRL[c])
                continue
        if len(p) == 1:
            out.append(ord(p))
            continue
        raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class _Gone(Exception):
    """The client went away."""


async def relay(raw: Hijacked, session: Session, ends: Ends, *, mux: bool,
                keys: bytes = DEFAULT_DETACH, grace: float = 2.0,
                leave_running: bool = True) -> int | None:
    """Carry bytes both ways until the process exits (its code) or the client leaves
    or detaches (None: the process goes on; ``leave_running`` tells the supervisor the
    client left, else the caller goes on waiting on the session for the exit)."""
    streams = [trio.lowlevel.FdStream(fd) for fd, _ in ends.outputs]
    numbers = [n for _, n in ends.outputs]
    ends.outputs = []  # the streams own the fds now
    stdin_stream = trio.lowlevel.FdStream(ends.stdin) if ends.stdin is not None else None
    ends.stdin = None
    term = ends.terminal
    term_stream = None
    if term is not None and not ends.shared_terminal:
        term_stream = trio.lowlevel.FdStream(term)
        ends.terminal = term = None
    drained = [trio.Event() for _ in streams]
    left = trio.Event()
    code: int | None = None
    send_lock = trio.Lock()

    async def send(data: bytes) -> None:
        async with send_lock:
            try:
                await raw.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise _Gone from None

    async def pump_out(i: int) -> None:
        s = streams[i]
        try:
            while True:
                try:
                    data = await s.receive_some(65536)
                except (OSError, trio.BrokenResourceError):
                    data = b""  # EIO: a terminal whose other side closed
                if not data:
                    return
                await send(frame(numbers[i], data) if mux else data)
        finally:
            drained[i].set()

    async def write_in(data: bytes) -> None:
        if stdin_stream is not None:
            await stdin_stream.send_all(data)
        elif term_stream is not None:
            await term_stream.send_all(data)
        elif term is not None:
            view = memoryview(data)
            while view:
                n = await trio.to_thread.run_sync(os.write, term, view)
                view = view[n:]

    async def end_in() -> None:
        # A terminal's input stays open when the client's side ends, as dockerd leaves
        # it (it closes stdin on the client's EOF only without a TTY): the docker CLI
        # takes the detach keys itself and only half-closes, so an EOF typed into the
        # terminal here (^D) made a detached `run -it ... sh` exit
        if stdin_stream is not None:
            await stdin_stream.aclose()

    async def pump_in() -> None:
        held = b""
        first = ends.early
        eof = ends.early_eof
        while True:
            if first:
                data, first = first, b""
            elif eof:
                data = b""
            else:
                data = await raw.receive_some(65536)
            if not data:
                with contextlib.suppress(OSError, trio.BrokenResourceError,
                                         trio.ClosedResourceError):
                    if held:
                        await write_in(held)
                    await end_in()
                return
            seq = held + data
            if keys and keys in seq:
                before = seq.split(keys, 1)[0]
                if before:
                    with contextlib.suppress(OSError, trio.BrokenResourceError):
                        await write_in(before)
                left.set()
                return
            held = b""
            # a trailing part of the keys waits for the next bytes to decide
            for n in range(min(len(keys) - 1, len(seq)), 0, -1):
                if seq.endswith(keys[:n]):
                    held, seq = seq[-n:], seq[:-n]
                    break
            if seq:
                try:
                    await write_in(seq)
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # the process closed its stdin

    try:
        async with trio.open_nursery() as n:
            for i in range(len(streams)):
                n.start_soon(pump_out, i)
            if stdin_stream is not None or term is not None or term_stream is not None:
                n.start_soon(pump_in)

            async def watch_left() -> None:
                await left.wait()
                n.cancel_scope.cancel()
            n.start_soon(watch_left)
            try:
                code = await session.wait()
            except EngineError as e:  # the supervisor hung up: the session is over
                log.info("session %s ended: %s", session.id[:12], e)
                code = None
            with trio.move_on_after(grace):
                for ev in drained:
                    await ev.wait()
            n.cancel_scope.cancel()
    except* _Gone:
        left.set()
    finally:
        for s in streams:
            with contextlib.suppress(Exception):
                await s.aclose()
        for st in (stdin_stream, term_stream):
            if st is not None:
                with contextlib.suppress(Exception):
                    await st.aclose()
        ends.close()
    if left.is_set() and code is None and leave_running:
        await session.detach()
    return code


def terminal_ends(session: Session) -> Ends:
    """The ends of a terminal session, taken from it: output from a container's relay
    pipe (its master is the keeper's too), or from an exec's own master."""
    master, session.pty_master = session.pty_master, None
    assert master is not None
    if session.pty_out is not None:
        out, session.pty_out = session.pty_out, None
        return Ends([(out, STDOUT)], terminal=master, shared_terminal=True)
    return Ends([(os.dup(master), STDOUT)], terminal=master)


__all__ = ["DEFAULT_DETACH", "Ends", "detach_keys", "relay", "terminal_ends"]
