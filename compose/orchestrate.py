"""Bringing a project up and down: the convergence plan and the trio scheduler.

``up`` converges what runs to what the files say, service by service in dependency
order, independent services in parallel:

- networks and volumes are ensured first (idempotent; ``external`` ones must exist);
- each service waits for its dependencies' conditions (``service_started``,
  ``service_healthy``, ``service_completed_successfully``; ``required: false`` turns a
  failed dependency into a warning);
- each container is kept when its ``config-hash`` label matches the service, recreated
  when it does not (or with ``--force-recreate``), created when missing, and removed
  when the service was scaled down.

``down`` stops the project's containers (dependants first), removes them, their
networks and, with ``-v``, their volumes; then netplug sweeps whatever a crash left of
the project's wiring. State on disk is the truth: ``down`` works from the container
records and network records alone, whether or not an earlier ``up`` finished.

Engine calls are blocking socket requests to the supervisor; they run in worker threads
so that the scheduler stays responsive (Ctrl-C, parallel services).
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from pycompose.engine.errors import EngineError, NotFound

from . import graph as G
from . import translate as T
from .errors import ComposeError
from .model import Project, Service

if TYPE_CHECKING:
    from pycompose.engine.api import CreateRequest
    from pycompose.engine.volumes import VolumeStore
    from pycompose.netplug.networks import Networks

Record = dict[str, Any]

#: ``up --wait``: how long a container without a healthcheck must keep running.
STABLE_RUN = 0.5


# --- the engine seam -------------------------------------------------------------------


class Engine:
    """What orchestration needs of the engine and netplug, as blocking calls."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        from pycompose.engine import client

        return client.request(self.root, msg)

    def create(self, req: CreateRequest) -> str:
        from pycompose.engine.api import Engine as Face

        return Face(self.root).create(req)

    def containers(self, project: str) -> list[Record]:
        from pycompose.engine.containers import ContainerStore

        out = []
        for rec in ContainerStore(self.root).list():
            labels = (rec.get("Config") or {}).get("Labels") or {}
            if labels.get(T.LABEL_PROJECT) == project:
                out.append(rec)
        return out

    def record(self, cid: str) -> Record:
        from pycompose.engine.containers import ContainerStore

        return ContainerStore(self.root).load(cid)

    def networks(self) -> Networks:
        from pycompose.netplug import Networks

        return Networks(self.root)

    def volumes(self) -> VolumeStore:
        from pycompose.engine.volumes import VolumeStore

        return VolumeStore(self.root)


def labels_of(rec: Record) -> dict[str, str]:
    return (rec.get("Config") or {}).get("Labels") or {}


def status_of(rec: Record) -> str:
    return str((rec.get("State") or {}).get("Status") or "created")


def short_name(rec: Record) -> str:
    return str(rec.get("Name", "")).lstrip("/")


# --- progress ----------------------------------------------------------------------------


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


# --- up ------------------------------------------------------------------------------------


@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)
    detach: bool = True
    force_recreate: bool = False
    no_recreate: bool = False
    no_deps: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    timeout: float | None = None
    wait: bool = False
    wait_timeout: float | None = None  # seconds; None waits as long as it takes
    scale: dict[str, int] = field(default_factory=dict)


def selected_services(project: Project, names: Iterable[str], with_deps: bool) -> list[str]:
    """The services ``up NAME...`` touches: the named ones (profile-disabled ones are
    enabled by naming them) and, unless ``--no-deps``, what they depend on."""
    names = list(names)
    every = project.all_services()
    for n in names:
        if n not in every:
            raise ComposeError(f"no such service: {n}")
    g = G.service_graph(project)
    if not names:
        order = {n: i for i, n in enumerate(G.start_order(g))}
        return sorted(project.services, key=lambda n: order.get(n, -1))
    chosen = set(names)
    if with_deps:
        for n in names:
            if n in g:
                chosen |= G.dependencies(g, n)
    order = {n: i for i, n in enumerate(G.start_order(g))}
    return sorted((n for n in every if n in chosen), key=lambda n: order.get(n, -1))


