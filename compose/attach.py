"""Following a project's output: ``logs`` and the attached ``up`` (logs with prefixes
until every container has exited, or Ctrl-C stops them)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from pycompose.engine.api import EngineError

from .execute import Progress, Seam, _thread, stop_all
from .orchestrate import service_label, up
from .plan import UpOptions

if TYPE_CHECKING:
    from pycompose.engine.api import ContainerRecord

    from .model import Project


#: docker compose's rotation of prefix colours (cmd/formatter/colors.go): the bright
#: and normal ANSI colours but black, white and grey
COLOURS = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94, 31, 91)


async def follow_logs(engine: Seam, recs: list[ContainerRecord],
                      write: Callable[[bytes], None], *, follow: bool = True,
                      tail: int | None = None, timestamps: bool = False,
                      prefix: bool = True, since: int | None = None,
                      until: int | None = None, colour: bool = False,
                      on_exit: Callable[[ContainerRecord], None] | None = None) -> None:
    """Interleave the logs of ``recs`` as ``name  | line`` lines (``since``/``until``
    in ns since the epoch), across rotated files. ``colour``: each service's prefix in
    its ANSI colour, aligned; ``on_exit`` hears of each container that exits (with its
    final record) while followed."""
    from pycompose.engine.api import logs as L

    width = max((len(service_label(r)) for r in recs), default=0)
    services = list(dict.fromkeys(r.labels.get("com.docker.compose.service", r.name)
                                  for r in recs))
    window = L.Window(tail=tail, since=since, until=until)

    async def one(rec: ContainerRecord) -> None:
        name = service_label(rec)
        pre = f"{name:<{width}}  | ".encode() if prefix else b""
        if prefix and colour:
            n = services.index(rec.labels.get("com.docker.compose.service", rec.name))
            pre = f"\x1b[{COLOURS[n % len(COLOURS)]}m{name:<{width}}  |\x1b[0m ".encode()

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
                    if on_exit is not None:
                        on_exit(now)
                    return
                await trio.sleep(0.1)
        finally:
            log.close()

    async with trio.open_nursery() as nursery:
        for rec in recs:
            nursery.start_soon(one, rec)


@dataclass
class AttachOptions:
    """How an attached ``up`` follows and ends (docker compose's ``up`` flags)."""

    #: services whose output is shown (None: every one started, as ``--attach``
    #: narrows and ``--no-attach`` removes)
    attach: list[str] | None = None
    no_attach: list[str] = field(default_factory=list)
    attach_dependencies: bool = False
    abort_on_exit: bool = False
    abort_on_failure: bool = False
    exit_code_from: str | None = None
    colour: bool = False
    prefix: bool = True
    timestamps: bool = False


async def run_attached(project: Project, engine: Seam, opts: UpOptions,
                       write: Callable[[bytes], None], progress: Progress,
                       att: AttachOptions | None = None, on_build: Any = None) -> int:
    """``up`` without ``-d``: start, print the attached containers' output, and on
    Ctrl-C (or when every attached container has exited, or one exited under
    ``--abort-on-container-exit``/``--abort-on-container-failure``) stop them. A second
    Ctrl-C kills what is still stopping. The exit status: 0, or that of the
    ``--exit-code-from`` service's container, or of the container whose exit aborted."""
    att = att or AttachOptions()
    outcome = await up(project, engine, opts, progress, on_build=on_build)
    named = set(opts.services)
    shown: list[str] = []
    for service, ids in outcome.ids.items():
        if att.attach is not None:
            if service not in att.attach:
                continue
        elif named and not att.attach_dependencies and service not in named:
            continue
        if service in att.no_attach:
            continue
        shown += ids
    every = [cid for ids in outcome.ids.values() for cid in ids]
    recs = [await _thread(engine.container, cid) for cid in shown]
    write(("Attaching to " + ", ".join(service_label(r) for r in recs) + "\n").encode())
    code = 0
    aborted: list[ContainerRecord] = []

    def exited(rec: ContainerRecord) -> None:
        if att.abort_on_exit or (att.abort_on_failure and rec.exit_code != 0):
            aborted.append(rec)
            nursery.cancel_scope.cancel()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            async def watch_signals() -> None:
                async for _ in signals:
                    progress.write("Gracefully stopping... (press Ctrl+C again to force)")
                    nursery.cancel_scope.cancel()
                    return

            async def logs_then_stop() -> None:
                await follow_logs(engine, recs, write, colour=att.colour, prefix=att.prefix,
                                  timestamps=att.timestamps, on_exit=exited)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            nursery.start_soon(logs_then_stop)
        if aborted:
            progress.write("Aborting on container exit...")
            code = aborted[0].exit_code
        # stop what still runs, dependants first; a second Ctrl-C kills them
        from .orchestrate import _waves

        current = []
        for cid in every:
            with contextlib.suppress(EngineError):
                current.append(await _thread(engine.container, cid))
        active = [r for r in current if r.status.is_active]
        async with trio.open_nursery() as stopping:
            async def second_signal() -> None:
                async for _ in signals:
                    progress.write("Killing...")
                    for r in active:
                        with contextlib.suppress(EngineError):
                            await _thread(engine.kill, r.id, "SIGKILL")
                    return

            async def stop() -> None:
                await stop_all(engine, _waves(project, active), opts.timeout, progress,
                               project)
                stopping.cancel_scope.cancel()
            stopping.start_soon(second_signal)
            stopping.start_soon(stop)
    if att.exit_code_from:
        for cid in outcome.ids.get(att.exit_code_from, []):
            with contextlib.suppress(EngineError):
                return (await _thread(engine.container, cid)).exit_code
    return code
