"""``/networks/...``: bridge networks, through the face's networking door.

docker always lists ``bridge``, ``host`` and ``none``; ``host`` and ``none`` are modes
here, not networks, so they are shown as docker shows them and cannot be removed. A
network is found by name, full id or unique id prefix, as docker finds it. Connecting a
container goes through the face (``Engine.connect``), which wires a running container
at once and records the endpoint for its next start.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pycompose.errors import PycomposeError

from ..engine.api import Conflict, EngineError, InvalidArgument, NotFound
from .context import Context
from .errors import from_netplug
from .filters import Filters
from .http import Reply, Request, empty, json_reply
from .jsondoc import Doc
from .routes import route

_MODES = ("host", "none")
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def _nets(ctx: Context) -> Any:
    from ..engine.api.networks import Networks

    return Networks(ctx.root)


def _netplug(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call netplug through the face; its errors become the engine's kinds."""
    from ..engine.api.networks import NetplugError

    try:
        return fn(*args, **kwargs)
    except NetplugError as e:
        raise from_netplug(e) from e


def _mode_doc(name: str) -> dict[str, Any]:
    nid = hashlib.sha256(f"pycompose-network-{name}".encode()).hexdigest()
    return {"Name": name, "Id": nid, "Created": "0001-01-01T00:00:00Z", "Scope": "local",
            "Driver": name if name == "host" else "null", "EnableIPv4": False,
            "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None,
                                          "Config": []},
            "Internal": False, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
            "Options": {}, "Labels": {}}


def _doc(n: Any) -> dict[str, Any]:
    ipam: dict[str, str] = {"Subnet": n.subnet, "Gateway": n.gateway}
    if n.ip_range and n.ip_range != n.subnet:
        ipam["IPRange"] = n.ip_range
    labels = dict(n.labels)
    if n.scope:
        labels.setdefault("com.docker.compose.project", n.scope)
    prefix = n.subnet.split("/")[1] if "/" in n.subnet else "16"
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local",
        "Driver": "bridge", "EnableIPv4": True, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [ipam]},
        "Internal": n.internal, "Attachable": True, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": {cid: {"Name": a.name, "EndpointID": "", "MacAddress": a.mac,
                             "IPv4Address": f"{a.ip}/{prefix}", "IPv6Address": ""}
                       for cid, a in n.attachments.items()},
        "Options": dict(n.driver_opts), "Labels": labels,
    }


def _all(ctx: Context) -> list[dict[str, Any]]:
    docs = [_doc(n) for n in _netplug(_nets(ctx).list)]
    return docs + [_mode_doc(m) for m in _MODES if not any(d["Name"] == m for d in docs)]


