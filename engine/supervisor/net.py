"""The engine's one door to netplug: wire a container's network namespace into a
network between the runtime's create and start, publish its ports, and undo both when
the container is removed.

Which containers get a network: ``--network NAME`` (``bridge``/``default`` = docker's
default bridge), and without ``--network`` the default bridge, as docker does (a way
out through NAT, the host's resolver). ``--network none`` is a namespace with ``lo``
(up) only, ``host`` the host's. netplug is imported only here.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from pycompose.util.besteffort import best_effort

from ..api.requests import PortBinding
from ..containers import Record
from ..errors import NotFound, Unavailable
from ..neterrors import netplug_error

log = logging.getLogger("pycompose.supervisor")

NO_ATTACH = ("none", "host")


def endpoints(rec: Record) -> list[tuple[str, dict[str, Any]]]:
    """The networks ``rec`` is attached to, in order (the first one's gateway is the
    default route), each with its endpoint settings; [] for none/host/container:X."""
    eps = (rec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if eps:
        return [(n, dict(e or {})) for n, e in eps.items()]
    mode = rec["HostConfig"].get("NetworkMode") or "none"
    if mode in NO_ATTACH or mode.startswith("container:"):
        return []
    return [("bridge" if mode == "default" else mode, {})]


def network_of(rec: Record) -> str | None:
    """The first network of ``rec``, None when it is attached to none."""
    eps = endpoints(rec)
    return eps[0][0] if eps else None


def port_bindings_of(host: dict[str, Any]) -> list[PortBinding]:
    """HostConfig.PortBindings back as bindings (for netplug at start)."""
    out = []
    for key, entries in (host.get("PortBindings") or {}).items():
        port, _, proto = key.partition("/")
        for e in entries or []:
            lo, _, hi = str(e.get("HostPort") or "").partition("-")
            out.append(PortBinding(str(e.get("HostIp") or ""), int(lo) if lo else None,
                                   int(port), proto or "tcp", int(hi) if hi else None))
    return out


def etc_file(spec_root: str, target: str) -> Path:
    """Where the runtime writes the /etc file it bind-mounts (spec.root/etc/<name>)."""
    return Path(spec_root, "etc", re.sub(r"[^A-Za-z0-9._-]", "_", target.strip("/")))


def _rewrite(path: Path, text: str) -> None:
    """In place, not by rename: the container sees this inode through a bind mount."""
    with open(path, "r+") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def _names(rec: Record) -> dict[str, Any]:
    """What every attachment of ``rec`` records about it (for DNS and links)."""
    host = rec["HostConfig"]
    links = {}
    for link in host.get("Links") or []:
        target, _, alias = link.partition(":")
        links[alias or target] = target
    return {"container_name": rec["Name"].lstrip("/"), "links": links,
            "project": rec.get("Scope"),  # the group whose namespace holds its networks
            "dns": host.get("Dns") or []}


def _aliases(rec: Record, ep: dict[str, Any]) -> list[str]:
    hostname = rec["Config"]["Hostname"] or rec["Id"][:12]
    return list(dict.fromkeys([*(ep.get("Aliases") or []), rec["Name"].lstrip("/"),
                               hostname]))


def connect(root: Path, rec: Record, network: str, aliases: list[str],
            ipv4: str | None) -> dict[str, Any]:
    """``network connect`` of a running container: its namespace wired into one more
    network (the next free ``ethN``); returns the endpoint for NetworkSettings."""
    from ...netplug import NetplugError, Networks

    nets = Networks(root)
    cid = rec["Id"]
    if network == "bridge" and not nets.ready(network):
        nets.ensure_default()
    elif not nets.exists(network):
        raise NotFound(f"network {network} not found")
    taken = {a.ifname for a in nets.attachments(cid).values()}
    ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in taken)
    ep = {"Aliases": aliases}
    names = _aliases(rec, ep)
    pid = int(rec["State"].get("Pid") or 0)
    try:
        att = nets.attach(network, cid, f"/proc/{pid}/ns/net", ifname, ipv4_address=ipv4,
                          aliases=names, **_names(rec))
    except NetplugError as e:
        raise netplug_error(e, f"network {network}: ") from e
    return {"IPAddress": att.ip, "IPPrefixLen": att.prefixlen, "Gateway": att.gateway or "",
            "MacAddress": att.mac, "Aliases": names}


def disconnect(root: Path, rec: Record, network: str) -> None:
    """``network disconnect`` of a running container."""
    from ...netplug import NetplugError, Networks

    try:
        Networks(root).detach(network, rec["Id"])
    except NetplugError as e:
        raise netplug_error(e, f"network {network}: ") from e


def take_prepared(root: Path, rec: Record) -> Any:
    """A network namespace already wired into the default bridge for ``rec`` (netplug's
    spares.py), or None: the container's launcher joins it instead of making one, and
    nothing is wired while the user waits. Only for a container whose one network is
    the default bridge and which has no address there yet, and not in a user
    namespace (it could not join a namespace the host's root owns: it unshares one of
    its own, wired from outside). Blocking (a state write)."""
    eps = endpoints(rec)
    if len(eps) != 1 or eps[0][0] != "bridge" or eps[0][1] or rec["HostConfig"].get("UidMap"):
        return None
    from ...netplug import NetplugError, Networks, spares

    _refill.enabled = True
    try:
        return spares.take(Networks(root), "bridge", rec["Id"], aliases=_aliases(rec, {}),
                           **_names(rec))
    except NetplugError as e:
        raise netplug_error(e, "network bridge: ") from None


def forget_prepared(taken: Any) -> None:
    """After the launcher joined the prepared namespace (or failed to): drop its name,
    so that it lives exactly as long as the container's processes."""
    from ...netplug import spares

    try:
        spares.forget(taken)
    except Exception as e:  # a name left behind is found again by spares.drop_all
        log.warning("dropping the name of %s: %s", taken.netns, e)


