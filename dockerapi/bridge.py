"""Bytes and events between trio and the face's blocking calls.

- :func:`body_into`: a request's body (an image archive, a build context, a tar for a
  container) fed to a blocking call that reads a file, through a pipe: nothing is held
  whole in memory or spooled by us;
- :func:`output_of`: what a blocking call writes to a file (``save``, an archive of a
  container's files) streamed out as chunks, through a pipe;
- :class:`EventChannel`: typed progress events from an engine call (which may call back
  from the trio thread or from a worker thread) to the handler that streams them.

Background work runs in the service's nursery under a cancel scope of its own: when
the client goes away, the stream's generator is closed and cancels it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any, TypeVar

import h11
import trio

from .context import Context
from .http import Request

log = logging.getLogger("pycompose.dockerapi")

T = TypeVar("T")


async def body_into(ctx: Context, req: Request, fn: Callable[[IO[bytes]], T]) -> T:
    """``fn(file)`` in a worker thread, ``file`` reading the request's body."""
    r, w = os.pipe2(os.O_CLOEXEC)
    rf = os.fdopen(r, "rb")
    result: list[T] = []
    failed: list[Exception] = []
    async with trio.open_nursery() as n:
        async def feed() -> None:
            stream = trio.lowlevel.FdStream(w)
            try:
                async for chunk in req.body.chunks():
                    await stream.send_all(chunk)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                with contextlib.suppress(h11.ProtocolError):
                    await req.body.drain()  # the reader stopped early: the rest is unread
            except h11.ProtocolError as e:  # the client went away before its body ended
                log.info("%s %s: the request's body was cut short: %s", req.method,
                         req.path, e)
            finally:
                await stream.aclose()

        n.start_soon(feed)
        try:
            result.append(await ctx.call_slow(fn, rf))
        except Exception as e:  # raised as itself, not in the nursery's group
            failed.append(e)
        finally:
            rf.close()
    if failed:
        raise failed[0]
    return result[0]


async def output_of(ctx: Context, fn: Callable[[IO[bytes]], None]) -> AsyncIterator[bytes]:
    """The bytes ``fn(file)`` writes, as they come. An error raised by ``fn`` after
    the first bytes ends the stream (the client sees a short archive)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    scope = trio.CancelScope()
    failed: list[BaseException] = []
    started = trio.Event()

    async def produce() -> None:
        wf = os.fdopen(w, "wb")
        started.set()
        with scope:
            try:
                await ctx.call_slow(_write_and_close, fn, wf)
            except BaseException as e:
                failed.append(e)
                if not isinstance(e, (Exception, trio.Cancelled)):
                    raise
        with contextlib.suppress(OSError):
            wf.close()

    ctx.nursery.start_soon(produce)
    await started.wait()
    stream = trio.lowlevel.FdStream(r)
    try:
        first = True
        while True:
            data = await stream.receive_some(1 << 16)
            if not data:
                break
            first = False
            yield data
        if failed and isinstance(failed[0], Exception):
            if first:
                raise failed[0]
            log.warning("stream ended early: %s", failed[0])
    finally:
        scope.cancel()
        await stream.aclose()


def _write_and_close(fn: Callable[[IO[bytes]], None], f: IO[bytes]) -> None:
    try:
        fn(f)
    except BrokenPipeError:
        pass  # the client went away
    finally:
        with contextlib.suppress(OSError):
            f.close()


class EventChannel:
    """Events sent from anywhere (the trio thread or a worker thread), received as an
    async iterator by the handler's stream."""

    def __init__(self) -> None:
        self.send, self.recv = trio.open_memory_channel[Any](math.inf)
        self.token = trio.lowlevel.current_trio_token()

    def put(self, event: Any) -> None:
        """From our trio loop, a worker thread, or another trio loop in a worker thread
        (the builder runs one): never blocks."""
        try:
            here = trio.lowlevel.current_trio_token()
        except RuntimeError:
            here = None
        if here is self.token:
            self._put(("event", event))
            return
        with contextlib.suppress(trio.RunFinishedError):
            self.token.run_sync_soon(self._put, ("event", event))

    def _put(self, event: Any) -> None:
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self.send.send_nowait(event)


async def run_with_events(ctx: Context, work: Callable[[EventChannel], Awaitable[Any]]
                          ) -> AsyncIterator[Any]:
    """Run ``work(channel)`` in the service's nursery and yield ``("event", e)`` for
    what it puts on the channel, then ``("done", result)`` or ``("error",
    exception)``; closing the iterator cancels the work."""
    ch = EventChannel()
    scope = trio.CancelScope()

    async def task() -> None:
        with scope:
            try:
                result = await work(ch)
                ch._put(("done", result))
            except Exception as e:
                ch._put(("error", e))
        await ch.send.aclose()

    ctx.nursery.start_soon(task)
    try:
        async for item in ch.recv:
            yield item
    finally:
        scope.cancel()
