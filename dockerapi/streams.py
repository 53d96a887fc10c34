"""Byte streams as docker's clients read them, and a container's log as an async stream.

Without a terminal, stdout and stderr share one connection in docker's multiplexed
format: each frame is an 8-byte header (the stream: 0 stdin, 1 stdout, 2 stderr; three
zero bytes; the payload's length, big-endian) and the payload. With a terminal there
is one stream and it goes raw.

:func:`log_entries` reads a container's log (history, then what is written while the
container runs, ``follow``) without blocking trio: the reader's ``poll`` is a
non-blocking read, run in a worker thread, between short sleeps.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import trio

from ..engine.api import ContainerRecord, EngineError, InvalidArgument
from ..engine.api import logs as reader
from .context import Context
from .http import ApiError

STDIN, STDOUT, STDERR = 0, 1, 2
MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def json_line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"


def open_log(rec: ContainerRecord) -> reader.LogReader:
    try:
        return reader.open_log(rec)
    except reader.NotReadable as e:
        raise ApiError(501, str(e)) from None


def window(tail: str, since: str, until: str) -> reader.Window:
    n: int | None = None
    if tail and tail != "all":
        try:
            n = int(tail)
        except ValueError:
            raise InvalidArgument(f"invalid tail {tail!r}: a number or 'all'") from None
        if n < 0:
            n = None
    try:
        s = reader.parse_timestamp(since) if since and since != "0" else None
        u = reader.parse_timestamp(until) if until and until != "0" else None
    except ValueError as e:
        raise InvalidArgument(f"invalid since/until: {e}") from None
    return reader.Window(n, s, u)


async def read_history(ctx: Context, log: reader.LogReader, win: reader.Window,
                       rec: ContainerRecord | None = None) -> list[reader.Entry]:
    """What the log holds now, read at once, its current file kept open. A handler
    reads it before its response head goes out, because a client may remove the
    container (and its log) as soon as it has the head (docker-py's ``containers.run``
    follows the log, waits, removes, and only then reads what it followed); for a
    container that has just started (``rec``), that is once the log keeper has made
    its file (it does so as it takes the container's output over, within a moment)."""
    if rec is not None and rec.status.is_active:
        with trio.move_on_after(2):
            while not await ctx.call(os.path.exists, log.path):
                await trio.sleep(0.005)
    return await ctx.call(lambda: list(log.history(win)))


async def log_entries(ctx: Context, rec: ContainerRecord, win: reader.Window, *,
                      follow: bool, log: reader.LogReader | None = None,
                      history: list[reader.Entry] | None = None,
                      interval: float = 0.05) -> AsyncIterator[reader.Entry]:
    """The entries of ``rec``'s log in ``win`` (``history``: already read); with
    ``follow``, then the new ones until the container is not running any more and
    everything is read."""
    log = log or open_log(rec)
    try:
        if history is None:
            history = await read_history(ctx, log, win)
        for e in history:
            yield e
        if not follow:
            return

        def alive() -> bool:
            try:
                return ctx.engine.container(rec.id).status.is_active
            except EngineError:
                return False
        while True:
            entries = await ctx.call(log.poll)
            for e in entries:
                if win.until is not None and e.time_ns > win.until:
                    return
                if win.shows(e):
                    yield e
            if entries:
                continue
            if not await ctx.call(alive):
                for e in await ctx.call(log.poll):
                    if win.shows(e):
                        yield e
                return
            await trio.sleep(interval)
    finally:
        log.close()


def render(e: reader.Entry, *, timestamps: bool, tty: bool) -> bytes:
    data = reader.render(e, timestamps)
    if tty:
        return data
    return frame(STDERR if e.stream == "stderr" else STDOUT, data)