class _Refill:
    """The one background thread that makes the next spare (see take_prepared)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enabled = False
        self.thread: threading.Thread | None = None

    def soon(self, root: Path) -> None:
        with self.lock:
            if not self.enabled or (self.thread is not None and self.thread.is_alive()):
                return
            self.thread = threading.Thread(target=self._make, args=(root,), daemon=True,
                                           name="spare-netns")
            self.thread.start()

    @staticmethod
    def _make(root: Path) -> None:
        from ...netplug import Networks, spares

        try:
            spares.make(Networks(root), "bridge")
        except Exception as e:
            log.warning("preparing a network namespace for the next container: %s", e)

    def stop(self, root: Path) -> None:
        with self.lock:
            self.enabled = False
            thread = self.thread
        if thread is not None:
            thread.join()
        if (root / "networks").exists():
            from ...netplug import Networks, spares

            spares.drop_all(Networks(root))


_refill = _Refill()


def refill_soon(root: Path) -> None:
    """Make the next prepared namespace in the background, once a container took one
    (called when a request is answered, so that it never competes with one)."""
    _refill.soon(root)


def drop_prepared(root: Path) -> None:
    """Stop making prepared namespaces and remove those that wait (the supervisor
    leaves; a new one removes what a killed one left)."""
    _refill.stop(root)


def remove_root_objects(rid: str) -> None:
    """The namespaces, links and nft table of root id ``rid`` (a root that is gone),
    by their names."""
    from ...netplug.networks import remove_root_objects as remove

    try:
        remove(rid)
    except Exception as e:
        raise netplug_error(e, f"network objects of root {rid}: ") from None


def attach(root: Path, rec: Record, pid: int, spec_root: str,
           taken: Any = None) -> dict[str, Any]:
    """Wire the container (PID 1 = ``pid``, not yet exec'd) into its networks and
    publish its ports; returns docker's ``NetworkSettings``. ``taken``: the namespace
    the container joined came from take_prepared, already wired into its first
    network. Blocking: called in the worker thread."""
    eps = endpoints(rec)
    if not eps:
        return {}
    try:
        from ...netplug import (
            NetplugError,
            Networks,
            hosts_file_for,
            resolv_conf_for,
        )
    except ImportError as e:
        raise Unavailable(f"networking is unavailable: {e}")
    nets = Networks(root)
    cid = rec["Id"]
    hostname = rec["Config"]["Hostname"] or cid[:12]
    host = rec["HostConfig"]
    settings: dict[str, Any] = {"Networks": {}, "Ports": {}}
    atts = []
    try:
        for i, (name, ep) in enumerate(eps):
            aliases = _aliases(rec, ep)
            if i == 0 and taken is not None:
                att = taken.attachment
            else:
                if name == "bridge":
                    if not nets.ready(name):
                        nets.ensure_default()
                elif not nets.exists(name):
                    raise NotFound(f"network {name} not found")
                att = nets.attach(name, cid, f"/proc/{pid}/ns/net", f"eth{i}",
                                  ipv4_address=(ep.get("IPAMConfig") or {}).get("IPv4Address"),
                                  mac=ep.get("MacAddress"), aliases=aliases, **_names(rec))
            atts.append(att)
            settings["Networks"][name] = {
                "IPAddress": att.ip, "IPPrefixLen": att.prefixlen,
                "Gateway": att.gateway or "", "MacAddress": att.mac, "Aliases": aliases}
        first = atts[0]
        bindings = port_bindings_of(host)
        published = nets.publish(cid, first.ip, bindings) if bindings else []
        _rewrite(etc_file(spec_root, "/etc/hosts"), hosts_file_for(
            hostname, [a.ip for a in atts], extra_hosts=host.get("ExtraHosts") or []))
        if eps[0][0] != "bridge" and first.gateway:  # names resolve on user networks
            _rewrite(etc_file(spec_root, "/etc/resolv.conf"), resolv_conf_for(
                nameservers=[first.gateway], dns_search=host.get("DnsSearch") or [],
                dns_opt=host.get("DnsOptions") or []))
    except NetplugError as e:
        where = f"network {eps[len(atts)][0]}: " if len(atts) < len(eps) else ""
        raise netplug_error(e, where) from e
    for b in published:
        settings["Ports"].setdefault(f"{b.container_port}/{b.proto}", []).append(
            {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
    settings.update(IPAddress=first.ip, Gateway=first.gateway or "")
    return settings


def release(root: Path, rec: Record) -> None:
    """Free what a removed container had on its networks (addresses, published ports),
    found by its id in the networks' state, so a damaged record loses nothing, and
    delete its links: the kernel deletes them with its namespace only when no other
    container holds that namespace (``--network container:ID``, compose's
    ``network_mode: service:X``), and a link left there would keep an address the
    network gives to the next container."""
    if not endpoints(rec) and not (rec.get("Damaged") and (root / "networks").exists()):
        return
    try:
        from ...netplug import Networks
    except ImportError:
        return
    with best_effort(log, "release the addresses and ports of %s", rec["Id"][:12]):
        Networks(root).release(rec["Id"])


def services(root: Path) -> Any:
    """netplug's one task for the supervisor: DNS of every network and the userland
    port proxies (``await svc.run()``, ``svc.notify()`` when networks change)."""
    from ...netplug import Networks, NetworkServices

    return NetworkServices(Networks(root))


def drop_idle_default(root: Path) -> None:
    """Remove docker's default ``bridge`` when no container is attached to it, and with
    it (when it was the last standalone network) its namespace, uplink and nft table.
    Called by a supervisor leaving with nothing held: docker keeps docker0 forever, but
    a daemonless tool must not leave kernel objects behind; the next ``run -p`` makes it
    again (~0.2 s). Networks made with ``network create`` stay."""
    if not (root / "networks").exists():
        return
    try:
        from ...netplug import Networks
    except ImportError:
        return
    nets = Networks(root)
    if nets.exists("bridge") and not nets.inspect("bridge").attachments:
        from ...netplug import spares

        spares.drop_all(nets)
        nets.remove("bridge")
