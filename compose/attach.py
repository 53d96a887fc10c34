"""Following a project's output: ``logs`` and the attached ``up`` (logs with prefixes
until every container has exited, or Ctrl-C stops them)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
                      prefix: bool = True, since: int | None = None,
                      until: int | None = None) -> None:
    """Interleave the logs of ``recs`` as ``name  | line`` lines (``since``/``until``
    in ns since the epoch), across rotated files."""
    from pycompose.engine.api import logs as L

    width = max((len(service_label(r)) for r in recs), default=0)
    window = L.Window(tail=tail, since=since, until=until)

    async def one(rec: ContainerRecord) -> None:
        name = service_label(rec)
        pre = f"{name:<{width}}  | ".encode() if prefix else b""

        def emit(e: L.Entry) -> None:
            text = L.render(e, timestamps)
            write(pre + text if text.endswith(b"\n") else pre + text + b"\n")

        try:
            log = L.open_log(rec)
        except L.NotReadable as no:
            write(pre + f"({no})\n".encode())
            return
        try:
            for e in await trio.to_thread.run_sync(lambda: list(log.history(window))):
                emit(e)
            if not follow:
                return
            while True:
                entries = await trio.to_thread.run_sync(log.poll)
                for e in entries:
                    if until is not None and e.time_ns > until:
                        return
                    if window.shows(e):
                        emit(e)
                if entries:
                    continue
                try:
                    now = await _thread(engine.container, rec.id)
                except EngineError:
                    return
                if now.status.has_finished:
                    for e in await trio.to_thread.run_sync(log.poll):
                        emit(e)
                    if prefix:
                        write(f"{name} exited with code {now.exit_code}\n".encode())
                    return
                await trio.sleep(0.1)
        finally:
            log.close()

    async with trio.open_nursery() as nursery:
        for rec in recs:
            nursery.start_soon(one, rec)


async def run_attached(project: Project, engine: Seam, opts: UpOptions,
                       write: Callable[[bytes], None], progress: Progress,
                       on_build: Any = None) -> int:
    """``up`` without ``-d``: start, print every container's output, and on Ctrl-C (or
    when every container has exited) stop them. Exit 0 as docker compose does."""
    outcome = await up(project, engine, opts, progress, on_build=on_build)
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
