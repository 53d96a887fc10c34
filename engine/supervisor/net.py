"""The engine's one door to netplug: wire a container's network namespace into a
network between the runtime's create and start, publish its ports, and undo both when
the container is removed.

Which containers get a network: ``--network NAME`` (``bridge``/``default`` = docker's
default bridge), or ``-p`` without ``--network`` (the default bridge, so that docker's
``run -d -p 8080:80 httpd`` works). Without either, the container's namespace holds only
``lo`` (and ``--network host|none`` as docker). netplug is imported only here, and only
for containers that need it: a plain ``run`` never pays pyroute2's import.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Any

from ..containers import Record
from ..errors import NotFound, Unavailable
from ..networks import netplug_error

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


def etc_file(spec_root: str, target: str) -> Path:
    """Where the runtime writes the /etc file it bind-mounts (spec.root/etc/<name>)."""
    return Path(spec_root, "etc", re.sub(r"[^A-Za-z0-9._-]", "_", target.strip("/")))


def _rewrite(path: Path, text: str) -> None:
    """In place, not by rename: the container sees this inode through a bind mount."""
    with open(path, "r+") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def attach(root: Path, rec: Record, pid: int, spec_root: str) -> dict[str, Any]:
    """Wire the container (PID 1 = ``pid``, not yet exec'd) into its networks and
    publish its ports; returns docker's ``NetworkSettings``. Blocking: called in the
    worker thread."""
    eps = endpoints(rec)
    if not eps:
        return {}
    try:
        from pycompose.netplug import (
            NetplugError,
            Networks,
            hosts_file_for,
            resolv_conf_for,
        )
    except ImportError as e:
        raise Unavailable(f"networking is unavailable: {e}")
    nets = Networks(root)
    cid = rec["Id"]
    cname = rec["Name"].lstrip("/")
    hostname = rec["Config"]["Hostname"] or cid[:12]
    host = rec["HostConfig"]
    project = rec.get("Scope")  # the group whose namespace holds its networks
    links = {}
    for link in host.get("Links") or []:
        target, _, alias = link.partition(":")
        links[alias or target] = target
    settings: dict[str, Any] = {"Networks": {}, "Ports": {}}
    atts = []
    try:
        for i, (name, ep) in enumerate(eps):
            if name == "bridge":
                nets.ensure_default()
            elif not nets.exists(name):
                raise NotFound(f"network {name} not found")
            aliases = list(dict.fromkeys([*(ep.get("Aliases") or []), cname, hostname]))
            att = nets.attach(name, cid, f"/proc/{pid}/ns/net", f"eth{i}",
                              ipv4_address=(ep.get("IPAMConfig") or {}).get("IPv4Address"),
                              mac=ep.get("MacAddress"), aliases=aliases,
                              container_name=cname, links=links, project=project,
                              dns=host.get("Dns") or [])
            atts.append(att)
            settings["Networks"][name] = {
                "IPAddress": att.ip, "IPPrefixLen": att.prefixlen,
                "Gateway": att.gateway or "", "MacAddress": att.mac, "Aliases": aliases}
        first = atts[0]
        from .build import port_bindings_of

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
    """Unpublish and detach a removed container (its addresses are freed)."""
    eps = endpoints(rec)
    if not eps:
        return
    try:
        from pycompose.netplug import Networks
    except ImportError:
        return
    nets = Networks(root)
    with contextlib.suppress(Exception):
        nets.unpublish(rec["Id"])
    for name, _ in eps:
        try:
            nets.detach(name, rec["Id"])
        except Exception as e:
            log.warning("detach %s from %s: %s", rec["Id"][:12], name, e)


def drop_idle_default(root: Path) -> None:
    """Remove docker's default ``bridge`` when no container is attached to it, and with
    it (when it was the last standalone network) its namespace, uplink and nft table.
    Called by a supervisor leaving with nothing held: docker keeps docker0 forever, but
    a daemonless tool must not leave kernel objects behind; the next ``run -p`` makes it
    again (~0.2 s). Networks made with ``network create`` stay."""
    if not (root / "networks").exists():
        return
    try:
        from pycompose.netplug import Networks
    except ImportError:
        return
    nets = Networks(root)
    if nets.exists("bridge") and not nets.inspect("bridge").attachments:
        nets.remove("bridge")
