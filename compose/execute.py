"""Carrying out a plan (``plan.py``) on the engine, with trio.

The engine's calls block (a socket request to the supervisor, or work under a store's
lock), so each runs in a worker thread; independent work runs in parallel tasks. The
seam is :class:`Seam`, which the engine's face satisfies and the unit tests' fake
engine implements, so every path here runs without root under trio's virtual clock.

``up`` carries out its plan in two phases, as docker compose does: every container is
created first (dependencies before dependants, each level in parallel), then each
service is started as soon as its dependencies meet their conditions. A dependency
that fails fails its dependants (a ``required: false`` one is a warning), and what was
created stays created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ..engine.api import NotFound
from . import translate as T
from .errors import ComposeError
from .plan import Action, ContainerStep, Dependency, DownPlan, UpOptions, UpPlan

if TYPE_CHECKING:
    from ..engine.api import (
        ContainerRecord,
        CreateRequest,
        ExecRequest,
        NetworkInfo,
        NetworkSpec,
    )
    from .model import Project

#: ``up --wait``: how long a container without a healthcheck must keep running.
STABLE_RUN = 0.5
#: how often conditions (health, exit) are looked at
POLL = 0.2


class Networks(Protocol):
    def ensure(self, spec: NetworkSpec) -> bool: ...
    def exists(self, name: str) -> bool: ...
    def list(self) -> list[NetworkInfo]: ...
    def remove(self, name: str) -> None: ...
    def cleanup_scope(self, scope: str) -> None: ...


class Seam(Protocol):
    """What orchestration needs of the engine (``pycompose.engine.api.Engine``)."""

    root: Path  # the state root (log files are read from it)

    def create(self, req: CreateRequest) -> str: ...
    def start(self, ref: str) -> str: ...
    def stop(self, ref: str, timeout: float | None = None, signal: str | None = None
             ) -> str: ...
    def restart(self, ref: str, timeout: float | None = None, signal: str | None = None
                ) -> str: ...
    def kill(self, ref: str, signal: str = "SIGKILL") -> str: ...
    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str: ...
    def wait(self, ref: str) -> int: ...
    def wait_health(self, ref: str, timeout: float | None = None) -> ContainerRecord: ...
    def exec(self, ref: str, req: ExecRequest) -> tuple[int, bytes]: ...
    def container(self, ref: str) -> ContainerRecord: ...
    def containers(self, *, labels: dict[str, str] | None = None
                   ) -> list[ContainerRecord]: ...
    def volume_exists(self, name: str) -> bool: ...
    def ensure_volume(self, name: str, labels: dict[str, str] | None = None) -> bool: ...
    def remove_volume(self, name: str, *, force: bool = False) -> None: ...
    def image_id(self, ref: str) -> str | None: ...
    @property
    def networks(self) -> Networks: ...


class Progress:
    """docker compose's progress lines (`` ✔ Container demo-web-1  Started``) and
    warnings, handed to ``write``: the CLI prints them on stderr; without a writer
    they are kept in ``lines`` (the library never prints)."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.lines: list[str] = []
        self.write = write or self.lines.append

    def __call__(self, kind: str, name: str, what: str, ok: bool = True) -> None:
        mark = "✔" if ok else "✘"
        self.write(f" {mark} {kind} {name:<28} {what}")

    def warn(self, text: str) -> None:
        self.write(f"WARN: {text}")


