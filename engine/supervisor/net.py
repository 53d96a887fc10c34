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
from ..errors import EngineError, NotFound

log = logging.getLogger("pycompose.supervisor")

NO_ATTACH = ("none", "host")


def network_of(rec: Record) -> str | None:
    """The network ``rec`` is attached to, None for none/host (no attach)."""
    mode = rec["HostConfig"].get("NetworkMode") or "none"
    if mode in NO_ATTACH:
        return None
    return "bridge" if mode == "default" else mode


def _etc(spec_root: str, target: str) -> Path:
    # where the runtime writes the /etc files it bind-mounts (spec.root/etc/<name>)
    return Path(spec_root, "etc", re.sub(r"[^A-Za-z0-9._-]", "_", target.strip("/")))


def _rewrite(path: Path, text: str) -> None:
    """In place, not by rename: the container sees this inode through a bind mount."""
    with open(path, "r+") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def attach(root: Path, rec: Record, pid: int, spec_root: str) -> dict[str, Any]:
    """Wire the container (PID 1 = ``pid``, not yet exec'd) and publish its ports;
    returns docker's ``NetworkSettings``. Blocking: called in the worker thread."""
    name = network_of(rec)
    if name is None:
        return {}
    try:
        from pycompose.netplug import (
            NetplugError,
            Networks,
            hosts_file_for,
            parse_port,
            resolv_conf_for,
        )
    except ImportError as e:
        raise EngineError(f"networking is unavailable: {e}", exit_code=125)
    nets = Networks(root)
    cid = rec["Id"]
    cname = rec["Name"].lstrip("/")
    hostname = rec["Config"]["Hostname"] or cid[:12]
    try:
        if name == "bridge":
            nets.ensure_default()
        elif not nets.exists(name):
            raise NotFound(f"network {name} not found", exit_code=125)
        att = nets.attach(name, cid, f"/proc/{pid}/ns/net", "eth0",
                          aliases=[cname, hostname], container_name=cname)
        bindings = []
        for spec in rec["HostConfig"].get("PublishSpecs") or []:
            bindings += parse_port(spec)
        published = nets.publish(cid, att.ip, bindings) if bindings else []
        _rewrite(_etc(spec_root, "/etc/hosts"), hosts_file_for(hostname, [att.ip]))
        if name != "bridge" and att.gateway:  # docker: names resolve on user networks
            _rewrite(_etc(spec_root, "/etc/resolv.conf"),
                     resolv_conf_for(nameservers=[att.gateway]))
    except NetplugError as e:
        raise EngineError(f"network {name}: {e}", exit_code=125)
    ports: dict[str, list[dict[str, str]]] = {}
    for b in published:
        ports.setdefault(f"{b.container_port}/{b.proto}", []).append(
            {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
    return {"Networks": {name: {"IPAddress": att.ip, "IPPrefixLen": att.prefixlen,
                                "Gateway": att.gateway or "", "MacAddress": att.mac,
                                "Aliases": [cname, hostname]}},
            "IPAddress": att.ip, "Gateway": att.gateway or "", "Ports": ports}


def release(root: Path, rec: Record) -> None:
    """Unpublish and detach a removed container (its address is freed)."""
    name = network_of(rec)
    if name is None:
        return
    try:
        from pycompose.netplug import Networks
    except ImportError:
        return
    nets = Networks(root)
    with contextlib.suppress(Exception):
        nets.unpublish(rec["Id"])
    try:
        nets.detach(name, rec["Id"])
    except Exception as e:
        log.warning("detach %s from %s: %s", rec["Id"][:12], name, e)