class Orchestrator:
    def __init__(self, project: Project, engine: Engine, progress: Progress | None = None
                 ) -> None:
        self.project = project
        self.engine = engine
        self.progress = progress or Progress()
        self.started: dict[str, trio.Event] = {}
        self.failed: dict[str, BaseException] = {}
        self.running_ids: dict[str, list[str]] = {}

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args)

    # -- resources --
    def ensure_networks(self, names: set[str]) -> None:
        nets = self.engine.networks()
        for key in sorted(names):
            decl = self.project.networks.get(key)
            real = T.network_name(self.project, key)
            if decl is not None and decl.external:
                if not nets.exists(real):
                    raise ComposeError(f"network {real} declared as external, but could not "
                                       "be found (create it with pycompose network create)")
                continue
            existed = nets.exists(real)
            kwargs: dict[str, Any] = {"project": self.project.name,
                                      "labels": {T.LABEL_PROJECT: self.project.name,
                                                 T.LABEL_NETWORK: key,
                                                 **((decl.labels or {}) if decl else {})}}
            if decl is not None:
                kwargs["internal"] = bool(decl.internal)
                if decl.driver_opts:
                    kwargs["driver_opts"] = dict(decl.driver_opts)
                ipam = decl.ipam
                cfg = ipam.config[0] if ipam is not None and ipam.config else None
                if cfg is not None:
                    kwargs.update(subnet=cfg.subnet, gateway=cfg.gateway,
                                  ip_range=cfg.ip_range)
            nets.ensure(real, **kwargs)
            if not existed:
                self.progress("Network", real, "Created")

    def ensure_volumes(self, keys: set[str]) -> None:
        store = self.engine.volumes()
        for key in sorted(keys):
            decl = self.project.volumes.get(key)
            real = T.volume_name(self.project, key)
            if decl is not None and decl.external:
                try:
                    store.get(real)
                except EngineError:
                    raise ComposeError(f"volume {real!r} declared as external, but could "
                                       "not be found (create it with pycompose volume "
                                       "create)")
                continue
            try:
                store.get(real)
                continue
            except EngineError:
                pass
            labels = {T.LABEL_PROJECT: self.project.name, T.LABEL_VOLUME: key,
                      **((decl.labels or {}) if decl else {})}
            store.create(real, labels=labels)
            self.progress("Volume", real, "Created")

    # -- services --
    async def converge(self, service: str, opts: UpOptions, existing: list[Record],
                       deps_only: bool = False) -> None:
        svc = self.project.all_services()[service]
        try:
            await self._wait_dependencies(service, svc)
            want = opts.scale.get(service, T.replicas(svc))
            mine = sorted((r for r in existing
                           if labels_of(r).get(T.LABEL_SERVICE) == service
                           and labels_of(r).get(T.LABEL_ONEOFF) != "True"),
                          key=lambda r: int(labels_of(r).get(T.LABEL_NUMBER, "0") or 0))
            by_number = {int(labels_of(r).get(T.LABEL_NUMBER, "0") or 0): r for r in mine}
            wanted_hash = T.config_hash(self.project, service)
            ids: list[str] = []
            for number in range(1, want + 1):
                rec = by_number.pop(number, None)
                name = T.container_name(self.project, service, svc, number)
                if rec is not None:
                    stale = labels_of(rec).get(T.LABEL_HASH) != wanted_hash
                    if (stale and not opts.no_recreate) or opts.force_recreate:
                        await self._remove(rec, opts.timeout, "Recreate")
                        rec = None
                if rec is None:
                    req = T.create_request(self.project, service, svc, number,
                                           network_container=self._network_container(svc))
                    cid = await self._run(self.engine.create, req)
                    self.progress("Container", name, "Created")
                else:
                    cid = rec["Id"]
                if not opts.no_start:
                    current = status_of(await self._run(self.engine.record, cid))
                    if current not in ("running", "restarting"):
                        await self._run(self.engine.call, {"op": "start", "id": cid})
                        self.progress("Container", name, "Started")
                    else:
                        self.progress("Container", name, "Running")
                ids.append(cid)
            for rec in by_number.values():  # scaled down
                await self._remove(rec, opts.timeout, "Removed")
            self.running_ids[service] = ids
        except EngineError as e:  # say which service, keep the engine's kind
            self.failed[service] = e
            raise type(e)(f"service {service!r}: {e}") from e
        except BaseException as e:
            self.failed[service] = e
            raise
        finally:
            self.started.setdefault(service, trio.Event()).set()

    def _network_container(self, svc: Service) -> str | None:
        mode = svc.network_mode or ""
        if mode.startswith("service:"):
            target = mode.split(":", 1)[1]
            ids = self.running_ids.get(target)
            if ids:
                return ids[0]
            other = self.project.all_services().get(target)
            if other is not None:
                return T.container_name(self.project, target, other, 1)
        return None

    async def _remove(self, rec: Record, timeout: float | None, what: str) -> None:
        cid = rec["Id"]
        if status_of(rec) in ("running", "restarting", "paused"):
            msg: dict[str, Any] = {"op": "stop", "id": cid}
            if timeout is not None:
                msg["timeout"] = timeout
            await self._run(self.engine.call, msg)
        await self._run(self.engine.call, {"op": "rm", "id": cid, "volumes": False})
        self.progress("Container", short_name(rec), what)

    async def _wait_dependencies(self, service: str, svc: Service) -> None:
        for dep, cond in (svc.depends_on or {}).items():
            if dep not in self.started:
                if cond.required:
                    raise ComposeError(f"service {service!r} depends on {dep!r}, which is "
                                       "not being started")
                continue
            await self.started[dep].wait()
            try:
                if dep in self.failed:
                    raise ComposeError(f"dependency {dep!r} of {service!r} failed to start")
                if cond.condition == "service_healthy":
                    await self._wait_healthy(dep)
                elif cond.condition == "service_completed_successfully":
                    await self._wait_completed(dep)
            except ComposeError as e:
                if cond.required:
                    raise
                self.progress.write(f"WARN: {e} (not required: going on)")

    async def _wait_healthy(self, dep: str) -> None:
        ids = self.running_ids.get(dep, [])
        for cid in ids:
            while True:
                rec = await self._run(self.engine.record, cid)
                health = (rec.get("State") or {}).get("Health")
                if health is None and not (rec.get("Config") or {}).get("Healthcheck"):
                    raise ComposeError(f"dependency {dep!r} has no healthcheck: it can't be "
                                       "waited for with condition service_healthy")
                status = (health or {}).get("Status", "starting")
                if status == "healthy":
                    break
                if status == "unhealthy":
                    raise ComposeError(f"dependency failed to start: container "
                                       f"{short_name(rec)} is unhealthy")
                if status_of(rec) in ("exited", "dead"):
                    raise ComposeError(f"dependency failed to start: container "
                                       f"{short_name(rec)} exited "
                                       f"({rec['State'].get('ExitCode')})")
                await trio.sleep(0.2)
            self.progress("Container", short_name(rec), "Healthy")

    async def _wait_completed(self, dep: str) -> None:
        for cid in self.running_ids.get(dep, []):
            reply = await self._run(self.engine.call, {"op": "wait", "id": cid})
            code = int(reply.get("code", 0))
            rec = await self._run(self.engine.record, cid)
            if code != 0:
                raise ComposeError(f"service {dep!r} didn't complete successfully: "
                                   f"exit {code}")
            self.progress("Container", short_name(rec), "Exited")

    async def up(self, opts: UpOptions) -> list[str]:
        names = selected_services(self.project, opts.services, not opts.no_deps)
        every = self.project.all_services()
        nets: set[str] = set()
        vols: set[str] = set()
        for n in names:
            svc = every[n]
            nets |= set(T.service_networks(svc))
            for m in svc.volumes or []:
                if m.type == "volume" and m.source:
                    vols.add(m.source)
        from .model import unhonoured_keys

        ignored = [k for k in unhonoured_keys(self.project)
                   if k.split(".")[1] in names or not k.startswith("services.")]
        for n in names:
            ignored += T.unsupported_secrets(self.project, n, every[n])
        for key in ignored:
            self.progress.write(f"WARN: {key} is not supported yet and is ignored")
        existing = await self._run(self.engine.containers, self.project.name)
        orphans = [r for r in existing
                   if labels_of(r).get(T.LABEL_SERVICE) not in every
                   and labels_of(r).get(T.LABEL_ONEOFF) != "True"]
        if orphans:
            if opts.remove_orphans:
                for rec in orphans:
                    await self._remove(rec, opts.timeout, "Removed")
            else:
                self.progress.write(
                    f"WARN: found orphan containers ({', '.join(short_name(r) for r in orphans)})"
                    f" for this project; run with --remove-orphans to clean them up")
        await self._run(self.ensure_networks, nets)
        await self._run(self.ensure_volumes, vols)
        for n in names:
            self.started[n] = trio.Event()
        async with trio.open_nursery() as nursery:
            for n in names:
                nursery.start_soon(self.converge, n, opts, existing)
        if opts.wait and not opts.no_start:
            with trio.move_on_after(opts.wait_timeout or float("inf")) as scope:
                async with trio.open_nursery() as nursery:
                    for n in names:
                        for cid in self.running_ids.get(n, []):
                            nursery.start_soon(self._wait_ready, n, cid)
            if scope.cancelled_caught:
                raise ComposeError(f"up --wait: the services were not all running and "
                                   f"healthy after {opts.wait_timeout:g} s")
        return names

    async def _wait_ready(self, service: str, cid: str) -> None:
        """``up --wait``: running, and healthy when the container has a healthcheck. A
        container that exits is fine only if another service waits for it to complete
        (an init container), as docker compose decides."""
        completes = any(
            d.condition == "service_completed_successfully" and name == service
            for svc in self.project.services.values()
            for name, d in (svc.depends_on or {}).items())
        running_since: float | None = None
        while True:
            rec = await self._run(self.engine.record, cid)
            state = rec.get("State") or {}
            status = status_of(rec)
            if status in ("exited", "dead"):
                if completes and state.get("ExitCode") == 0:
                    return
                raise ComposeError(f"container {short_name(rec)} exited "
                                   f"({state.get('ExitCode')})")
            hc = (rec.get("Config") or {}).get("Healthcheck") or {}
            checked = bool(hc.get("Test")) and hc.get("Test") != ["NONE"]
            health = (state.get("Health") or {}).get("Status") or \
                ("starting" if checked else None)
            if status == "running" and health == "healthy":
                self.progress("Container", short_name(rec), "Healthy")
                return
            if status == "running" and health is None:
                # No healthcheck: it must still run a moment after it started, so that a
                # command that crashes at once fails --wait (docker compose says ready).
                if running_since is None:
                    running_since = trio.current_time()
                elif trio.current_time() - running_since >= STABLE_RUN:
                    return
            if health == "unhealthy":
                raise ComposeError(f"container {short_name(rec)} is unhealthy")
            await trio.sleep(0.2)


