"""What ``up`` and ``down`` will do, decided as data from the project and what runs.

Pure functions of (project, :class:`~.observed.Observed`, options): no engine, no
kernel, no clock. The plan reads as text (``str(plan)``), one line per decision with
its cause, which is what the golden tests compare; ``execute.py`` carries it out.

``up`` (docker compose's convergence):

- networks and volumes the selected services use are created when missing; a declared
  network whose subnet or ``internal`` changed is recreated with every container on it;
- every container of every selected service is decided first (kept, created,
  recreated, removed when scaled down), in dependency order, then started by
  condition: a service starts once each dependency has met its condition
  (``service_started``, ``service_healthy``, ``service_completed_successfully``);
- a container is recreated when its config hash changed, its image now has another
  id, ``--force-recreate`` says so, or the container whose network it joins
  (``network_mode: service:X``) is recreated or gone;
- a dependency that is recreated restarts its dependants that ask for it
  (``depends_on: {restart: true}``).

``down`` stops dependants before what they need, each level of the graph in
parallel, then removes containers, networks and (``-v``) volumes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import graph as G
from . import translate as T
from .errors import ComposeError

if TYPE_CHECKING:
    from .model import Project, Service
    from .observed import Observed, ObservedContainer


class Action(enum.Enum):
    KEEP = "keep"
    CREATE = "create"
    RECREATE = "recreate"
    REMOVE = "remove"


@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)
    detach: bool = True
    force_recreate: bool = False
    no_recreate: bool = False
    always_recreate_deps: bool = False
    no_deps: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    renew_anon_volumes: bool = False
    timeout: float | None = None
    wait: bool = False
    wait_timeout: float | None = None  # seconds; None waits as long as it takes
    scale: dict[str, int] = field(default_factory=dict)
    pull: str | None = None  # up --pull always|missing|never (None: each pull_policy)
    #: ``--build`` (always), ``--no-build`` (never), else missing (see compose/build.py)
    build: str = "missing"


@dataclass(frozen=True)
class Dependency:
    """``service`` must meet ``condition`` before the dependant starts."""

    service: str
    condition: str = "service_started"
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class ContainerStep:
    action: Action
    service: str
    number: int
    name: str
    cause: str
    container_id: str | None = None  # the existing container kept, recreated or removed


@dataclass(frozen=True)
class ResourceStep:
    """A network or a volume: ``create`` (missing), ``recreate`` (changed), ``keep``
    or ``external`` (must exist, never touched)."""

    kind: str  # network | volume
    key: str  # the key in the files
    name: str  # the real name
    action: str
    cause: str = ""


@dataclass
class ServicePlan:
    service: str
    steps: list[ContainerStep]
    dependencies: list[Dependency]
    start: bool = True
    #: dependants to restart after this service was recreated (depends_on restart)
    restarts: list[str] = field(default_factory=list)

    @property
    def recreated(self) -> bool:
        return any(s.action in (Action.RECREATE, Action.CREATE) for s in self.steps)


@dataclass
class UpPlan:
    project: str
    networks: list[ResourceStep] = field(default_factory=list)
    volumes: list[ResourceStep] = field(default_factory=list)
    orphans: list[ContainerStep] = field(default_factory=list)
    #: services in start waves: each depends only on earlier waves
    levels: list[list[str]] = field(default_factory=list)
    services: dict[str, ServicePlan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def order(self) -> list[str]:
        return [s for level in self.levels for s in level]

    def __str__(self) -> str:
        out = []
        for r in self.networks + self.volumes:
            out.append(f"{r.kind} {r.name}: {r.action}" + (f" ({r.cause})" if r.cause else ""))
        for s in self.orphans:
            out.append(f"container {s.name}: {s.action.value} ({s.cause})")
        for name in self.order():
            sp = self.services[name]
            deps = ", ".join(f"{d.service}:{d.condition}" + ("" if d.required else "?")
                             for d in sp.dependencies)
            for s in sp.steps:
                line = f"container {s.name}: {s.action.value} ({s.cause})"
                if s.action is not Action.REMOVE and sp.start:
                    line += " then start" + (f" after {deps}" if deps else "")
                out.append(line)
            for d in sp.restarts:
                out.append(f"service {d}: restart (its dependency {name} was recreated)")
        out += [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)


@dataclass
class DownPlan:
    project: str
    #: containers to stop, dependants first: each wave in parallel
    stop_waves: list[list[ObservedContainer]] = field(default_factory=list)
    remove: list[ObservedContainer] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: orphans left running: the project's wiring must stay for them
    keep_wiring: bool = False

    def __str__(self) -> str:
        out = []
        for i, wave in enumerate(self.stop_waves, 1):
            out.append(f"stop wave {i}: " + ", ".join(c.name for c in wave))
        out += [f"container {c.name}: remove" for c in self.remove]
        out += [f"network {n}: remove" for n in self.networks]
        out += [f"volume {v}: remove" for v in self.volumes]
        out += [f"image {i}: remove" for i in self.images]
        out += [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)


# -- which services ------------------------------------------------------------------------


def enable(project: Project, names: Iterable[str]) -> Project:
    """The project with the named services enabled, whatever their profiles, and what
    they depend on (docker compose: naming a service on the command line enables it)."""
    every = project.all_services()
    todo = [n for n in names if n in project.disabled]
    if not todo:
        return project
    services = dict(project.services)
    while todo:
        name = todo.pop()
        if name in services or name not in every:
            continue
        services[name] = every[name]
        todo += [dep for dep, _ in G.edges_of(name, every[name], project.source)]
    disabled = {k: v for k, v in project.disabled.items() if k not in services}
    return dataclasses.replace(project, services=services, disabled=disabled)


def selected_services(project: Project, names: Iterable[str], with_deps: bool) -> list[str]:
    """The services a command touches, in start order: the named ones (every one when
    none is named) and, with ``with_deps``, what they depend on."""
    names = list(names)
    every = project.all_services()
    for n in names:
        if n not in every:
            raise ComposeError(f"no such service: {n}")
    g = G.service_graph(project)
    order = {n: i for i, n in enumerate(G.start_order(g))}
    if not names:
        return sorted(project.services, key=lambda n: order.get(n, -1))
    chosen = set(names)
    if with_deps:
        for n in names:
            if n in g:
                chosen |= G.dependencies(g, n)
    return sorted(chosen, key=lambda n: order.get(n, -1))


def dependencies(project: Project, service: str, within: Iterable[str]) -> list[Dependency]:
    """What ``service`` waits for among ``within``: its ``depends_on`` with their
    conditions, and the implied ones (``network_mode``/``ipc``/``pid: service:X``,
    ``volumes_from``, ``links``: started first)."""
    inside = set(within)
    g = G.service_graph(project)
    if service not in g:
        return []
    out = []
    for dep in g.successors(service):
        if dep not in inside:
            continue
        attrs = g.edges[service, dep]
        out.append(Dependency(dep, attrs.get("condition", "service_started"),
                              bool(attrs.get("required", True)),
                              bool(attrs.get("restart", False))))
    return out


# -- up ---------------------------------------------------------------------------------------


def _network_changed(project: Project, key: str, info: Any) -> str:
    decl = project.networks.get(key)
    if decl is None:
        return ""
    cfg = decl.ipam.config[0] if decl.ipam is not None and decl.ipam.config else None
    if cfg is not None and cfg.subnet and cfg.subnet != info.subnet:
        return f"subnet {info.subnet} -> {cfg.subnet}"
    if bool(decl.internal) != bool(info.internal):
        return "internal changed"
    return ""


def _resources(project: Project, names: list[str], obs: Observed,
               plan: UpPlan) -> set[str]:
    """Network and volume steps; returns the networks to recreate."""
    every = project.all_services()
    nets: list[str] = []
    vols: list[str] = []
    for n in names:
        svc = every[n]
        nets += [k for k in T.service_networks(svc) if k not in nets]
        vols += [m.source for m in svc.volumes or []
                 if m.type == "volume" and m.source and m.source not in vols]
    recreate = set()
    for key in sorted(nets):
        decl = project.networks.get(key)
        real = T.network_name(project, key)
        info = obs.networks.get(real)
        if decl is not None and decl.external:
            if info is None:
                raise ComposeError(f"network {real} declared as external, but could not be "
                                   "found (create it with pycompose network create)")
            plan.networks.append(ResourceStep("network", key, real, "external"))
        elif info is None:
            plan.networks.append(ResourceStep("network", key, real, "create", "missing"))
        elif why := _network_changed(project, key, info):
            plan.networks.append(ResourceStep("network", key, real, "recreate", why))
            recreate.add(real)
        else:
            plan.networks.append(ResourceStep("network", key, real, "keep"))
    for key in sorted(vols):
        vdecl = project.volumes.get(key)
        real = T.volume_name(project, key)
        if vdecl is not None and vdecl.external:
            if real not in obs.volumes:
                raise ComposeError(f"volume {real!r} declared as external, but could not be "
                                   "found (create it with pycompose volume create)")
            plan.volumes.append(ResourceStep("volume", key, real, "external"))
        elif real not in obs.volumes:
            plan.volumes.append(ResourceStep("volume", key, real, "create", "missing"))
        else:
            plan.volumes.append(ResourceStep("volume", key, real, "keep"))
    return recreate


def _donor(svc: Service) -> str | None:
    mode = svc.network_mode or ""
    return mode.split(":", 1)[1] if mode.startswith("service:") else None


def _why_recreate(project: Project, name: str, svc: Service, c: ObservedContainer,
                  obs: Observed, opts: UpOptions, recreated: set[str],
                  nets_recreated: set[str]) -> str:
    if opts.force_recreate:
        return "--force-recreate"
    donor = _donor(svc)
    if donor is not None and donor in recreated:
        return f"the container whose network it joins ({donor}) is recreated"
    if c.network_mode.startswith("container:") and \
            obs.by_id(c.network_mode.split(":", 1)[1]) is None:
        return "the container whose network it joined is gone"
    if nets_recreated & {T.network_name(project, k) for k in T.service_networks(svc)}:
        return "its network is recreated"
    if opts.always_recreate_deps and any(d.service in recreated
                                         for d in dependencies(project, name, recreated)):
        return "--always-recreate-deps"
    if opts.no_recreate:
        return ""
    if c.config_hash != T.config_hash(project, name):
        return "config changed"
    wanted = tuple(sorted({T.volume_name(project, m.source) for m in svc.volumes or []
                           if m.type == "volume" and m.source}))
    if c.volumes != wanted and (c.volumes or wanted):
        return f"its volumes changed ({', '.join(c.volumes) or 'none'} -> " \
               f"{', '.join(wanted) or 'none'})"
    image = obs.images.get(T.image_of(project, name, svc))
    if image and c.image_id and image != c.image_id:
        return "image changed"
    return ""


def check_container_names(project: Project, names: Iterable[str],
                          scale: dict[str, int] | None = None) -> None:
    """The containers about to be made must have names of their own: a
    ``container_name`` on a service of several replicas, or on two services, clashes."""
    every = project.all_services()
    taken: dict[str, str] = {}
    for name in names:
        svc = every[name]
        if not svc.container_name:
            continue
        replicas = (scale or {}).get(name, T.replicas(svc))
        if replicas > 1:
            raise project.error_at(("services", name, "container_name"),
                                   f"service {name!r} sets container_name "
                                   f"{svc.container_name!r} and runs {replicas} replicas: "
                                   "container names must be unique")
        if svc.container_name in taken:
            raise project.error_at(("services", name, "container_name"),
                                   f"services {taken[svc.container_name]!r} and {name!r} "
                                   f"both use container_name {svc.container_name!r}")
        taken[svc.container_name] = name


def check_healthchecks(project: Project, names: Iterable[str]) -> None:
    """What docker compose refuses at ``up`` (``config`` prints it): probes every
    start_interval need the start period they run in."""
    every = project.all_services()
    for name in names:
        hc = every[name].healthcheck
        if hc is not None and hc.start_interval is not None and hc.start_period is None:
            raise project.error_at(("services", name, "healthcheck", "start_interval"),
                                   "healthcheck.start_interval requires "
                                   "healthcheck.start_period to be set")


def plan_up(project: Project, obs: Observed, opts: UpOptions) -> UpPlan:
    """The plan of ``up [SERVICE...]`` (see the module's docstring)."""
    project = enable(project, opts.services)
    names = selected_services(project, opts.services, not opts.no_deps)
    check_container_names(project, names, opts.scale)
    check_healthchecks(project, names)
    every = project.all_services()
    plan = UpPlan(project.name)
    nets_recreated = _resources(project, names, obs, plan)
    orphans = obs.orphans(every)
    if opts.remove_orphans:
        plan.orphans = [ContainerStep(Action.REMOVE, o.service, o.number, o.name, "orphan",
                                      o.id) for o in orphans]
    elif orphans:
        plan.warnings.append(f"found orphan containers ({', '.join(o.name for o in orphans)})"
                             " for this project; run with --remove-orphans to clean them up")
    g = G.service_graph(project)
    chosen = set(names)
    plan.levels = [[s for s in level if s in chosen] for level in G.levels(g)]
    plan.levels = [level for level in plan.levels if level]
    recreated: set[str] = set()
    for name in plan.order():
        svc = every[name]
        want = opts.scale.get(name, T.replicas(svc))
        mine = {c.number: c for c in obs.of_service(name)}
        steps = []
        for number in range(1, want + 1):
            cname = T.container_name(project, name, svc, number)
            c = mine.pop(number, None)
            if c is None:
                steps.append(ContainerStep(Action.CREATE, name, number, cname, "missing"))
                continue
            why = _why_recreate(project, name, svc, c, obs, opts, recreated, nets_recreated)
            if why:
                steps.append(ContainerStep(Action.RECREATE, name, number, cname, why, c.id))
            else:
                state = "running" if c.active else c.status.value
                steps.append(ContainerStep(Action.KEEP, name, number, cname,
                                           f"{state}, up to date", c.id))
        for extra in sorted(mine.values(), key=lambda x: -x.number):
            steps.append(ContainerStep(Action.REMOVE, name, extra.number, extra.name,
                                       "scaled down", extra.id))
        sp = ServicePlan(name, steps, dependencies(project, name, chosen),
                         start=not opts.no_start)
        if any(s.action is Action.RECREATE for s in steps):
            recreated.add(name)
        plan.services[name] = sp
    for name in plan.order():  # dependants of a recreated service that ask for it
        if name not in recreated:
            continue
        plan.services[name].restarts = [
            d for d in plan.order() if d not in recreated and any(
                dep.service == name and dep.restart for dep in plan.services[d].dependencies)]
    return plan


# -- down -------------------------------------------------------------------------------------


def plan_down(project: Project, obs: Observed, *, remove_orphans: bool = False,
              volumes: bool = False, rmi: str | None = None,
              services: Iterable[str] = ()) -> DownPlan:
    """The plan of ``down``: every container of the project (orphans with
    ``--remove-orphans``), stopped dependants first in parallel waves."""
    every = project.all_services()
    only = set(services)
    known = [c for c in obs.containers
             if (c.service in every or c.oneoff) and (not only or c.service in only)]
    orphans = [] if only else obs.orphans(every)
    plan = DownPlan(project.name)
    if orphans and not remove_orphans:
        plan.warnings.append(f"found orphan containers ({', '.join(c.name for c in orphans)})"
                             " for this project; run with --remove-orphans to clean them up")
        plan.keep_wiring = True
    targets = known + (orphans if remove_orphans else [])
    plan.stop_waves = stop_waves(project, targets)
    plan.remove = targets
    if not only:
        keys = set(project.networks) | {k for svc in every.values()
                                        for k in T.service_networks(svc)}
        plan.networks = sorted(
            {T.network_name(project, k) for k in keys
             if not (project.networks.get(k) and project.networks[k].external)}
            | {n for n, info in obs.networks.items()
               if info.labels.get(T.LABEL_PROJECT) == project.name})
        plan.networks = [n for n in plan.networks if n in obs.networks]
        if volumes:
            plan.volumes = [T.volume_name(project, k) for k, decl in project.volumes.items()
                            if not decl.external
                            and T.volume_name(project, k) in obs.volumes]
        if rmi in ("local", "all"):
            for name, svc in every.items():
                if rmi == "all" or not svc.image:
                    ref = T.image_of(project, name, svc)
                    if ref not in plan.images:
                        plan.images.append(ref)
    return plan


def stop_waves(project: Project, containers: list[ObservedContainer]
               ) -> list[list[ObservedContainer]]:
    """The running ones among ``containers``, dependants first: each wave holds the
    services whose dependants are all in earlier waves (orphans and one-offs first)."""
    active = [c for c in containers if c.active]
    try:
        levels = list(reversed(G.levels(G.service_graph(project))))
    except ComposeError:
        levels = [list(project.services)]
    rank = {s: i + 1 for i, level in enumerate(levels) for s in level}
    waves: dict[int, list[ObservedContainer]] = {}
    for c in active:
        waves.setdefault(0 if c.oneoff else rank.get(c.service, 0), []).append(c)
    return [sorted(w, key=lambda c: c.name) for _, w in sorted(waves.items())]


# -- start, stop, restart -------------------------------------------------------------------


def plan_start(project: Project, obs: Observed, services: Iterable[str], *,
               with_deps: bool = True, also: Iterable[str] = ()) -> UpPlan:
    """``start [SERVICE...]``: the existing containers of the services (and, with
    ``with_deps``, of what they depend on; ``also`` adds more, such as the dependants
    ``restart`` takes along), started by condition; nothing is created."""
    names = list(services)
    project = enable(project, names)
    chosen = selected_services(project, names, with_deps) if names or not list(also) else []
    chosen = list(dict.fromkeys([*chosen, *also]))
    g = G.service_graph(project)
    plan = UpPlan(project.name)
    plan.levels = [level for level in ([s for s in lv if s in chosen] for lv in G.levels(g))
                   if level]
    for name in plan.order():
        mine = obs.of_service(name)
        if not mine:
            if name in names:
                raise ComposeError(f"service {name!r} has no container to start: create it "
                                   "with up or create first")
            plan.warnings.append(f"service {name!r} has no container to start")
        steps = [ContainerStep(Action.KEEP, name, c.number, c.name, c.status.value, c.id)
                 for c in mine]
        plan.services[name] = ServicePlan(name, steps, dependencies(project, name, chosen))
    return plan


def dependants_of(project: Project, services: Iterable[str]) -> list[str]:
    """Every service that depends on one of ``services``, directly or not."""
    g = G.service_graph(project)
    out: set[str] = set()
    for s in services:
        if s in g:
            out |= G.dependants(g, s)
    return sorted(out - set(services))
