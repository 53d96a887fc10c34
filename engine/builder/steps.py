"""The few container operations the builder needs, behind one small typed seam.

A RUN step is an ordinary container of this engine: created from an image the build
cache holds (the parent's layers), started attached with its output on a pipe the
builder reads, waited for, its upper directory taken as the new layer, and removed.
:class:`Containers` is that seam; :class:`EngineContainers` implements it on the
engine's typed face (``engine/api``).

Every RUN container carries the labels ``io.pycompose.build`` (the build's id) and
``io.pycompose.build.pid`` (pid and start time of the building process), so that
:func:`EngineContainers.sweep` finds and removes what a killed build left.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Protocol

from pycompose.util.records import field, record

from ..errors import EngineError, NotFound

LABEL_BUILD = "io.pycompose.build"
LABEL_PID = "io.pycompose.build.pid"


@record
class Mount:
    """A RUN container mount: ``bind`` (a host path) or ``tmpfs``."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    size: int = 0  # tmpfs bytes, 0 = the kernel's default


@record
class RunSpec:
    """One RUN step's container."""

    image: str  # an image id (held by the build cache)
    argv: list[str]
    env: list[str]
    user: str = ""
    workdir: str = "/"
    network: str = "bridge"  # bridge | none | host
    mounts: list[Mount] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP
    shm_size: int = 0
    labels: dict[str, str] = field(default_factory=dict)


class Containers(Protocol):
    def create(self, spec: RunSpec) -> str:
        """A new container (not started); its id."""
        ...

    def run(self, cid: str, output_fd: int) -> int:
        """Start ``cid`` with stdout and stderr on ``output_fd`` and stdin empty; wait
        for it; its exit status. Blocking."""
        ...

    def kill(self, cid: str) -> None: ...

    def take_upper(self, cid: str, dest: Path) -> None:
        """Move the stopped container's upper directory to ``dest`` (same filesystem)."""
        ...

    def remove(self, cid: str) -> None: ...

    def sweep(self, alive: set[str]) -> list[str]:
        """Remove RUN containers whose ``io.pycompose.build.pid`` is not in ``alive``
        (builds that died); their ids."""
        ...


def process_mark(pid: int | None = None) -> str:
    """``PID:START`` of a process (its start time tells a reused pid apart)."""
    pid = os.getpid() if pid is None else pid
    try:
        with open(f"/proc/{pid}/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "0"
    return f"{pid}:{start}"


def mark_alive(mark: str) -> bool:
    pid, _, _start = mark.partition(":")
    if not pid.isdigit():
        return False
    return process_mark(int(pid)) == mark


class EngineContainers:
    """:class:`Containers` on the engine's face (``engine.api.Engine``). The face has no
    attached start yet (``container run`` attaches through the client as well): that
    one call goes to the supervisor's client directly."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def engine(self) -> Any:
        from ..api import Engine  # only when a container is needed: a cached build has none

        return Engine(self.root)

    def create(self, spec: RunSpec) -> str:
        from ..api import CreateRequest, Resources
        from ..api import Mount as ApiMount

        mounts = [ApiMount(type=m.type, target=m.target, source=m.source,
                           read_only=m.read_only, tmpfs_size=m.size or None)
                  for m in spec.mounts]
        resources = Resources(shm_size=spec.shm_size) if spec.shm_size else Resources()
        req = CreateRequest(image=spec.image, command=list(spec.argv), entrypoint=[],
                            env=list(spec.env), labels=dict(spec.labels), user=spec.user,
                            workdir=spec.workdir, network=spec.network, mounts=mounts,
                            extra_hosts=list(spec.extra_hosts), resources=resources)
        return self.engine.create(req)

    def run(self, cid: str, output_fd: int) -> int:
        from .. import client

        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with client.connect(self.root) as conn:
                conn.send({"op": "start", "id": cid, "attach": True, "tty": False,
                           "interactive": False}, [null, output_fd, output_fd])
                conn.recv()
                while True:
                    msg, fds = conn.recv()
                    for fd in fds:
                        os.close(fd)
                    if msg.get("event") == "exit":
                        return int(msg["code"])
        finally:
            os.close(null)

    def kill(self, cid: str) -> None:
        with contextlib.suppress(EngineError):
            self.engine.kill(cid)

    def take_upper(self, cid: str, dest: Path) -> None:
        upper = Path(self.engine.container(cid).upper_dir)
        if not upper.is_dir():
            upper.mkdir(parents=True)
        os.rename(upper, dest)

    def remove(self, cid: str) -> None:
        with contextlib.suppress(NotFound):
            self.engine.remove(cid, force=True, volumes=True)

    def sweep(self, alive: set[str]) -> list[str]:
        gone = []
        for rec in self.engine.containers():
            mark = rec.labels.get(LABEL_PID)
            if mark and mark not in alive and not mark_alive(mark):
                with contextlib.suppress(EngineError):
                    self.remove(rec.id)
                    gone.append(rec.id)
        return gone
