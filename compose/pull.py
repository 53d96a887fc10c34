"""``pull`` and ``push`` of a project's images, and the pull ``up`` does first.

Which services pull is decided as data (pure functions of the service, whether its
image is present, when its tag last moved, and the clock), as docker compose decides:

- ``up`` (``must_pull``): the service's ``pull_policy`` -- ``always``; ``missing`` /
  ``if_not_present`` (the default: only when the image is not in the store); ``never``
  and ``build`` (never pulled); ``daily``, ``weekly``, ``every_<duration>`` and
  ``refresh`` (with ``pull_refresh_after``): when the tag last moved longer ago than that.
  ``up --pull always|missing|never`` overrides every service's policy.
- ``pull`` (``should_pull``): an explicit pull refreshes what the policy would skip on
  ``up`` (an unset policy, a refresh window, a present ``latest`` tag), but not
  ``never``/``build`` services, nor a present pinned tag under ``missing``.

A service without ``image:`` has nothing to pull. A failed pull of a service that can
be built (``build:``) is a warning (build it instead); of any other, an error naming
the service -- unless ``--ignore-pull-failures``. Each image is pulled once, however
many services name it, several at once, through the engine's face.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import trio

from .errors import ComposeError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pathlib import Path

    from ..engine.api import Progress as LayerEvents
    from ..engine.api import PullRequest, PullResult, PushRequest, PushResult, Version
    from .execute import Progress
    from .model import Project, Service


class Registry(Protocol):
    """What pulling and pushing need of the engine (``pycompose.engine.api.Engine``)."""

    root: Path

    def image_id(self, ref: str) -> str | None: ...
    def image_versions(self, name: str) -> list[Version]: ...
    async def pull_async(self, req: PullRequest, progress: LayerEvents | None = None
                         ) -> PullResult: ...
    async def push_async(self, req: PushRequest, progress: LayerEvents | None = None
                         ) -> PushResult: ...


_DURATION = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def refresh_window(policy: str, refresh_after: str | None = None) -> timedelta | None:
    """The age after which ``daily``/``weekly``/``every_1h30m``/``refresh`` pull again."""
    if policy == "daily":
        return timedelta(days=1)
    if policy == "weekly":
        return timedelta(weeks=1)
    text = policy.removeprefix("every_") if policy.startswith("every_") else \
        (refresh_after or "24h") if policy == "refresh" else ""
    if not text:
        return None
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ComposeError(f"invalid pull_policy duration {text!r}: use e.g. 12h, 1d, 30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def policy_of(svc: Service, override: str | None = None) -> str:
    """The service's effective policy (``up --pull`` wins); the default is missing."""
    policy = override or svc.pull_policy or "missing"
    return "missing" if policy == "if_not_present" else policy


def must_pull(policy: str, *, present: bool, last_moved: datetime | None, now: datetime,
              refresh_after: str | None = None) -> bool:
    """Whether ``up`` pulls, under ``policy``."""
    if policy == "always":
        return True
    if policy in ("never", "build"):
        return False
    window = refresh_window(policy, refresh_after)
    if window is not None:
        return not present or last_moved is None or now - last_moved >= window
    return not present


def should_pull(svc: Service, ref: str, *, present: bool, policy: str | None = None
                ) -> tuple[bool, str]:
    """Whether ``pull`` pulls, and why not: (pull?, the skip reason)."""
    chosen = policy or svc.pull_policy
    if not chosen:
        return True, ""
    chosen = "missing" if chosen == "if_not_present" else chosen
    if chosen in ("never", "build"):
        return False, f"pull_policy: {chosen}"
    if chosen == "missing" and present and not _is_latest(ref):
        return False, "Image is already present locally"
    return True, ""


def _is_latest(ref: str) -> bool:
    from ..engine.api import InvalidArgument, parse_reference

    try:
        return parse_reference(ref).tag == "latest"
    except InvalidArgument:
        return False


def _familiar(ref: str) -> str:
    from ..engine.api import InvalidArgument, parse_reference

    try:
        return parse_reference(ref).familiar()
    except InvalidArgument:
        return ref


@dataclass
class PullOptions:
    services: list[str] = field(default_factory=list)
    include_deps: bool = False
    ignore_failures: bool = False
    ignore_buildable: bool = False
    quiet: bool = False
    policy: str | None = None  # --policy missing|always


def _selected(project: Project, services: list[str], include_deps: bool) -> list[str]:
    from . import plan as P

    every = project.all_services()
    for s in services:
        if s not in every:
            raise ComposeError(f"no such service: {s}")
    return P.selected_services(P.enable(project, services), services, include_deps)


