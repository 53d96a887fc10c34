"""What runs, observed once: the project's containers (labels parsed here, nowhere
else), networks, volumes and the images their services name.

The planner (``plan.py``) decides from this snapshot alone, so its decisions are pure
and testable without an engine; the executor acts on the plan and reads the engine
again only to wait for conditions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from . import translate as T

if TYPE_CHECKING:
    from pycompose.engine.api import ContainerRecord, Health, NetworkInfo, Status

    from .model import Project


class Reader(Protocol):
    """What observing needs of the engine (the engine's face has it)."""

    def containers(self, *, labels: dict[str, str] | None = None
                   ) -> list[ContainerRecord]: ...

    def volume_exists(self, name: str) -> bool: ...

    def image_id(self, ref: str) -> str | None: ...

    @property
    def networks(self) -> NetworkLister: ...


class NetworkLister(Protocol):
    def list(self) -> list[NetworkInfo]: ...


@dataclass(frozen=True)
class ObservedContainer:
    """One container of the project, as its labels and state say."""

    id: str
    name: str
    service: str
    number: int
    oneoff: bool
    config_hash: str
    image_id: str
    status: Status
    exit_code: int
    health: Health
    has_healthcheck: bool
    #: ``container:ID`` when it joined another container's network namespace
    network_mode: str = ""
    #: the named volumes it mounts (anonymous ones left out)
    volumes: tuple[str, ...] = ()

    @classmethod
    def of(cls, rec: ContainerRecord) -> ObservedContainer:
        labels = rec.labels
        try:
            number = int(labels.get(T.LABEL_NUMBER) or 0)
        except ValueError:
            number = 0
        return cls(id=rec.id, name=rec.name, service=labels.get(T.LABEL_SERVICE, ""),
                   number=number, oneoff=labels.get(T.LABEL_ONEOFF) == "True",
                   config_hash=labels.get(T.LABEL_HASH, ""), image_id=rec.image_id,
                   status=rec.status, exit_code=rec.exit_code, health=rec.health,
                   has_healthcheck=rec.has_healthcheck, network_mode=rec.network_mode,
                   volumes=tuple(sorted(str(m.get("Name")) for m in rec.mounts
                                        if m.get("Type") == "volume" and m.get("Name")
                                        and not m.get("Anonymous"))))

    @property
    def active(self) -> bool:
        return self.status.is_active


@dataclass
class Observed:
    """The snapshot ``up``/``down`` decide from."""

    project: str
    containers: list[ObservedContainer] = field(default_factory=list)
    #: real network name -> what exists
    networks: dict[str, NetworkInfo] = field(default_factory=dict)
    #: real volume names that exist
    volumes: set[str] = field(default_factory=set)
    #: image reference -> its id now (None: not in the store)
    images: dict[str, str | None] = field(default_factory=dict)

    def of_service(self, service: str) -> list[ObservedContainer]:
        """The service's own containers (not one-off ``run`` ones), by number."""
        return sorted((c for c in self.containers if c.service == service and not c.oneoff),
                      key=lambda c: (c.number, c.name))

    def orphans(self, services: Iterable[str]) -> list[ObservedContainer]:
        """Containers of the project whose service the files no longer declare."""
        known = set(services)
        return [c for c in self.containers if c.service not in known and not c.oneoff]

    def by_id(self, ref: str) -> ObservedContainer | None:
        return next((c for c in self.containers if c.id == ref or c.name == ref), None)


def observe(engine: Reader, project: Project, *, services: Iterable[str] = ()) -> Observed:
    """Read the engine once: the project's containers, the networks and volumes that
    exist, and the current image id of each selected service's image."""
    recs = engine.containers(labels={T.LABEL_PROJECT: project.name})
    obs = Observed(project.name, [ObservedContainer.of(r) for r in recs])
    from pycompose.engine.api import Damaged

    try:
        obs.networks = {n.name: n for n in engine.networks.list()}
    except Damaged:  # down still removes the containers, and the project's wiring by
        obs.networks = {}  # name (cleanup_scope), which then names the damaged file
    every = project.all_services()
    for key in project.volumes:
        name = T.volume_name(project, key)
        if engine.volume_exists(name):
            obs.volumes.add(name)
    for name in services:
        svc = every.get(name)
        if svc is not None:
            ref = T.image_of(project, name, svc)
            if ref not in obs.images:
                obs.images[ref] = engine.image_id(ref)
    return obs