# --- down and the other project verbs -----------------------------------------------------


async def down(project: Project, engine: Engine, *, volumes: bool = False,
               remove_orphans: bool = False, timeout: float | None = None,
               progress: Progress | None = None) -> None:
    progress = progress or Progress()
    every = project.all_services()
    records = await trio.to_thread.run_sync(engine.containers, project.name)
    known = [r for r in records if labels_of(r).get(T.LABEL_SERVICE) in every
             or labels_of(r).get(T.LABEL_ONEOFF) == "True"]
    orphans = [r for r in records if r not in known]
    if orphans and not remove_orphans:
        progress.write(f"WARN: found orphan containers "
                       f"({', '.join(short_name(r) for r in orphans)}) for this project; "
                       "run with --remove-orphans to clean them up")
    targets = known + (orphans if remove_orphans else [])
    # dependants first, wave by wave
    try:
        order = G.stop_order(G.service_graph(project))
    except ComposeError:
        order = list(every)
    rank = {name: i for i, name in enumerate(order)}

    async def stop_rm(rec: Record) -> None:
        cid = rec["Id"]
        if status_of(rec) in ("running", "restarting", "paused"):
            msg: dict[str, Any] = {"op": "stop", "id": cid}
            if timeout is not None:
                msg["timeout"] = timeout
            with contextlib.suppress(NotFound):
                await trio.to_thread.run_sync(engine.call, msg)
            progress("Container", short_name(rec), "Stopped")
        with contextlib.suppress(NotFound):
            await trio.to_thread.run_sync(
                engine.call, {"op": "rm", "id": cid, "force": True, "volumes": volumes})
        progress("Container", short_name(rec), "Removed")

    waves: dict[int, list[Record]] = {}
    for rec in targets:
        waves.setdefault(rank.get(labels_of(rec).get(T.LABEL_SERVICE, ""), -1), []).append(rec)
    for _, wave in sorted(waves.items()):
        async with trio.open_nursery() as nursery:
            for rec in wave:
                nursery.start_soon(stop_rm, rec)

    kept = orphans if not remove_orphans else []

    def remove_networks() -> None:
        from pycompose.netplug import NetplugError

        nets = engine.networks()
        damaged: NetplugError | None = None
        try:
            listed = nets.list()
        except NetplugError as e:  # a damaged state: cleanup_project still removes the
            listed, damaged = [], e  # project's objects by name, then says so
        for rec in listed:
            labels = getattr(rec, "labels", None) or {}
            if labels.get(T.LABEL_PROJECT) == project.name or \
                    getattr(rec, "project", None) == project.name:
                try:
                    nets.remove(rec.name)
                except NetplugError as e:  # orphans still attached: keep it, say why
                    progress.write(f"WARN: network {rec.name} kept: {e}")
                    continue
                progress("Network", rec.name, "Removed")
        if not kept:  # sweep what a crash left, unless orphans still use the wiring
            nets.cleanup_project(project.name)
        if damaged is not None:
            raise damaged

    await trio.to_thread.run_sync(remove_networks)
    if volumes:
        def remove_volumes() -> None:
            store = engine.volumes()
            for key, decl in project.volumes.items():
                if decl.external:
                    continue
                real = T.volume_name(project, key)
                with contextlib.suppress(NotFound):
                    store.remove(real)
                    progress("Volume", real, "Removed")
        await trio.to_thread.run_sync(remove_volumes)


