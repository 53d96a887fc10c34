"""Following a project's output: ``logs`` and the attached ``up`` (logs with prefixes
until every container has exited, or Ctrl-C stops them)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from pycompose.engine.api import EngineError

from .execute import Progress, Seam, _thread, stop_all
from .orchestrate import service_label, up
from .plan import UpOptions

if TYPE_CHECKING:
    from pycompose.engine.api import ContainerRecord

    from .model import Project


async def follow_logs(engine: Seam, recs: list[ContainerRecord],
                      write: Callable[[bytes], None], *, follow: bool = True,
                      tail: int | None = None, timestamps: bool = False,
                      prefix: bool = True) -> None:
    """Interleave the logs of ``recs`` as ``name  | line`` lines."""
    from pycompose.engine.api import logs as L

    width = max((len(service_label(r)) for r in recs), default=0)

    async def one(rec: ContainerRecord) -> None:
        path = Path(rec.log_path)
        name = service_label(rec)
        pre = f"{name:<{width}}  | ".encode() if prefix else b""
        lines, offset = await trio.to_thread.run_sync(L.tail_lines, path, tail)

        def emit(line: bytes) -> None:
            r = L.render(line, timestamps)
            if r is not None:
                text = r[1]
                write(pre + text if text.endswith(b"\n") else pre + text + b"\n")

        for line in lines:
            emit(line)
        if not follow:
            return
        buf = b""
        while True:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            if chunk:
                offset += len(chunk)
                buf += chunk
                *complete, buf = buf.split(b"\n")
                for line in complete:
                    emit(line + b"\n")
                continue
            try:
                now = await _thread(engine.container, rec.id)
            except EngineError:
                return
            if now.status.has_finished:
                if prefix:
                    write(f"{name} exited with code {now.exit_code}\n".encode())
                return
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        for rec in recs:
            nursery.start_soon(one, rec)


async def run_attached(project: Project, engine: Seam, opts: UpOptions,
                       write: Callable[[bytes], None], progress: Progress) -> int:
    """``up`` without ``-d``: start, print every container's output, and on Ctrl-C (or
    when every container has exited) stop them. Exit 0 as docker compose does."""
    outcome = await up(project, engine, opts, progress)
    ids = [cid for ids in outcome.ids.values() for cid in ids]
    recs = [await _thread(engine.container, cid) for cid in ids]
    write(("Attaching to " + ", ".join(service_label(r) for r in recs) + "\n").encode())
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            async def watch_signals() -> None:
                async for _ in signals:
                    progress.write("Gracefully stopping... (press Ctrl+C again to force)")
                    nursery.cancel_scope.cancel()
                    return

            async def logs_then_stop() -> None:
                await follow_logs(engine, recs, write)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            nursery.start_soon(logs_then_stop)
        # stop what still runs, dependants first (a second Ctrl-C interrupts this)
        from .orchestrate import _waves

        current = []
        for rec in recs:
            with contextlib.suppress(EngineError):
                current.append(await _thread(engine.container, rec.id))
        await stop_all(engine, _waves(project, [r for r in current if r.status.is_active]),
                       opts.timeout, progress)
    return 0
