"""Compose's verbs on a loaded project, as docker compose has them: ``up``, ``down``,
``start``, ``stop``, ``restart``, ``kill``, ``rm`` and the rows of ``ps``.

Each verb observes what runs once (``observed.py``), decides as data (``plan.py``) and
carries the plan out (``execute.py``). ``engine`` is the engine's face
(``pycompose.engine.api.Engine``) or anything with its methods (``execute.Seam``);
``progress`` receives docker compose's progress lines. State on disk is the truth: a
verb works from the records alone, whether or not an earlier one finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import trio

from ..engine.api import NotFound
from . import build as B
from . import plan as P
from . import translate as T
from .errors import ComposeError
from .execute import Outcome, Progress, Seam, Up, _thread, run_down, stop_all
from .observed import observe
from .plan import UpOptions

if TYPE_CHECKING:
    from ..engine.api import ContainerRecord
    from .model import Project

__all__ = ["Outcome", "Progress", "UpOptions", "container_rows", "down", "kill", "restart",
           "rm", "start", "stop", "up"]


def _check_services(project: Project, services: Iterable[str]) -> None:
    every = project.all_services()
    for s in services:
        if s not in every:
            raise ComposeError(f"no such service: {s}")


async def up(project: Project, engine: Seam, opts: UpOptions,
             progress: Progress | None = None, *, build: B.BuildOptions | None = None,
             on_build: B.OnEvent | None = None) -> Outcome:
    """Converge what runs to the files (see ``plan.py``); the containers of each
    service, by number. Services with ``build:`` are built first as ``opts.build``
    says (``compose/build.py``), their progress handed to ``on_build``."""
    progress = progress or Progress()
    _check_services(project, opts.services)
    _check_services(project, opts.scale)  # up --scale typo=3: docker's "no such service"
    names = P.selected_services(P.enable(project, opts.services), opts.services,
                                not opts.no_deps)
    from .pull import ensure_images  # pull_policy / up --pull (compose/pull.py)

    await ensure_images(project, engine, names, opts.pull, progress,  # type: ignore[arg-type]
                        build=opts.build)
    obs = await _thread(observe, engine, project, services=names)
    todo = B.plan_builds(P.enable(project, opts.services), names, obs.images, opts.build)
    if todo:
        await B.build_services(P.enable(project, opts.services), todo,
                               build or B.BuildOptions(), on_build or (lambda _s, _e: None),
                               root=getattr(engine, "root", None))
        obs = await _thread(observe, engine, project, services=names)
    plan = P.plan_up(project, obs, opts)
    from .model import unhonoured_keys

    every = project.all_services()
    ignored = [k for k in unhonoured_keys(project)
               if not k.startswith("services.") or k.split(".")[1] in plan.services]
    for n in plan.services:
        ignored += T.unsupported_secrets(project, n, every[n])
    for key in ignored:
        progress.warn(f"{key} is not supported yet and is ignored")
    return await Up(P.enable(project, opts.services), engine, plan, opts, progress).run()


async def ensure_resources(project: Project, engine: Seam, services: Iterable[str],
                           progress: Progress | None = None) -> None:
    """The networks and volumes ``services`` use, made if missing, and nothing else
    (``run`` of a service: its one-off container needs them, its dependencies are
    another matter)."""
    names = list(services)
    _check_services(project, names)
    obs = await _thread(observe, engine, project, services=names)
    opts = UpOptions(services=names, no_deps=True)
    plan = P.plan_up(project, obs, opts)
    await Up(P.enable(project, names), engine, plan, opts, progress or Progress()).resources()


async def down(project: Project, engine: Seam, *, volumes: bool = False,
               remove_orphans: bool = False, timeout: float | None = None,
               rmi: str | None = None, progress: Progress | None = None) -> None:
    progress = progress or Progress()
    obs = await _thread(observe, engine, project)
    plan = P.plan_down(project, obs, remove_orphans=remove_orphans, volumes=volumes, rmi=rmi)
    await run_down(project, engine, plan, timeout=timeout, progress=progress)


async def start(project: Project, engine: Seam, services: Iterable[str] = (),
                progress: Progress | None = None, *, wait: bool = False,
                wait_timeout: float | None = None) -> Outcome:
    """``start``: the services' existing containers and their dependencies', in
    dependency order, each once its dependencies meet their conditions."""
    names = list(services)
    _check_services(project, names)
    obs = await _thread(observe, engine, project)
    plan = P.plan_start(project, obs, names)
    opts = UpOptions(services=names, wait=wait, wait_timeout=wait_timeout)
    return await Up(P.enable(project, names), engine, plan, opts,
                    progress or Progress()).run()


def _waves(project: Project, recs: list[ContainerRecord]) -> list[list[tuple[str, str]]]:
    from .observed import ObservedContainer

    waves = P.stop_waves(project, [ObservedContainer.of(r) for r in recs])
    return [[(c.id, c.name) for c in wave] for wave in waves]


async def stop(project: Project, engine: Seam, services: Iterable[str] = (), *,
               timeout: float | None = None, progress: Progress | None = None) -> None:
    """``stop``: dependants first, each level of the graph in parallel."""
    names = list(services)
    _check_services(project, names)
    recs = await _thread(container_rows, project, engine, services=names, all_=False)
    await stop_all(engine, _waves(project, recs), timeout, progress or Progress(),
                   project)


async def restart(project: Project, engine: Seam, services: Iterable[str] = (), *,
                  no_deps: bool = False, timeout: float | None = None,
                  progress: Progress | None = None) -> None:
    """``restart``: stop the services (and, unless ``no_deps``, what depends on them),
    then start them again in dependency order, waiting for each condition."""
    progress = progress or Progress()
    names = list(services)
    _check_services(project, names)
    extra = [] if no_deps or not names else P.dependants_of(project, names)
    recs = await _thread(container_rows, project, engine, services=[*names, *extra],
                         all_=False)
    await stop_all(engine, _waves(project, recs), timeout, progress, project)
    obs = await _thread(observe, engine, project)
    plan = P.plan_start(project, obs, names, with_deps=False, also=extra)
    opts = UpOptions(services=names, timeout=timeout)
    await Up(P.enable(project, names), engine, plan, opts, progress).run()


async def kill(project: Project, engine: Seam, services: Iterable[str] = (), *,
               signal: str = "SIGKILL", progress: Progress | None = None) -> None:
    progress = progress or Progress()
    names = list(services)
    _check_services(project, names)
    for rec in await _thread(container_rows, project, engine, services=names, all_=False):
        with contextlib.suppress(NotFound):
            await _thread(engine.kill, rec.id, signal)
            progress("Container", rec.name, "Killed")


async def rm(project: Project, engine: Seam, services: Iterable[str] = (), *,
             stop_first: bool = False, volumes: bool = False, timeout: float | None = None,
             progress: Progress | None = None) -> None:
    """``rm``: stopped containers (``--stop``: stop the running ones first)."""
    progress = progress or Progress()
    names = list(services)
    _check_services(project, names)
    recs = await _thread(container_rows, project, engine, services=names, all_=True)
    if stop_first:
        await stop_all(engine, _waves(project, recs), timeout, progress, project)
        recs = await _thread(container_rows, project, engine, services=names, all_=True)

    async def one(rec: ContainerRecord) -> None:
        with contextlib.suppress(NotFound):
            await _thread(engine.remove, rec.id, force=False, volumes=volumes)
        progress("Container", rec.name, "Removed")

    async with trio.open_nursery() as n:
        for rec in recs:
            if not rec.status.is_active:
                n.start_soon(one, rec)


def container_rows(project: Project, engine: Seam, *, all_: bool = False,
                   services: Iterable[str] = (), oneoff: bool = False,
                   orphans: bool = False) -> list[ContainerRecord]:
    """The project's containers (running ones unless ``all_``), by service and number:
    only the loaded files' services, unless ``orphans`` (``ps`` shows the others too);
    a service named that the files do not declare is an error, as docker's."""
    wanted = set(services)
    _check_services(project, wanted)
    every = project.all_services()
    out = []
    for rec in engine.containers(labels={T.LABEL_PROJECT: project.name}):
        labels = rec.labels
        if (labels.get(T.LABEL_ONEOFF) == "True") != oneoff:
            continue
        if wanted and labels.get(T.LABEL_SERVICE) not in wanted:
            continue
        if not orphans and labels.get(T.LABEL_SERVICE) not in every:
            continue
        if not all_ and not rec.status.is_active:
            continue
        out.append(rec)

    def number(r: ContainerRecord) -> int:
        try:
            return int(r.labels.get(T.LABEL_NUMBER) or 0)
        except ValueError:
            return 0

    out.sort(key=lambda r: (r.labels.get(T.LABEL_SERVICE, ""), number(r)))
    return out


def service_label(rec: ContainerRecord) -> str:
    """The log prefix of a container: its name without the project's prefix."""
    project = rec.labels.get(T.LABEL_PROJECT, "")
    name = rec.name
    return name[len(project) + 1:] if project and name.startswith(project + "-") else name
