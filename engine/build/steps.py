"""The few container operations the builder needs, behind one small typed seam.

A RUN step is an ordinary container of this engine: created from an image the build
cache holds (the parent's layers), started attached with its output on a pipe the
builder reads, waited for, its upper directory taken as the new layer, and removed.
:class:`Containers` is that seam; :class:`ClientContainers` implements it on the
supervisor's client (``engine/client.py``) until the engine's typed face
(``engine/api.py``) lands, when only this file changes.

Every RUN container carries the labels ``io.pycompose.build`` (the build's id) and
``io.pycompose.build.pid`` (pid and start time of the building process), so that
:func:`ClientContainers.sweep` finds and removes what a killed build left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import EngineError, NotFound

LABEL_BUILD = "io.pycompose.build"
LABEL_PID = "io.pycompose.build.pid"


@dataclass
class Mount:
    """A RUN container mount: ``bind`` (a host path) or ``tmpfs``."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    size: int = 0  # tmpfs bytes, 0 = the kernel's default


@dataclass
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


class ClientContainers:
    """:class:`Containers` on the supervisor's socket (``engine.client``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _options(self, spec: RunSpec) -> dict[str, object]:
        mounts, tmpfs = [], []
        for m in spec.mounts:
            if m.type == "bind":
                if "," in m.source or "," in m.target:
                    raise EngineError(f"a RUN mount path may not contain a comma: "
                                      f"{m.source} -> {m.target}")
                mounts.append(f"type=bind,source={m.source},target={m.target}"
                              + (",readonly" if m.read_only else ""))
            else:
                tmpfs.append(m.target + (f":size={m.size}" if m.size else ""))
        return {
            "image": spec.image, "command": list(spec.argv), "entrypoint": "",
            "env": list(spec.env), "user": spec.user, "workdir": spec.workdir,
            "network": spec.network, "mounts": mounts, "tmpfs": tmpfs,
            "extra_hosts": list(spec.extra_hosts),
            "shm_size": str(spec.shm_size) if spec.shm_size else None,
            "labels": [f"{k}={v}" for k, v in spec.labels.items()],
            "no_healthcheck": True,
        }

    def create(self, spec: RunSpec) -> str:
        from .. import client

        reply = client.request(self.root, {"op": "create", "options": self._options(spec)})
        return str(reply["id"])

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
        from .. import client

        with contextlib.suppress(EngineError):
            client.request(self.root, {"op": "kill", "id": cid, "signal": "SIGKILL"},
                           start=False)

    def take_upper(self, cid: str, dest: Path) -> None:
        from ..containers import ContainerStore

        rec = ContainerStore(self.root).load(cid)
        upper = Path(rec["GraphDriver"]["Data"]["UpperDir"])
        if not upper.is_dir():
            upper.mkdir(parents=True)
        os.rename(upper, dest)

    def remove(self, cid: str) -> None:
        from .. import client

        try:
            client.request(self.root, {"op": "rm", "id": cid, "force": True,
                                       "volumes": True})
        except NotFound:
            return

    def sweep(self, alive: set[str]) -> list[str]:
        from ..containers import ContainerStore

        gone = []
        for rec in ContainerStore(self.root).list():
            labels = (rec.get("Config") or {}).get("Labels") or {}
            mark = labels.get(LABEL_PID)
            if mark and mark not in alive and not mark_alive(mark):
                with contextlib.suppress(EngineError):
                    self.remove(str(rec["Id"]))
                    gone.append(str(rec["Id"]))
        return gone


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
