"""What every handler is given: the engine's face, and the service's own state.

The face's calls block (they talk to the supervisor over its socket, or work on the
stores under their locks), so handlers run them in worker threads (:meth:`Context.call`);
the supervisor's long conversations (attached starts, execs, waits, events) are the
face's async calls (``engine.api.aio``), which a cancel scope ends.

The service keeps what docker's daemon keeps in memory: exec instances (created, then
started, then inspected for their exit code) and the attach streams waiting for their
container to start.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from ..engine.api import Engine
from .sessions import Attacher, ExecInstance

T = TypeVar("T")


class Context:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.engine = Engine(root)
        self.execs: dict[str, ExecInstance] = {}
        #: container id -> attach streams waiting for its next start
        self.attachers: dict[str, list[Attacher]] = {}
        #: HostConfig.ConsoleSize of a container created here, for its first start
        self.console_sizes: dict[str, tuple[int, int]] = {}
        #: container id -> the master of its terminal, while an attach here holds it
        self.terminals: dict[str, int] = {}
        #: blocking calls that may take long (pull, build, save) do not starve the
        #: quick ones (inspect, start) of threads
        self.slow = trio.CapacityLimiter(16)
        self.quick = trio.CapacityLimiter(64)
        #: background work that outlives a request (a detached exec, a stream's
        #: producer); set by the service when it starts
        self.nursery: trio.Nursery

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread."""
        return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                             limiter=self.quick)

    async def call_slow(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                             limiter=self.slow)
