"""The engine's door to networking for the face: networks made, listed and removed in
the caller's process, under netplug's state lock (netplug is the kernel's side; its
errors become the engine's kinds at this boundary, by neterrors.py).

Containers are wired into networks by the supervisor (``supervisor/net.py``), which
translates netplug's errors the same way.
"""

from __future__ import annotations

from pathlib import Path

from pycompose.util.records import field, record

from .errors import Conflict, InvalidArgument, NotFound
from .neterrors import netplug_error

TYPE_CHECKING = False  # not typing's: the face is imported by the thin client
if TYPE_CHECKING:
    from ..netplug import Networks


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


class NetworkDoor:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _nets(self) -> Networks:
        from ..netplug import Networks

        return Networks(self.root)

    def ensure(self, spec: NetworkSpec) -> bool:
        """Create the network unless it exists (then check it matches); True when it
        was created now."""
        from ..netplug import NetplugError

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
        from ..netplug import NetplugError

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
        from ..netplug import NetplugError

        try:
            self._nets().remove(name)
        except NetplugError as e:
            raise netplug_error(e) from e

    def cleanup_scope(self, scope: str) -> None:
        """Remove whatever is left of a scope's wiring (its namespace, uplink, ports),
        found by name: what a killed ``up`` left behind."""
        from ..netplug import NetplugError

        try:
            self._nets().cleanup_project(scope)
        except NetplugError as e:
            raise netplug_error(e) from e


def connect(root: Path, ref: str, network: str, *, aliases: list[str] | None = None,
            ipv4: str | None = None) -> None:
    """``network connect``: a running container is wired into ``network`` now; one
    that is not running will be at its next start. Either way its record says so
    (``NetworkingConfig``, and ``NetworkSettings`` while it runs), so that inspect
    shows it and a restart wires it again."""
    from .containers import ContainerStore
    from .supervisor import net

    store = ContainerStore(root)
    rec = store.get(ref)
    cid = rec["Id"]
    if network in ("host", "none") or network.startswith("container:"):
        raise InvalidArgument(f"container cannot be connected to network {network!r}")
    if network != "bridge" and not NetworkDoor(root).exists(network):
        raise NotFound(f"network {network} not found")  # now, not at its next start
    if any(name == network for name, _ in net.endpoints(rec)):
        raise Conflict(f"endpoint with name {rec['Name'].lstrip('/')} already exists in "
                       f"network {network}")
    ep_conf = {"Aliases": list(aliases or []),
               "IPAMConfig": {"IPv4Address": ipv4} if ipv4 else None, "MacAddress": ""}
    running = rec["State"].get("Status") in ("running", "paused") and rec["State"].get("Pid")
    settings = net.connect(root, rec, network, list(aliases or []), ipv4) if running \
        else None

    def change(r: dict[str, object]) -> None:
        eps = dict(net.endpoints(r))
        eps[network] = ep_conf
        r["NetworkingConfig"] = {"EndpointsConfig": eps}
        if settings is not None:
            ns = r.setdefault("NetworkSettings", {})
            assert isinstance(ns, dict)
            ns.setdefault("Networks", {})[network] = settings
    store.update(cid, change)


def disconnect(root: Path, ref: str, network: str, *, force: bool = False) -> None:
    """``network disconnect``: the reverse of :func:`connect`."""
    from .containers import ContainerStore
    from .supervisor import net

    store = ContainerStore(root)
    rec = store.get(ref)
    names = [name for name, _ in net.endpoints(rec)]
    if network not in names:
        if force:
            return
        raise NotFound(f"container {rec['Name'].lstrip('/')} is not connected to network "
                       f"{network}")
    running = rec["State"].get("Status") in ("running", "paused") and rec["State"].get("Pid")
    if running:
        net.disconnect(root, rec, network)

    def change(r: dict[str, object]) -> None:
        eps = {n: e for n, e in net.endpoints(r) if n != network}
        r["NetworkingConfig"] = {"EndpointsConfig": eps} if eps else None
        if not eps:
            host = r.get("HostConfig")
            if isinstance(host, dict):
                host["NetworkMode"] = "none"
        ns = r.get("NetworkSettings")
        if isinstance(ns, dict) and isinstance(ns.get("Networks"), dict):
            ns["Networks"].pop(network, None)
    store.update(rec["Id"], change)