def container_rows(project_name: str, engine: Engine, *, all_: bool = False,
                   services: Iterable[str] = ()) -> list[Record]:
    wanted = set(services)
    out = []
    for rec in engine.containers(project_name):
        labels = labels_of(rec)
        if labels.get(T.LABEL_ONEOFF) == "True":
            continue
        if wanted and labels.get(T.LABEL_SERVICE) not in wanted:
            continue
        if not all_ and status_of(rec) not in ("running", "restarting", "paused"):
            continue
        out.append(rec)
    out.sort(key=lambda r: (labels_of(r).get(T.LABEL_SERVICE, ""),
                            int(labels_of(r).get(T.LABEL_NUMBER, "0") or 0)))
    return out


# --- attached up: logs with prefixes until the end ------------------------------------------


async def follow_logs(engine: Engine, recs: list[Record], write: Callable[[bytes], None],
                      *, follow: bool = True, tail: int | None = None,
                      timestamps: bool = False, prefix: bool = True) -> None:
    """Interleave the json-file logs of ``recs`` as ``name  | line`` lines."""
    width = max((len(_service_label(r)) for r in recs), default=0)

    async def one(rec: Record) -> None:
        from pycompose.engine.supervisor import logs as L

        path = Path(rec.get("LogPath") or "")
        name = _service_label(rec)
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
                state = status_of(await trio.to_thread.run_sync(engine.record, rec["Id"]))
            except EngineError:
                return
            if state not in ("running", "restarting", "created"):
                if prefix:
                    code = (await trio.to_thread.run_sync(engine.record, rec["Id"]))[
                        "State"].get("ExitCode", 0)
                    write(f"{name} exited with code {code}\n".encode())
                return
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        for rec in recs:
            nursery.start_soon(one, rec)


