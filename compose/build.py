"""Compose's ``build:``: which services to build, the build each one asks for, and
building them (independent services in parallel) on the engine's builder.

- :func:`to_request`: a service's ``build:`` (string or mapping: ``context``,
  ``dockerfile``, ``dockerfile_inline``, ``args``, ``target``, ``labels``, ``tags``,
  ``no_cache``, ``pull``, ``network``, ``shm_size``, ``extra_hosts``, ``secrets``,
  ``additional_contexts``, ``cache_from``, ``platforms``) as the engine's
  ``BuildRequest``; the image is named as docker compose names it (``image:`` when
  given, else ``PROJECT-SERVICE``), plus ``build.tags``.
- :func:`plan_builds`: pure: which services ``up`` builds. ``--build`` (policy
  ``always``) builds every service with a ``build:``; ``--no-build`` (``never``) none;
  by default (``missing``) those whose image is not in the store, and those with
  ``pull_policy: build`` always.
- :func:`build_services`: the builds, in parallel (each in a worker thread: the builder
  is blocking), their progress handed to the caller with the service's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import translate as T
from .errors import ComposeError

if TYPE_CHECKING:
    from ..engine.api.build import BuildRequest, Event
    from .model import Project, Service

#: ``up``'s build policies: ``--build``, ``--no-build``, and the default
ALWAYS, NEVER, MISSING = "always", "never", "missing"


@dataclass
class BuildOptions:
    """``pycompose build``'s and ``up --build``'s flags, over each service's ``build:``."""

    no_cache: bool = False
    pull: bool = False
    build_args: dict[str, str] = field(default_factory=dict)
    #: the environment that fills ``args: [NAME]`` without a value and env secrets
    #: (None: the project's, as interpolation sees it)
    environ: dict[str, str] | None = None


def buildable(svc: Service) -> bool:
    return svc.build is not None


def image_tags(project: Project, name: str, svc: Service) -> list[str]:
    """The names a service's build gets: its image (``image:`` or PROJECT-SERVICE)
    and ``build.tags``."""
    tags = [T.image_of(project, name, svc)]
    for t in (svc.build.tags if svc.build else None) or []:
        if t not in tags:
            tags.append(t)
    return tags


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith("git@") or context.endswith(".git")


