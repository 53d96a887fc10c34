"""The engine's container records as the API's JSON: ``/containers/{id}/json`` and the
entries of ``/containers/json``.

The record on disk is already docker inspect's shape; what differs is made docker's
here: ``HostConfig.Mounts`` as mount objects (the record keeps ``--mount`` text), the
fields docker always has (``NetworkSettings`` of a container that never ran, exposed
ports that are not published, ``ExecIDs``), and the engine's own extras left out.
"""

from __future__ import annotations

from typing import Any

from pycompose.util.humanize import state_text

from ..engine.api import ContainerRecord, parse_iso

#: keys of the record that are the engine's, not docker's
_OWN = ("MountRequests", "Scope", "NetworkingConfig")


def _mount_object(text: str) -> dict[str, Any]:
    """``type=volume,source=v,target=/data,readonly`` as docker's mount object."""
    kv: dict[str, str] = {}
    for item in text.split(","):
        k, sep, v = item.partition("=")
        kv[k] = v if sep else "true"
    out: dict[str, Any] = {"Type": kv.get("type", "volume"), "Source": kv.get("source", ""),
                           "Target": kv.get("target", "")}
    if kv.get("readonly") == "true":
        out["ReadOnly"] = True
    return out


def _endpoint(ep: dict[str, Any]) -> dict[str, Any]:
    base = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
            "DriverOpts": None, "NetworkID": "", "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}
    return {**base, **ep}


