"""The engine's door to networking for the face: networks made, listed and removed in
the caller's process, under netplug's state lock (netplug is the kernel's side; this
module translates its errors into the engine's kinds, at this one boundary).

Containers are wired into networks by the supervisor (``supervisor/net.py``), which
uses :func:`netplug_error` too.
"""

from __future__ import annotations

from pathlib import Path

from pycompose.util.records import field, record

from .errors import Conflict, Damaged, EngineError, InvalidArgument, NotFound, SetupFailed

TYPE_CHECKING = False  # not typing's: the face is imported by the thin client
if TYPE_CHECKING:
    from pycompose.netplug import Networks


@record
class NetworkSpec:
    """A network to ensure. ``scope`` is the group whose network namespace holds it
    (compose's project); None for a standalone network."""

    name: str
    scope: str | None = None
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    driver_opts: dict[str, str] = field(default_factory=dict)


@record(frozen=True)
class NetworkInfo:
    """What a front end sees of a network."""

    name: str
    id: str
    scope: str | None
    subnet: str
    gateway: str
    internal: bool
    labels: dict[str, str]
    containers: tuple[str, ...]  # names (or short ids) of attached containers


def netplug_error(e: Exception, where: str = "") -> EngineError:
    """A netplug error as the engine's kind."""
    from pycompose.netplug.errors import (
        AddressError,
        NetworkConflict,
        NetworkNotFound,
        PortInUse,
        StateDamaged,
    )

    kind: type[EngineError] = SetupFailed
    if isinstance(e, NetworkNotFound):
        kind = NotFound
    elif isinstance(e, (NetworkConflict, PortInUse)):
        kind = Conflict
    elif isinstance(e, AddressError):
        kind = InvalidArgument
    elif isinstance(e, StateDamaged):
        kind = Damaged
    return kind(f"{where}{e}")


class NetworkDoor:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _nets(self) -> Networks:
        from pycompose.netplug import Networks

        return Networks(self.root)

    def ensure(self, spec: NetworkSpec) -> bool:
        """Create the network unless it exists (then check it matches); True when it
        was created now."""
        from pycompose.netplug import NetplugError

        nets = self._nets()
        try:
            existed = nets.exists(spec.name)
            nets.ensure(spec.name, project=spec.scope, subnet=spec.subnet,
                        gateway=spec.gateway, ip_range=spec.ip_range, internal=spec.internal,
                        labels=dict(spec.labels), driver_opts=dict(spec.driver_opts))
        except NetplugError as e:
            raise netplug_error(e) from e
        return not existed

    def exists(self, name: str) -> bool:
        return self._nets().exists(name)

    def list(self) -> list[NetworkInfo]:
        from pycompose.netplug import NetplugError

        try:
            records = self._nets().list()
        except NetplugError as e:
            raise netplug_error(e) from e
        return [NetworkInfo(r.name, r.id, r.scope or None, r.subnet, r.gateway, r.internal,
                            dict(r.labels),
                            tuple(sorted(a.name or a.container_id[:12]
                                         for a in r.attachments.values())))
                for r in records]

    def remove(self, name: str) -> None:
        from pycompose.netplug import NetplugError

        try:
            self._nets().remove(name)
        except NetplugError as e:
            raise netplug_error(e) from e

    def cleanup_scope(self, scope: str) -> None:
        """Remove whatever is left of a scope's wiring (its namespace, uplink, ports),
        found by name: what a killed ``up`` left behind."""
        from pycompose.netplug import NetplugError

        try:
            self._nets().cleanup_project(scope)
        except NetplugError as e:
            raise netplug_error(e) from e
