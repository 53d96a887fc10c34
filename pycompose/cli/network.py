"""``pycompose network create|ls|inspect|rm|connect|disconnect|prune``, as docker's.

Calls the networking layer through the engine's face (``engine.api.networks``); no
supervisor is needed: networks are kernel objects and a state file. Heavy imports
(pyroute2 comes with the kernel calls) stay inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _kv(items: list[str] | None, what: str) -> dict[str, str]:
    from pycompose.engine.api.networks import NetplugError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not key:
            raise NetplugError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value if sep else ""
    return out


def _nets() -> Any:
    from pycompose.engine.api.networks import Networks

    return Networks()


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    c = sub.add_parser("create", help="Create a network")
    c.add_argument("name", metavar="NETWORK")
    c.add_argument("-d", "--driver", default="bridge", help="only 'bridge'")
    c.add_argument("--subnet")
    c.add_argument("--gateway")
    c.add_argument("--ip-range", dest="ip_range")
    c.add_argument("--internal", action="store_true", help="no access to the outside")
    c.add_argument("--label", action="append", metavar="KEY=VALUE")
    c.add_argument("-o", "--opt", action="append", metavar="KEY=VALUE",
                   help="driver options (kept, not interpreted)")
    c.set_defaults(handler=create)

    ls = sub.add_parser("ls", aliases=["list"], help="List networks")
    ls.add_argument("-q", "--quiet", action="store_true", help="only ids")
    ls.add_argument("--no-trunc", action="store_true")
    ls.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="name=, id=, label=KEY[=VALUE], driver=, scope=, type=custom")
    ls.add_argument("--format", help="a Go-template-like line: {{.ID}} {{.Name}} "
                                     "{{.Driver}} {{.Scope}} {{.Internal}} {{.Labels}}")
    ls.set_defaults(handler=list_)

    i = sub.add_parser("inspect", help="Show networks as JSON")
    i.add_argument("names", nargs="+", metavar="NETWORK")
    i.set_defaults(handler=inspect)

    rm = sub.add_parser("rm", aliases=["remove"], help="Remove networks")
    rm.add_argument("names", nargs="+", metavar="NETWORK")
    rm.set_defaults(handler=remove)

    cn = sub.add_parser("connect", help="Connect a running container to a network")
    cn.add_argument("network", metavar="NETWORK")
    cn.add_argument("container", metavar="CONTAINER")
    cn.add_argument("--ip", help="IPv4 address")
    cn.add_argument("--alias", action="append", default=[], help="network-scoped alias")
    cn.add_argument("--netns", help=argparse.SUPPRESS)   # a namespace path (tests, tools)
    cn.set_defaults(handler=connect)

    dc = sub.add_parser("disconnect", help="Disconnect a container from a network")
    dc.add_argument("network", metavar="NETWORK")
    dc.add_argument("container", metavar="CONTAINER")
    dc.add_argument("-f", "--force", action="store_true")
    dc.set_defaults(handler=disconnect)

    pr = sub.add_parser("prune", help="Remove all unused networks")
    pr.add_argument("-f", "--force", action="store_true", help="do not ask")
    pr.set_defaults(handler=prune)


def create(args: argparse.Namespace) -> int:
    from pycompose.engine.api.networks import NetplugError

    if args.driver != "bridge":
        raise NetplugError(f"network {args.name}: driver {args.driver!r} is not supported "
                           "(only bridge)")
    nets = _nets()
    if nets.exists(args.name):
        raise NetplugError(f"network with name {args.name} already exists")
    net = nets.ensure(args.name, subnet=args.subnet, gateway=args.gateway,
                      ip_range=args.ip_range, internal=args.internal,
                      labels=_kv(args.label, "label"), driver_opts=_kv(args.opt, "option"))
    print(net.id)
    return 0


def _matches(n: Any, filters: list[str]) -> bool:
    """docker's filters: the same key ORs, different keys AND."""
    from pycompose.engine.api.networks import NetplugError

    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or key not in ("name", "id", "label", "driver", "scope", "type"):
            raise NetplugError(f"invalid filter {f!r}")
        by_key.setdefault(key, []).append(value)

    def one(key: str, value: str) -> bool:
        if key == "name":
            return value in n.name
        if key == "id":
            return str(n.id).startswith(value)
        if key == "label":
            k, eq, v = value.partition("=")
            return k in n.labels and (not eq or n.labels[k] == v)
        if key == "driver":
            return value == "bridge"
        if key == "scope":
            return value == "local"
        return (value == "builtin") == (n.name == "bridge")

    return all(any(one(k, v) for v in vs) for k, vs in by_key.items())


