"""What every compose command shares: the engine of the state root, the project's
containers, a service's container by ``--index``, the progress display the global
options ask for, and ``--parallel``."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

from .project import load_project


def root() -> Path:
    from pycompose.util.paths import state_root

    return state_root()


def global_opt(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(getattr(args, "global_options", None), name, default)


class Limited:
    """The engine with at most ``n`` container operations at once (``--parallel``):
    every call that changes a container takes a slot; reads go straight through."""

    #: the calls that change a container (``--dry-run``'s engine only says them)
    LIMITED: ClassVar[set[str]] = {"create", "start", "stop", "restart", "kill", "remove",
                                   "pause", "unpause", "exec"}

    def __init__(self, engine: Any, n: int) -> None:
        self._engine = engine
        self._slots = threading.BoundedSemaphore(n)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if name not in self.LIMITED:
            return attr

        def limited(*a: Any, **kw: Any) -> Any:
            with self._slots:
                return attr(*a, **kw)
        return limited


def engine(args: argparse.Namespace | None = None) -> Any:
    from pycompose.engine.api import Engine

    e: Any = Engine(root())
    n = int(global_opt(args, "parallel", -1) or -1) if args is not None else -1
    if n > 0:
        e = Limited(e, n)
    return e


def progress(args: argparse.Namespace, title: str = "Running") -> Any:
    from . import compose_progress as P

    return P.make(global_opt(args, "progress"), global_opt(args, "ansi"), title)


def write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def project_lock(name: str) -> Any:
    """One ``up``/``down`` of a project at a time (two at once would race to create the
    same containers); a killed command's flock dies with it."""
    from pycompose.util.fs import locked

    return locked(root() / "projects" / f"{name}.lock")


def rows(args: argparse.Namespace, all_: bool, services: list[str] | None = None,
         oneoff: bool = False, orphans: bool = False) -> tuple[Any, list[Any]]:
    """The project and its containers (running ones unless ``all_``; those of services
    the files no longer declare only with ``orphans``)."""
    from pycompose.compose.orchestrate import container_rows

    project = load_project(args)
    names = services if services is not None else list(getattr(args, "services", []) or [])
    return project, container_rows(project, engine(), all_=all_, services=names,
                                   oneoff=oneoff, orphans=orphans)


def service_container(args: argparse.Namespace, service: str, index: int | None = None,
                      *, running: bool = True) -> Any:
    """Container ``index`` (``--index``, default 1) of ``service``; a clear error when
    the service is unknown, has no container, or it is not running."""
    from pycompose.compose import translate as T
    from pycompose.compose.errors import ComposeError

    _, recs = rows(args, not running, [service])
    idx = 1 if index is None else index
    for r in recs:
        if r.labels.get(T.LABEL_NUMBER) == str(idx):
            return r
    if recs and index is None:
        return recs[0]
    if running:
        raise ComposeError(f"service {service!r} is not running")
    raise ComposeError(f"service {service!r} has no container")


def dry_run(args: argparse.Namespace) -> bool:
    return bool(global_opt(args, "dry_run", False))


def refuse_dry_run(args: argparse.Namespace, command: str) -> None:
    if dry_run(args):
        from pycompose.compose.errors import ComposeError

        raise ComposeError(f"--dry-run is not supported by {command!r} (it is by up, down, "
                           "start, stop, restart, kill, rm, create, pause, unpause)")
