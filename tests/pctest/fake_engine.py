"""A fake engine at the orchestration seam (``compose/execute.py`` ``Seam``), for unit
tests of ``up``/``down``/``start``/``stop`` without root.

Containers live in memory; what each one does once started is scripted per service
(:class:`Script`: exit after N s with a code, healthy after N s, never healthy), on the
clock the test gives (trio's ``MockClock`` via pytest-trio's ``autojump_clock``), so a
test of a healthcheck chain runs in microseconds. Every call is logged in ``calls``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from pycompose.engine.api import (
    Conflict,
    ContainerRecord,
    CreateRequest,
    NetworkInfo,
    NetworkSpec,
    NotFound,
)


@dataclass
class Script:
    """What a service's containers do once started (times in seconds from the start)."""

    exit_after: float | None = None
    exit_code: int = 0
    healthy_after: float | None = None
    unhealthy_after: float | None = None
    start_error: Exception | None = None
    #: seconds a SIGTERM takes to stop it (a process that ignores TERM: the timeout)
    stop_takes: float = 0.0


@dataclass
class FakeContainer:
    id: str
    name: str
    req: CreateRequest
    image_id: str
    status: str = "created"
    started_at: float | None = None
    exit_code: int = 0
    network_mode: str = ""


@dataclass
class FakeNetworks:
    engine: FakeEngine
    nets: dict[str, NetworkInfo] = field(default_factory=dict)

    def ensure(self, spec: NetworkSpec) -> bool:
        self.engine.log("ensure_network", spec.name)
        if spec.name in self.nets:
            return False
        self.nets[spec.name] = NetworkInfo(spec.name, spec.name + "-id", spec.scope,
                                           spec.subnet or "172.30.0.0/16", "172.30.0.1",
                                           spec.internal, dict(spec.labels), ())
        return True

    def exists(self, name: str) -> bool:
        return name in self.nets

    def list(self) -> list[NetworkInfo]:
        out = []
        for info in self.nets.values():
            users = tuple(sorted(c.name for c in self.engine.boxes.values()
                                 if info.name in [e.network for e in c.req.endpoints]))
            out.append(NetworkInfo(info.name, info.id, info.scope, info.subnet, info.gateway,
                                   info.internal, info.labels, users))
        return out

    def remove(self, name: str) -> None:
        self.engine.log("remove_network", name)
        if name not in self.nets:
            raise NotFound(f"network {name} not found")
        users = [c.name for c in self.engine.boxes.values()
                 if name in [e.network for e in c.req.endpoints]]
        if users:
            raise Conflict(f"network {name} has active endpoints ({', '.join(users)})")
        del self.nets[name]

    def cleanup_scope(self, scope: str) -> None:
        self.engine.log("cleanup_scope", scope)