async def _thread(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return await trio.to_thread.run_sync(lambda: fn(*args, **kw))


@dataclass
class Outcome:
    """What an ``up`` did: the containers of each service (by number), and failures."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)


class Up:
    """One ``up``: the plan, the engine, and the events services wait on."""

    def __init__(self, project: Project, engine: Seam, plan: UpPlan, opts: UpOptions,
                 progress: Progress) -> None:
        self.project = project
        self.engine = engine
        self.plan = plan
        self.opts = opts
        self.progress = progress
        self.outcome = Outcome()
        self.created = {s: trio.Event() for s in plan.services}
        self.started = {s: trio.Event() for s in plan.services}

    async def run(self) -> Outcome:
        for w in self.plan.warnings:
            self.progress.warn(w)
        await self.resources()
        for step in self.plan.orphans:
            await self._remove(step.container_id or step.name, step.name, "Removed")
        async with trio.open_nursery() as n:
            for name in self.plan.services:
                n.start_soon(self._create_service, name)
        if self.opts.no_start:
            return self.outcome
        async with trio.open_nursery() as n:
            for name in self.plan.services:
                n.start_soon(self._start_service, name)
        if self.opts.wait:
            await self._wait_all_ready()
        return self.outcome

    # -- networks and volumes ----------------------------------------------------------
    async def resources(self) -> None:
        """The plan's networks and volumes (``run`` calls this alone)."""
        from ..engine.api import NetworkSpec

        for r in self.plan.networks:
            if r.action == "external":
                continue
            # a kept network is ensured too: ensure is idempotent and repairs what a
            # killed command or a crash left half made (a namespace without its bridge)
            decl = self.project.networks.get(r.key)
            if r.action == "recreate":
                await self._drop_network_users(r.name)
                await _thread(self.engine.networks.remove, r.name)
                self.progress("Network", r.name, "Removed")
            ipam = decl.ipam if decl is not None else None
            cfg = ipam.config[0] if ipam is not None and ipam.config else None
            spec = NetworkSpec(
                r.name, scope=self.project.name,
                subnet=cfg.subnet if cfg else None, gateway=cfg.gateway if cfg else None,
                ip_range=cfg.ip_range if cfg else None,
                internal=bool(decl.internal) if decl else False,
                labels={T.LABEL_PROJECT: self.project.name, T.LABEL_NETWORK: r.key,
                        **((decl.labels or {}) if decl else {})},
                driver_opts={k: str(v) for k, v in (decl.driver_opts or {}).items()}
                if decl else {})
            if r.action == "create":
                self.progress("Network", r.name, "Creating")
            if await _thread(self.engine.networks.ensure, spec):
                self.progress("Network", r.name, "Created")
        for r in self.plan.volumes:
            if r.action != "create":
                continue
            vdecl = self.project.volumes.get(r.key)
            labels = {T.LABEL_PROJECT: self.project.name, T.LABEL_VOLUME: r.key,
                      **((vdecl.labels or {}) if vdecl else {})}
            if await _thread(self.engine.ensure_volume, r.name, labels):
                self.progress("Volume", r.name, "Created")

    async def _drop_network_users(self, network: str) -> None:
        """Before a network is recreated: its containers go (the plan recreates them)."""
        for info in await _thread(self.engine.networks.list):
            if info.name != network:
                continue
            for svc in self.plan.services.values():
                for s in svc.steps:
                    if s.action is Action.RECREATE and s.container_id and s.name in \
                            info.containers:
                        await self._remove(s.container_id, s.name, "Removed")

    # -- phase 1: create -----------------------------------------------------------------
    async def _create_service(self, name: str) -> None:
        sp = self.plan.services[name]
        try:
            for dep in sp.dependencies:  # created in dependency order
                await self.created[dep.service].wait()
            ids: list[str] = []
            for step in sp.steps:
                cid = await self._converge(step)
                if cid is not None:
                    ids.append(cid)
            self.outcome.ids[name] = ids
        except BaseException as e:
            self.outcome.failed[name] = e
            raise
        finally:
            self.created[name].set()

    async def _converge(self, step: ContainerStep) -> str | None:
        if step.action is Action.KEEP:
            return step.container_id
        if step.action is Action.REMOVE:
            await self._remove(step.container_id or step.name, step.name, "Removed")
            return None
        if step.action is Action.RECREATE and step.container_id:
            await self._remove(step.container_id, step.name, "Recreate")
        svc = self.project.all_services()[step.service]
        req = T.create_request(self.project, step.service, svc, step.number,
                               network_container=self._network_container(step.service))
        self.progress("Container", step.name,
                      "Recreate" if step.action is Action.RECREATE else "Creating")
        try:
            cid: str = await _thread(self.engine.create, req)
        except ComposeError:
            raise
        except Exception as e:
            raise _named(e, step.service) from e
        self.progress("Container", step.name,
                      "Recreated" if step.action is Action.RECREATE else "Created")
        return cid

    def _network_container(self, service: str) -> str | None:
        svc = self.project.all_services()[service]
        mode = svc.network_mode or ""
        if mode.startswith("service:"):
            target = mode.split(":", 1)[1]
            ids = self.outcome.ids.get(target)
            if ids:
                return ids[0]
            other = self.project.all_services().get(target)
            if other is not None:
                return T.container_name(self.project, target, other, 1)
        return None

    async def _remove(self, ref: str, name: str, what: str) -> None:
        with contextlib.suppress(NotFound):  # gone behind our back: nothing to do
            rec = await _thread(self.engine.container, ref)
            if rec.status.is_active:
                await _thread(self.engine.stop, ref, self.opts.timeout)
            await _thread(self.engine.remove, ref, force=True)
        self.progress("Container", name, what)

    # -- phase 2: start by condition -----------------------------------------------------
    async def _start_service(self, name: str) -> None:
        sp = self.plan.services[name]
        try:
            if name in self.outcome.failed:
                raise self.outcome.failed[name]
            restart = False
            for dep in sp.dependencies:
                await self._meet(name, dep)
                restart |= name in self.plan.services[dep.service].restarts
            for step, cid in zip([s for s in sp.steps if s.action is not Action.REMOVE],
                                 self.outcome.ids.get(name, []), strict=False):
                rec = await _thread(self.engine.container, cid)
                if rec.status.is_active and restart:  # its dependency was recreated
                    await _thread(self.engine.restart, cid, self.opts.timeout)
                    self.progress("Container", step.name, "Restarted")
                    continue
                if rec.status.is_active:
                    self.progress("Container", step.name, "Running")
                    continue
                self.progress("Container", step.name, "Starting")
                try:
                    await _thread(self.engine.start, cid)
                except ComposeError:
                    raise
                except Exception as e:
                    raise _named(e, name) from e
                await run_hooks(self.engine, self.project, name, cid, step.name,
                                "post_start", self.progress)
                self.progress("Container", step.name, "Started")
        except BaseException as e:
            self.outcome.failed.setdefault(name, e)
            raise
        finally:
            self.started[name].set()

    async def _meet(self, name: str, dep: Dependency) -> None:
        """Until ``dep`` meets its condition; a failure of a ``required: false``
        dependency is a warning."""
        await self.started[dep.service].wait()
        try:
            if dep.service in self.outcome.failed:
                raise ComposeError(f"dependency {dep.service!r} of {name!r} failed to start")
            for cid in self.outcome.ids.get(dep.service, []):
                await wait_condition(self.engine, cid, dep, self.progress)
        except ComposeError as e:
            if dep.required:
                raise
            self.progress.warn(f"{e} (not required: going on)")

    # -- --wait ------------------------------------------------------------------------------
    async def _wait_all_ready(self) -> None:
        completes = {d.service for sp in self.plan.services.values()
                     for d in sp.dependencies if d.condition == "service_completed_successfully"}
        with trio.move_on_after(self.opts.wait_timeout or float("inf")) as scope:
            async with trio.open_nursery() as n:
                for name, ids in self.outcome.ids.items():
                    for cid in ids:
                        n.start_soon(wait_ready, self.engine, cid, name in completes,
                                     self.progress)
        if scope.cancelled_caught:
            raise ComposeError(f"up --wait: the services were not all running and healthy "
                               f"after {self.opts.wait_timeout:g} s")


def _named(e: Exception, service: str) -> Exception:
    """The engine's error, saying which service it came from, of the same kind."""
    try:
        return type(e)(f"service {service!r}: {e}")
    except TypeError:
        return ComposeError(f"service {service!r}: {e}")


async def wait_condition(engine: Seam, cid: str, dep: Dependency, progress: Progress) -> None:
    """Until container ``cid`` of ``dep`` meets ``dep.condition``; ComposeError when it
    cannot any more (it exited, it is unhealthy, it has no healthcheck)."""
    from ..engine.api import Health

    if dep.condition == "service_completed_successfully":
        code = await _thread(engine.wait, cid)
        rec = await _thread(engine.container, cid)
        if code != 0:
            raise ComposeError(f"service {dep.service!r} didn't complete successfully: "
                               f"exit {code}")
        progress("Container", rec.name, "Exited")
        return
    if dep.condition != "service_healthy":
        return
    rec = await _thread(engine.container, cid)
    if rec.health is not Health.HEALTHY and rec.status.is_active and rec.has_healthcheck:
        progress("Container", rec.name, "Waiting")
    while True:
        if rec.status.has_finished:  # an exit says more than a missing healthcheck
            raise ComposeError(f"dependency failed to start: container {rec.name} exited "
                               f"({rec.exit_code})")
        if not rec.has_healthcheck:
            # a container that fails at once has usually not exited yet: give it a
            # moment, so that its exit (the cause) is told rather than the consequence
            with trio.move_on_after(STABLE_RUN):
                while not rec.status.has_finished:
                    await trio.sleep(POLL / 4)
                    rec = await _thread(engine.container, cid)
            if rec.status.has_finished:
                continue
            raise ComposeError(f"dependency {dep.service!r} has no healthcheck: it can't be "
                               "waited for with condition service_healthy")
        if rec.health is Health.HEALTHY:
            progress("Container", rec.name, "Healthy")
            return
        if rec.health is Health.UNHEALTHY:
            raise ComposeError(f"dependency failed to start: container {rec.name} is "
                               "unhealthy")
        # the supervisor answers when the healthcheck decides or the container exits
        rec = await _thread(engine.wait_health, cid)


async def wait_ready(engine: Seam, cid: str, may_complete: bool, progress: Progress) -> None:
    """``up --wait``: running, and healthy when it has a healthcheck. A container that
    exits is fine only if another service waits for it to complete (an init container),
    as docker compose decides."""
    from ..engine.api import Health

    running_since: float | None = None
    while True:
        rec = await _thread(engine.container, cid)
        if rec.status.has_finished:
            if may_complete and rec.exit_code == 0:
                return
            raise ComposeError(f"container {rec.name} exited ({rec.exit_code})")
        if rec.status.is_active and rec.has_healthcheck:
            if rec.health is Health.HEALTHY:
                progress("Container", rec.name, "Healthy")
                return
            if rec.health is Health.UNHEALTHY:
                raise ComposeError(f"container {rec.name} is unhealthy")
        elif rec.status.is_active:
            # no healthcheck: it must still run a moment after it started, so that a
            # command that crashes at once fails --wait
            if running_since is None:
                running_since = trio.current_time()
            elif trio.current_time() - running_since >= STABLE_RUN:
                return
        await trio.sleep(POLL)


# -- hooks --------------------------------------------------------------------------------


async def run_hooks(engine: Seam, project: Project | None, service: str | None, cid: str,
                    name: str, which: str, progress: Progress) -> None:
    """The service's ``post_start`` (after its container started) or ``pre_stop``
    (before it is stopped) hooks, exec'd in the container in order. A post_start hook
    that fails fails the start, as docker compose's; a failed pre_stop hook is a
    warning (the container is stopped anyway)."""
    if project is None or service is None:
        return
    svc = project.all_services().get(service)
    hooks = getattr(svc, which, None) if svc is not None else None
    if not hooks:
        return
    from ..engine.api import EngineError, ExecRequest

    for hook in hooks:
        req = ExecRequest(cmd=list(hook.command or []), user=hook.user or "",
                          workdir=hook.working_dir or "", privileged=bool(hook.privileged),
                          env=[f"{k}={v}" for k, v in (hook.environment or {}).items()
                               if v is not None])
        try:
            code, output = await _thread(engine.exec, cid, req)
        except EngineError as e:
            code, output = -1, str(e).encode()
        if code == 0:
            continue
        text = output.decode("utf-8", "replace").strip()
        message = f"container {name}: {which} hook {' '.join(req.cmd)!r} exited with " \
                  f"status {code}" + (f": {text}" if text else "")
        if which == "post_start":
            raise ComposeError(message)
        progress.warn(message)


def _has_hooks(project: Project | None, which: str) -> bool:
    return project is not None and any(getattr(s, which, None)
                                       for s in project.all_services().values())


# -- down ---------------------------------------------------------------------------------


async def run_down(project: Project, engine: Seam, plan: DownPlan, *,
                   timeout: float | None, progress: Progress) -> None:
    for w in plan.warnings:
        progress.warn(w)

    async def rm(cid: str, name: str) -> None:
        progress("Container", name, "Removing")
        with contextlib.suppress(NotFound):
            await _thread(engine.remove, cid, force=True, volumes=True)
        progress("Container", name, "Removed")

    # Each container is removed as soon as it has stopped, as docker compose does (its
    # dependencies wait for it, dependants first): with all the stops before all the
    # removals, 30 containers' removals waited for the slowest stop.
    removing = {c.id for c in plan.remove}

    async def stop_then_rm(cid: str, name: str) -> None:
        await _stop(engine, cid, name, timeout, progress, project)
        if cid in removing:
            await rm(cid, name)

    for wave in plan.stop_waves:  # dependants first; each wave in parallel
        async with trio.open_nursery() as n:
            for c in wave:
                n.start_soon(stop_then_rm, c.id, c.name)
    stopped = {c.id for wave in plan.stop_waves for c in wave}
    async with trio.open_nursery() as n:  # those that were not running
        for c in plan.remove:
            if c.id not in stopped:
                n.start_soon(rm, c.id, c.name)
    for name in plan.networks:
        try:
            await _thread(engine.networks.remove, name)
        except NotFound:
            continue
        except Exception as e:  # still used by an orphan: keep it, say why
            from ..engine.api import EngineError

            if not isinstance(e, EngineError):
                raise
            progress.warn(f"network {name} kept: {e}")
            continue
        progress("Network", name, "Removed")
    if not plan.keep_wiring:  # what a killed up left of the project's wiring
        await _thread(engine.networks.cleanup_scope, project.name)
    for name in plan.volumes:
        with contextlib.suppress(NotFound):
            await _thread(engine.remove_volume, name)
            progress("Volume", name, "Removed")
    from .build import remove_image

    for ref in plan.images:  # down --rmi: after the containers that used them
        what = await _thread(remove_image, engine, ref)
        if what == "Removed":
            progress("Image", ref, "Removed")
        elif what:
            progress.warn(f"image {ref} {what}")


async def _stop(engine: Seam, cid: str, name: str, timeout: float | None,
                progress: Progress, project: Project | None = None) -> None:
    progress("Container", name, "Stopping")
    with contextlib.suppress(NotFound):
        if _has_hooks(project, "pre_stop"):
            rec = await _thread(engine.container, cid)
            if rec.status.is_active:
                await run_hooks(engine, project, rec.labels.get(T.LABEL_SERVICE), cid, name,
                                "pre_stop", progress)
        await _thread(engine.stop, cid, timeout)
    progress("Container", name, "Stopped")


async def stop_all(engine: Seam, waves: Iterable[Iterable[tuple[str, str]]],
                   timeout: float | None, progress: Progress,
                   project: Project | None = None) -> None:
    """``stop``: waves of (id, name), dependants first, each wave in parallel;
    with ``project``, its services' ``pre_stop`` hooks run first."""
    for wave in waves:
        async with trio.open_nursery() as n:
            for cid, name in wave:
                n.start_soon(_stop, engine, cid, name, timeout, progress, project)