def to_request(project: Project, name: str, svc: Service, opts: BuildOptions
               ) -> BuildRequest:
    """The engine's build request for service ``name`` (paths are absolute already:
    the loader resolved them against the project directory)."""
    from ..engine.api.build import BuildRequest, Secret

    b = svc.build
    environ = opts.environ if opts.environ is not None else \
        {**os.environ, **project.environment}
    if b is None:
        raise ComposeError(f"service {name!r} has no build section", key=f"services.{name}")
    where = f"services.{name}.build"
    context = b.context or str(project.working_dir or ".")
    if _is_remote(context):
        raise ComposeError(f"{where}.context {context!r}: remote contexts (git, http) are "
                           "not supported; clone it and give the folder", key=where)
    req = BuildRequest(context=Path(context))
    if b.dockerfile_inline is not None:
        req.dockerfile_text = b.dockerfile_inline
    elif b.dockerfile:
        df = Path(b.dockerfile)
        req.dockerfile = df if df.is_absolute() else Path(context) / df
    req.tags = image_tags(project, name, svc)
    args: dict[str, str] = {}
    for k, v in (b.args or {}).items():
        if v is None:
            if k in environ:  # ``args: [NAME]``: the caller's value, when set
                args[k] = environ[k]
        else:
            args[k] = str(v)
    args.update(opts.build_args)
    req.build_args = args
    req.target = b.target or ""
    req.labels = {k: str(v) for k, v in (b.labels or {}).items()}
    req.no_cache = bool(b.no_cache) or opts.no_cache
    req.pull = bool(b.pull) or opts.pull
    req.cache_from = list(b.cache_from or [])
    network = b.network or "default"
    if network not in ("default", "none", "host", "bridge"):
        raise ComposeError(f"{where}.network {network!r}: a build can use default, none "
                           "or host", key=where)
    req.network = network
    if b.shm_size:
        req.shm_size = int(b.shm_size)
    for host, ips in (b.extra_hosts or {}).items():
        for ip in ips:
            req.extra_hosts.append(f"{host}:{ip}")
    if b.platforms:
        from ..engine.api.build import host_platform_name

        here = host_platform_name()
        if here not in b.platforms:
            raise ComposeError(f"{where}.platforms {b.platforms}: only this machine's "
                               f"platform ({here}) can be built here", key=where)
    for ref in b.secrets or []:
        decl = project.secrets.get(ref.source)
        if decl is None:
            raise ComposeError(f"{where}.secrets: secret {ref.source!r} is not declared in "
                               "the top-level secrets", key=where)
        sid = ref.target or ref.source
        if decl.file:
            req.secrets.append(Secret(sid, path=decl.file))
        elif decl.environment:
            value = environ.get(decl.environment)
            if value is None:
                raise ComposeError(f"secrets.{ref.source}: the environment variable "
                                   f"{decl.environment} is not set", key=f"secrets.{ref.source}")
            req.secrets.append(Secret(sid, value=value.encode()))
        elif decl.content is not None:
            req.secrets.append(Secret(sid, value=decl.content.encode()))
        else:
            raise ComposeError(f"secrets.{ref.source}: an external secret cannot be given "
                               "to a build", key=f"secrets.{ref.source}")
    for cname, value in (b.additional_contexts or {}).items():
        text = str(value)
        if text.startswith(("docker-image://", "service:", "target:")) or _is_remote(text):
            raise ComposeError(f"{where}.additional_contexts.{cname} {text!r}: only local "
                               "folders are supported as additional contexts", key=where)
        req.additional_contexts[cname] = Path(text)
    return req


def plan_builds(project: Project, names: Iterable[str], images: dict[str, str | None],
                policy: str = MISSING) -> list[str]:
    """Which of ``names`` ``up`` builds, given the image ids the store has now
    (``images``: reference -> id or None) and the policy (see the module docstring)."""
    if policy not in (ALWAYS, NEVER, MISSING):
        raise ValueError(policy)
    every = project.all_services()
    out = []
    for n in names:
        svc = every[n]
        if not buildable(svc) or policy == NEVER:
            continue
        missing = images.get(T.image_of(project, n, svc)) is None
        if policy == ALWAYS or svc.pull_policy == "build" or missing:
            out.append(n)
    return out


OnEvent = Callable[[str, "Event"], None]


async def build_services(project: Project, names: Iterable[str], opts: BuildOptions,
                         on_event: OnEvent, *, root: Path | None = None) -> dict[str, str]:
    """Build the services ``names`` (those without ``build:`` are skipped), all at once;
    their image ids by service. The first failure cancels the others (each removes what
    it had running)."""
    import trio

    from ..engine.api.build import build

    every = project.all_services()
    todo = [n for n in dict.fromkeys(names) if buildable(every[n])]
    requests = {n: to_request(project, n, every[n], opts) for n in todo}
    out: dict[str, str] = {}

    async def one(n: str) -> None:
        def emit(ev: Any) -> None:
            on_event(n, ev)
        result = await trio.to_thread.run_sync(
            lambda: build(requests[n], emit, root=root))
        out[n] = result.image_id

    async with trio.open_nursery() as nursery:
        for n in todo:
            nursery.start_soon(one, n)
    return out


def remove_image(engine: Any, ref: str) -> str:
    """``down --rmi``: remove one image reference; "" when there was none, else what
    happened (``Removed``, or why it was kept)."""
    from ..engine.api import Conflict, NotFound
    from ..engine.api.images import ImageStore, remove

    try:
        remove(ImageStore(engine.root), ref)
    except NotFound:
        return ""
    except Conflict as e:
        return f"kept: {e}"
    return "Removed"