def _format(template: str, n: Any, no_trunc: bool) -> str:
    fields = {"ID": n.id if no_trunc else n.id[:12], "Name": n.name, "Driver": "bridge",
              "Scope": "local", "Internal": str(n.internal).lower(), "IPv6": "false",
              "CreatedAt": n.created,
              "Labels": ",".join(f"{k}={v}" for k, v in sorted(n.labels.items()))}
    out = template.replace("\\t", "\t").replace("\\n", "\n")
    for key, value in fields.items():
        for placeholder in ("{{." + key + "}}", "{{ ." + key + " }}"):
            out = out.replace(placeholder, value)
    return out


def list_(args: argparse.Namespace) -> int:
    nets = [n for n in _nets().list() if _matches(n, args.filter)]
    if args.format and args.format != "table":
        for n in nets:
            print(_format(args.format, n, args.no_trunc))
        return 0
    if args.quiet:
        for n in nets:
            print(n.id if args.no_trunc else n.id[:12])
        return 0
    rows = [("NETWORK ID", "NAME", "DRIVER", "SCOPE")]
    rows += [(n.id if args.no_trunc else n.id[:12], n.name, "bridge", "local") for n in nets]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "   " + r[3])
    return 0


def _docker_json(n: Any) -> dict[str, Any]:
    ipam: dict[str, str] = {"Subnet": n.subnet, "Gateway": n.gateway}
    if n.ip_range != n.subnet:
        ipam["IPRange"] = n.ip_range
    labels = dict(n.labels)
    if n.scope:
        labels.setdefault("com.docker.compose.project", n.scope)
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local",
        "Driver": "bridge", "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [ipam]},
        "Internal": n.internal, "Attachable": True,
        "Containers": {cid: {"Name": a.name, "MacAddress": a.mac,
                             "IPv4Address": f"{a.ip}/{n.subnet.split('/')[1]}",
                             "IPv6Address": ""}
                       for cid, a in n.attachments.items()},
        "Options": dict(n.driver_opts), "Labels": labels,
    }


def inspect(args: argparse.Namespace) -> int:
    from pycompose.engine.api.networks import NetworkNotFound

    nets = _nets()
    out, code = [], 0
    for name in args.names:
        try:
            out.append(_docker_json(nets.inspect(name)))
        except NetworkNotFound as e:
            print(f"error: {e}", file=sys.stderr)
            code = 1
    print(json.dumps(out, indent=4))
    return code


def remove(args: argparse.Namespace) -> int:
    from pycompose.engine.api.networks import NetplugError

    nets = _nets()
    code = 0
    for name in args.names:
        try:
            nets.remove(name)
            print(name)
        except NetplugError as e:
            print(f"error: {e}", file=sys.stderr)
            code = 1
    return code


def connect(args: argparse.Namespace) -> int:
    """docker's ``network connect``: through the engine, which wires a running
    container now and a stopped one at its start, and keeps it in the record (inspect
    shows it, a restart wires it again). ``--netns PATH`` wires a bare namespace."""
    if not args.netns:
        from pycompose.engine.api import Engine

        Engine().connect(args.network, args.container, aliases=args.alias or None,
                         ipv4=args.ip)
        return 0
    nets = _nets()
    nets.inspect(args.network)                    # a clear error first if it is missing
    taken = {a.ifname for a in nets.attachments(args.container).values()}
    ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in taken)
    nets.attach(args.network, args.container, args.netns, ifname, ipv4_address=args.ip,
                aliases=[args.container, *args.alias], container_name=args.container)
    return 0


def disconnect(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, NotFound
    from pycompose.engine.api.networks import NetplugError

    try:
        Engine().disconnect(args.network, args.container, force=args.force)
        return 0
    except NotFound:
        pass  # not an engine container's endpoint: a bare namespace's (--netns)?
    nets = _nets()
    net = nets.inspect(args.network)
    cid = next((c for c, a in net.attachments.items()
                if args.container in (c, a.name) or c.startswith(args.container)), None)
    if cid is None:
        if args.force:
            return 0
        raise NetplugError(f"container {args.container} is not connected to network "
                           f"{args.network}")
    nets.detach(args.network, cid)
    return 0


def prune(args: argparse.Namespace) -> int:
    if not args.force and sys.stdin.isatty():
        answer = input("WARNING! This will remove all custom networks not used by at least "
                       "one container.\nAre you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    removed = _nets().prune()
    if removed:
        print("Deleted Networks:")
        print("\n".join(removed))
    return 0