def _find(ctx: Context, ref: str) -> dict[str, Any]:
    docs = _all(ctx)
    for d in docs:
        if ref in (d["Name"], d["Id"]):
            return d
    found = [d for d in docs if d["Id"].startswith(ref)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InvalidArgument(f"network {ref} is ambiguous ({len(found)} matches found on "
                              "id prefix)")
    raise NotFound(f"network {ref} not found")


async def list_networks(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("name", "id", "label", "label!", "driver", "scope", "type",
                         "dangling"))

    def run() -> list[dict[str, Any]]:
        out = []
        for d in _all(ctx):
            if not f.any_match("name", d["Name"], regex=True):
                continue
            if not f.any_match("id", d["Id"], prefix=True):
                continue
            if not f.labels_match(d["Labels"]) or not f.any_match("driver", d["Driver"]):
                continue
            if not f.any_match("scope", "local"):
                continue
            builtin = d["Name"] in ("bridge", *_MODES)
            if "type" in f and not any((t == "builtin") == builtin for t in f.get("type")):
                continue
            dangling = f.boolean("dangling")
            if dangling is not None and (not d["Containers"] and not builtin) != dangling:
                continue
            out.append(d)
        return out
    return json_reply(await ctx.call(run))


async def inspect_network(ctx: Context, req: Request, id: str) -> Reply:
    return json_reply(await ctx.call(_find, ctx, id))


async def create_network(ctx: Context, req: Request) -> Reply:
    body = Doc(await req.json(required=True))
    name = body.text("Name")
    if not name:
        raise InvalidArgument("network name is required")
    if not _NAME.fullmatch(name):  # netplug names bridges and nft sets after it
        raise InvalidArgument(f"network name {name!r} is invalid: pycompose's network "
                              "names are [a-zA-Z0-9][a-zA-Z0-9_.-]* (no spaces)")
    driver = body.text("Driver") or "bridge"
    if driver != "bridge":
        raise InvalidArgument(f"network driver {driver!r} is not supported (only bridge)")
    if name in ("bridge", *_MODES):
        raise Conflict(f"network with name {name} already exists" if name == "bridge"
                       else f"operation is not permitted on predefined {name} network")
    if body.boolean("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported by pycompose")
    ipam = body.doc("IPAM")
    configs = ipam.docs("Config")
    if len(configs) > 1:
        raise InvalidArgument("only one IPAM config (one IPv4 subnet) per network")
    c = configs[0] if configs else Doc({})
    if c.raw("AuxiliaryAddresses"):
        raise InvalidArgument("IPAM AuxiliaryAddresses are not supported by pycompose")

    def run() -> str:
        nets = _nets(ctx)
        if _netplug(nets.exists, name):
            raise Conflict(f"network with name {name} already exists")
        rec = _netplug(nets.ensure, name, subnet=c.text("Subnet") or None,
                       gateway=c.text("Gateway") or None, ip_range=c.text("IPRange") or None,
                       internal=body.boolean("Internal"), labels=body.str_map("Labels"),
                       driver_opts=body.str_map("Options"))
        return str(rec.id)
    return json_reply({"Id": await ctx.call(run), "Warning": ""}, 201)


async def remove_network(ctx: Context, req: Request, id: str) -> Reply:
    def run() -> None:
        d = _find(ctx, id)
        if d["Name"] in ("bridge", *_MODES):
            raise Conflict(f"{d['Name']} is a pre-defined network and cannot be removed")
        if d["Containers"]:
            raise Conflict(f"error while removing network: network {d['Name']} id "
                           f"{d['Id']} has active endpoints")
        _netplug(_nets(ctx).remove, d["Name"])
    await ctx.call(run)
    return empty(204)


async def connect(ctx: Context, req: Request, id: str) -> Reply:
    body = Doc(await req.json(required=True))
    container = body.text("Container")
    if not container:
        raise InvalidArgument("Container is required")
    ep = body.doc("EndpointConfig")
    ipv4 = ep.doc("IPAMConfig").text("IPv4Address") or None
    d = await ctx.call(_find, ctx, id)
    if d["Name"] in _MODES:
        raise InvalidArgument(f"container cannot be disconnected from host network or "
                              f"connected to {d['Name']} network")
    await ctx.call(ctx.engine.connect, d["Name"], container, aliases=ep.strs("Aliases"),
                   ipv4=ipv4)
    return empty(200)


async def disconnect(ctx: Context, req: Request, id: str) -> Reply:
    body = Doc(await req.json(required=True))
    container = body.text("Container")
    if not container:
        raise InvalidArgument("Container is required")
    d = await ctx.call(_find, ctx, id)
    rec = await ctx.call(ctx.engine.container, container)
    asked = (rec.raw.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if rec.id not in d["Containers"] and d["Name"] not in rec.networks \
            and d["Name"] not in asked and d["Name"] != rec.network_mode:
        # docker refuses this even with Force (which is for a stale endpoint)
        raise NotFound(f"container {rec.id} is not connected to network {d['Name']}")
    await ctx.call(ctx.engine.disconnect, d["Name"], container, force=body.boolean("Force"))
    return empty(200)


async def prune(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("label", "label!", "until"))

    def run() -> list[str]:
        removed = []
        for n in _netplug(_nets(ctx).list):
            if n.attachments or n.name == "bridge" or not f.labels_match(dict(n.labels)):
                continue
            try:
                _netplug(_nets(ctx).remove, n.name)
                removed.append(n.name)
            except (EngineError, PycomposeError):
                continue  # in use meanwhile: it stays
        return removed
    removed = await ctx.call(run)
    return json_reply({"NetworksDeleted": removed or None})


ROUTES = [
    route("GET", "/networks", list_networks),
    route("POST", "/networks/create", create_network),
    route("POST", "/networks/prune", prune),
    route("GET", "/networks/{id}", inspect_network),
    route("DELETE", "/networks/{id}", remove_network),
    route("POST", "/networks/{id}/connect", connect),
    route("POST", "/networks/{id}/disconnect", disconnect),
]