def _last_moved(engine: Registry, ref: str) -> datetime | None:
    """When the tag ``ref`` last moved (its newest version's time), if it is known."""
    from ..engine.api import EngineError

    try:
        past = engine.image_versions(ref)
    except EngineError as e:
        log.info("no versions of %s (%s): taken as never pulled", ref, e)
        return None
    for v in reversed(past):
        if v.time:
            try:
                return datetime.fromisoformat(v.time.replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


async def _pull_one(engine: Registry, ref: str, progress: Progress, quiet: bool) -> Any:
    from ..engine.api import PullRequest

    name = _familiar(ref)
    if not quiet:
        progress("Image", name, "Pulling")
    result = await engine.pull_async(PullRequest(ref))
    if not quiet:
        progress("Image", name, "Pulled")
    return result


async def _run_pulls(engine: Registry, jobs: dict[str, list[tuple[str, Service]]],
                     progress: Progress, *, quiet: bool, ignore_failures: bool,
                     will_build: frozenset[str] = frozenset()) -> None:
    """Pull each image once, all at once; a failure of an image no service can build
    is an error (unless ignored), of a buildable one a warning (``will_build``: the
    services the caller builds next, said as such)."""
    from pycompose.errors import PycomposeError

    failures: dict[str, BaseException] = {}

    async def one(ref: str) -> None:
        try:
            await _pull_one(engine, ref, progress, quiet)
        except PycomposeError as e:
            failures[ref] = e
            progress("Image", _familiar(ref), str(e), ok=False)

    async with trio.open_nursery() as n:
        for ref in jobs:
            n.start_soon(one, ref)
    errors = []
    must_build = []
    for ref, e in failures.items():
        users = jobs[ref]
        names = ", ".join(s for s, _ in users)
        if any(svc.build is not None for _, svc in users):
            buildable = [s for s, svc in users if svc.build is not None]
            next_ = all(s in will_build for s in buildable)
            must_build += [] if next_ else buildable
            progress.warn(f"pull of {ref} for {names} failed ({e}); it can be built"
                          + (": building it" if next_ else ""))
        elif ignore_failures:
            progress.warn(f"pull of {ref} for {names} failed: {e}")
        else:
            errors.append(f"service {names}: {e}")
    if must_build:
        progress.warn("Some service image(s) must be built from source by running: "
                      f"pycompose build {' '.join(sorted(set(must_build)))}")
    if errors:
        raise ComposeError("; ".join(errors))


async def pull(project: Project, engine: Registry, opts: PullOptions,
               progress: Progress) -> list[str]:
    """``pull [SERVICE...]``; the image references pulled."""
    from . import translate as T

    names = _selected(project, opts.services, opts.include_deps)
    every = project.all_services()
    jobs: dict[str, list[tuple[str, Service]]] = {}
    for name in names:
        svc = every[name]
        if not svc.image:
            continue  # nothing to pull: it is built
        ref = T.image_of(project, name, svc)
        present = await trio.to_thread.run_sync(engine.image_id, ref) is not None
        go, why = should_pull(svc, ref, present=present, policy=opts.policy)
        if go and svc.build is not None and opts.ignore_buildable:
            go, why = False, "Image can be built"
        if not go:
            if not opts.quiet:
                progress("Image", svc.image, f"Skipped - {why}")
            continue
        jobs.setdefault(ref, []).append((name, svc))
    await _run_pulls(engine, jobs, progress, quiet=opts.quiet,
                     ignore_failures=opts.ignore_failures)
    return list(jobs)


async def ensure_images(project: Project, engine: Registry, services: list[str],
                        override: str | None, progress: Progress, *,
                        build: str = "missing", now: datetime | None = None) -> list[str]:
    """What ``up`` pulls before it plans: each selected service's image, as its policy
    (or ``up --pull``) says; the references pulled. ``build`` is up's (``missing``,
    ``always``, ``never``): a failed pull of a service it builds next says so."""
    from . import translate as T

    now = now or datetime.now(UTC)
    every = project.all_services()
    jobs: dict[str, list[tuple[str, Service]]] = {}
    will_build: set[str] = set()
    for name in services:
        svc = every[name]
        if not svc.image:
            continue
        ref = T.image_of(project, name, svc)
        policy = policy_of(svc, override)
        present = await trio.to_thread.run_sync(engine.image_id, ref) is not None
        last = _last_moved(engine, ref) if refresh_window(
            policy, svc.pull_refresh_after) else None
        if must_pull(policy, present=present, last_moved=last, now=now,
                     refresh_after=svc.pull_refresh_after):
            jobs.setdefault(ref, []).append((name, svc))
            if svc.build is not None and (build == "always" or
                                          (build == "missing" and not present)):
                will_build.add(name)
    if not jobs:
        return []
    if not hasattr(engine, "pull_async"):  # a seam without registries (a test's fake)
        log.info("not pulling %s: the engine cannot pull", ", ".join(jobs))
        return []
    await _run_pulls(engine, jobs, progress, quiet=False, ignore_failures=False,
                     will_build=frozenset(will_build))
    return list(jobs)


@dataclass
class PushOptions:
    services: list[str] = field(default_factory=list)
    include_deps: bool = False
    ignore_failures: bool = False
    quiet: bool = False


async def push(project: Project, engine: Registry, opts: PushOptions,
               progress: Progress) -> list[Any]:
    """``push [SERVICE...]``: the images of services that are built here and named
    (``build:`` and ``image:``), each once; only the blobs a registry lacks go up."""
    from pycompose.errors import PycomposeError

    from ..engine.api import PushRequest

    names = _selected(project, opts.services, opts.include_deps)
    every = project.all_services()
    refs: dict[str, str] = {}
    for name in names:
        svc = every[name]
        if svc.build is None or not svc.image:
            continue
        refs.setdefault(svc.image, name)
    results: list[Any] = []
    failures: list[str] = []

    async def one(ref: str, service: str) -> None:
        shown = _familiar(ref)
        if not opts.quiet:
            progress("Image", shown, "Pushing")
        try:
            res = await engine.push_async(PushRequest(ref))
        except PycomposeError as e:
            progress("Image", shown, str(e), ok=False)
            if opts.ignore_failures:
                progress.warn(f"push of {shown} for {service} failed: {e}")
            else:
                failures.append(f"service {service}: {e}")
            return
        results.extend(res.images)
        if not opts.quiet:
            im = res.images[0]
            progress("Image", shown, f"Pushed ({im.layers_uploaded} of {im.layers} layers "
                     f"sent, {im.bytes_sent} bytes)")

    async with trio.open_nursery() as n:
        for ref, service in refs.items():
            n.start_soon(one, ref, service)
    if failures:
        raise ComposeError("; ".join(failures))
    return results