class FakeEngine:
    def __init__(self, clock: Any, scripts: dict[str, Script] | None = None,
                 images: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.scripts = scripts or {}
        self.images = dict(images or {})
        self.boxes: dict[str, FakeContainer] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._networks = FakeNetworks(self)

    # -- helpers for tests -------------------------------------------------------------
    def log(self, op: str, target: str) -> None:
        with self._lock:
            self.calls.append((op, target))

    def ops(self, *kinds: str) -> list[tuple[str, str]]:
        return [c for c in self.calls if not kinds or c[0] in kinds]

    def now(self) -> float:
        return float(self.clock.current_time())

    def _box(self, ref: str) -> FakeContainer:
        box = self.boxes.get(ref) or next((b for b in self.boxes.values() if b.name == ref),
                                          None)
        if box is None:
            raise NotFound(f"No such container: {ref}")
        return box

    def _script(self, box: FakeContainer) -> Script:
        return self.scripts.get(box.req.labels.get("com.docker.compose.service", ""),
                                Script())

    def _advance(self, box: FakeContainer) -> None:
        s = self._script(box)
        if box.status == "running" and s.exit_after is not None and \
                box.started_at is not None and self.now() - box.started_at >= s.exit_after:
            box.status, box.exit_code = "exited", s.exit_code

    # -- the seam --------------------------------------------------------------------------
    @property
    def networks(self) -> FakeNetworks:
        return self._networks

    def create(self, req: CreateRequest) -> str:
        name = req.name or f"c{len(self.boxes)}"
        self.log("create", name)
        if any(b.name == name for b in self.boxes.values()):
            raise Conflict(f'The container name "/{name}" is already in use')
        for e in req.endpoints:
            if e.network not in self._networks.nets:
                raise NotFound(f"network {e.network} not found")
        cid = f"{next(self._ids):064x}"
        self.boxes[cid] = FakeContainer(cid, name, req, self.images.get(req.image, "sha256:0"),
                                        network_mode=req.network)
        return cid

    def start(self, ref: str) -> str:
        box = self._box(ref)
        self.log("start", box.name)
        err = self._script(box).start_error
        if err is not None:
            raise err
        box.status, box.started_at = "running", self.now()
        return box.id

    def stop(self, ref: str, timeout: float | None = None, signal: str | None = None) -> str:
        box = self._box(ref)
        self.log("stop", box.name)
        self._advance(box)
        if box.status == "running":
            box.status, box.exit_code = "exited", 137 if self._script(box).stop_takes else 0
        return box.id

    def restart(self, ref: str, timeout: float | None = None, signal: str | None = None
                ) -> str:
        box = self._box(ref)
        self.log("restart", box.name)
        box.status, box.started_at = "running", self.now()
        return box.id

    def kill(self, ref: str, signal: str = "SIGKILL") -> str:
        box = self._box(ref)
        self.log("kill", box.name)
        box.status, box.exit_code = "exited", 137
        return box.id

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        box = self._box(ref)
        self.log("remove", box.name)
        if box.status == "running" and not force:
            raise Conflict(f"You cannot remove a running container {box.id}")
        del self.boxes[box.id]
        return box.id

    def wait(self, ref: str) -> int:
        box = self._box(ref)
        self.log("wait", box.name)
        s = self._script(box)
        if box.status == "running":
            if s.exit_after is None:
                raise AssertionError(f"fake: wait on {box.name}, which never exits")
            box.status, box.exit_code = "exited", s.exit_code
        return box.exit_code

    def wait_health(self, ref: str, timeout: float | None = None) -> ContainerRecord:
        """Sleep on the test's clock until the script decides the health (or the
        container exits): called in a worker thread, as the real face is."""
        import trio

        box = self._box(ref)
        self.log("wait_health", box.name)
        s = self._script(box)
        if box.status == "running" and box.started_at is not None:
            moments = [t for t in (s.healthy_after, s.unhealthy_after, s.exit_after)
                       if t is not None]
            if moments:
                until = box.started_at + min(moments)
                if until > self.now():
                    trio.from_thread.run(trio.sleep, until - self.now())
            elif timeout is not None:
                trio.from_thread.run(trio.sleep, timeout)
            else:
                raise AssertionError(f"fake: wait_health on {box.name}, never decided")
        return self.container(ref)

    def exec(self, ref: str, req: Any) -> tuple[int, bytes]:
        box = self._box(ref)
        self.log("exec", f"{box.name}: {' '.join(req.cmd)}")
        return 0, b""

    def container(self, ref: str) -> ContainerRecord:
        box = self._box(ref)
        self._advance(box)
        return ContainerRecord(self._raw(box))

    def containers(self, *, labels: dict[str, str] | None = None) -> list[ContainerRecord]:
        out = []
        for box in list(self.boxes.values()):
            self._advance(box)
            if labels and any(box.req.labels.get(k) != v for k, v in labels.items()):
                continue
            out.append(ContainerRecord(self._raw(box)))
        return out

    def _health(self, box: FakeContainer) -> dict[str, Any] | None:
        s = self._script(box)
        if box.req.healthcheck is None or box.req.healthcheck.disable:
            return None
        if box.status != "running" or box.started_at is None:
            return {"Status": "starting"}
        up = self.now() - box.started_at
        if s.unhealthy_after is not None and up >= s.unhealthy_after:
            return {"Status": "unhealthy"}
        if s.healthy_after is not None and up >= s.healthy_after:
            return {"Status": "healthy"}
        return {"Status": "starting"}

    def _raw(self, box: FakeContainer) -> dict[str, Any]:
        hc = box.req.healthcheck
        state: dict[str, Any] = {"Status": box.status, "ExitCode": box.exit_code}
        health = self._health(box)
        if health is not None:
            state["Health"] = health
        return {"Id": box.id, "Name": "/" + box.name, "Image": box.image_id,
                "Config": {"Labels": dict(box.req.labels), "Image": box.req.image,
                           "Healthcheck": {"Test": hc.test or ["CMD", "true"]}
                           if hc is not None and not hc.disable else None},
                "HostConfig": {"NetworkMode": box.network_mode}, "State": state,
                "Mounts": [{"Type": "volume", "Name": m.source, "Destination": m.target,
                            "Anonymous": False}
                           for m in box.req.mounts if m.type == "volume" and m.source]}

    def volume_exists(self, name: str) -> bool:
        return name in self.volumes

    def ensure_volume(self, name: str, labels: dict[str, str] | None = None) -> bool:
        self.log("ensure_volume", name)
        if name in self.volumes:
            return False
        self.volumes[name] = dict(labels or {})
        return True

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self.log("remove_volume", name)
        if name not in self.volumes:
            raise NotFound(f"no such volume: {name}")
        del self.volumes[name]

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)