def _asked_endpoints(rec: ContainerRecord) -> dict[str, dict[str, Any]]:
    """What the create (or connect) asked of each network: docker's inspect shows the
    asked ``IPAMConfig`` and ``Aliases`` beside the live addresses."""
    cfg = (rec.raw.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    out: dict[str, dict[str, Any]] = {}
    for name, ep in cfg.items():
        if isinstance(ep, dict):
            out[name] = {k: ep[k] for k in ("IPAMConfig", "Aliases") if ep.get(k)}
    return out


def _live_endpoint(live: dict[str, Any], asked: dict[str, Any] | None) -> dict[str, Any]:
    """A running container's endpoint: its live addresses, the asked settings beside
    them. As docker since API 1.45, ``Aliases`` are the asked ones and ``DNSNames``
    every name it answers to (its name and short id too)."""
    ep = {k: v for k, v in live.items() if v not in (None, "", [])}
    if asked is not None:
        names = ep.get("DNSNames") or ep.get("Aliases")
        ep = {**ep, **asked}
        ep["Aliases"] = asked.get("Aliases") or None
        if names:
            ep["DNSNames"] = names
    return _endpoint(ep)


def network_settings(rec: ContainerRecord) -> dict[str, Any]:
    raw = dict(rec.raw.get("NetworkSettings") or {})
    running = rec.status.is_active
    ports: dict[str, Any] = {}
    if running:
        ports = {p: None for p in (rec.raw.get("Config") or {}).get("ExposedPorts") or {}}
        ports.update(raw.get("Ports") or {})
    nets = raw.get("Networks") or {}
    if not running or not nets:
        mode = rec.network_mode or "bridge"
        asked = _asked_endpoints(rec)
        keep = {n: _endpoint({"Aliases": (ep or {}).get("Aliases"), **asked.get(n, {})})
                for n, ep in (nets or {}).items()}
        keep.update({n: _endpoint(ep) for n, ep in asked.items() if n not in keep})
        if not keep and mode not in ("none", "host") and not mode.startswith("container:"):
            keep = {mode: _endpoint({})}
        nets = keep
    else:
        asked = _asked_endpoints(rec)
        nets = {n: _live_endpoint(ep or {}, asked.get(n)) for n, ep in nets.items()}
    out = {"Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": False,
           "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses":
           None, "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "",
           "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
           "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": ""}
    if running:
        out.update({k: v for k, v in raw.items() if k not in ("Ports", "Networks")})
    out["Ports"] = ports
    out["Networks"] = nets
    bridge = nets.get("bridge") if running else None
    if bridge:  # the deprecated top-level fields are the default bridge's, as docker's
        for key in ("IPAddress", "IPPrefixLen", "Gateway", "MacAddress", "EndpointID",
                    "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPv6Gateway"):
            if not out.get(key) and bridge.get(key):
                out[key] = bridge[key]
    return out


def inspect_doc(rec: ContainerRecord, exec_ids: list[str] | None = None) -> dict[str, Any]:
    """``GET /containers/{id}/json``."""
    doc = rec.to_inspect()
    for key in _OWN:
        doc.pop(key, None)
    state = doc.setdefault("State", {})
    state.pop("StartTime", None)
    host = dict(doc.get("HostConfig") or {})
    host["Mounts"] = [_mount_object(m) if isinstance(m, str) else m
                      for m in host.get("Mounts") or []] or None
    host.pop("UidMap", None)
    host.pop("GidMap", None)
    host.setdefault("ConsoleSize", [0, 0])
    host.setdefault("Devices", [])  # records made before devices were kept
    host.setdefault("PublishAllPorts", False)
    host.setdefault("VolumesFrom", None)
    host.setdefault("VolumeDriver", "")
    host.setdefault("CgroupnsMode", "private")
    host.setdefault("PidMode", "")
    host.setdefault("UTSMode", "")
    host.setdefault("Runtime", "runc")
    host.setdefault("Isolation", "")
    host.setdefault("MemorySwappiness", None)  # docker on cgroup v2: always null
    doc["HostConfig"] = host
    cfg = doc.setdefault("Config", {})
    cfg.setdefault("Hostname", rec.id[:12])
    if not cfg.get("Hostname"):
        cfg["Hostname"] = rec.id[:12]
    doc["NetworkSettings"] = network_settings(rec)
    doc.setdefault("ResolvConfPath", "")
    doc.setdefault("HostnamePath", "")
    doc.setdefault("HostsPath", "")
    doc.setdefault("MountLabel", "")
    doc.setdefault("ProcessLabel", "")
    doc.setdefault("AppArmorProfile", "")
    doc["ExecIDs"] = exec_ids or None
    return doc


def port_list(rec: ContainerRecord) -> list[dict[str, Any]]:
    """``Ports`` of a list entry: published bindings with their host side, exposed
    ports alone."""
    out: list[dict[str, Any]] = []
    for key, binds in network_settings(rec)["Ports"].items():
        port, _, proto = key.partition("/")
        if not port.isdigit():
            continue
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in binds:
            host = str(b.get("HostPort") or "")
            entry: dict[str, Any] = {"IP": b.get("HostIp") or "0.0.0.0",
                                     "PrivatePort": int(port), "Type": proto or "tcp"}
            if host.isdigit():
                entry["PublicPort"] = int(host)
            out.append(entry)
    return out


def list_entry(rec: ContainerRecord, size: tuple[int, int] | None = None) -> dict[str, Any]:
    """One entry of ``GET /containers/json``."""
    cmd = " ".join(c for c in rec.command if c)
    nets = network_settings(rec)["Networks"]
    entry: dict[str, Any] = {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": rec.image or rec.image_id,
        "ImageID": rec.image_id, "Command": cmd, "Created": int(parse_iso(rec.created)),
        "Ports": port_list(rec), "Labels": rec.labels, "State": rec.status.value,
        "Status": state_text(rec.raw.get("State") or {}),
        "HostConfig": {"NetworkMode": rec.network_mode or "default"},
        "NetworkSettings": {"Networks": nets},
        "Mounts": [{k: m.get(k) for k in ("Type", "Name", "Source", "Destination",
                                           "Driver", "Mode", "RW", "Propagation")
                    if k in m} for m in rec.mounts],
    }
    if size is not None:
        entry["SizeRw"], entry["SizeRootFs"] = size
    return entry