def _service_label(rec: Record) -> str:
    labels = labels_of(rec)
    project = labels.get(T.LABEL_PROJECT, "")
    name = short_name(rec)
    return name[len(project) + 1:] if project and name.startswith(project + "-") else name


async def run_attached(orch: Orchestrator, opts: UpOptions, write: Callable[[bytes], None]
                       ) -> int:
    """``up`` without ``-d``: start, print every container's output, and on Ctrl-C (or
    when every container has exited) stop them. Exit 0 as docker compose does."""
    names = await orch.up(opts)
    ids = [cid for n in names for cid in orch.running_ids.get(n, [])]
    recs = [await trio.to_thread.run_sync(orch.engine.record, cid) for cid in ids]
    write(("Attaching to " + ", ".join(_service_label(r) for r in recs) + "\n").encode())
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            async def watch_signals() -> None:
                async for _ in signals:
                    orch.progress.write("Gracefully stopping... (press Ctrl+C again to force)")
                    nursery.cancel_scope.cancel()
                    return

            async def logs_then_stop() -> None:
                await follow_logs(orch.engine, recs, write)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            nursery.start_soon(logs_then_stop)
        # stop what still runs (a second Ctrl-C here interrupts: KeyboardInterrupt)
        for rec in reversed(recs):
            try:
                current = await trio.to_thread.run_sync(orch.engine.record, rec["Id"])
            except EngineError:
                continue
            if status_of(current) in ("running", "restarting"):
                msg: dict[str, Any] = {"op": "stop", "id": rec["Id"]}
                if opts.timeout is not None:
                    msg["timeout"] = opts.timeout
                with contextlib.suppress(EngineError):
                    await trio.to_thread.run_sync(orch.engine.call, msg)
                orch.progress("Container", short_name(rec), "Stopped")
    return 0


def dump_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows)
