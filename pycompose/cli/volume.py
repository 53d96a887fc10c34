"""``pycompose volume ...``: create, ls, inspect, rm, prune. Reads and writes the state
root directly (``engine.volumes``, stdlib only): no supervisor is needed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pycompose.engine.api.volumes import VolumeStore


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    c = sub.add_parser("create", help="create a volume")
    c.add_argument("name", nargs="?", metavar="VOLUME")
    c.add_argument("--name", dest="name_opt", help="volume name")
    c.add_argument("-d", "--driver", default="local")
    c.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE")
    c.set_defaults(handler=cmd_create)

    ls = sub.add_parser("ls", aliases=["list"], help="list volumes")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", help="table (default) or json")
    ls.add_argument("-f", "--filter", action="append", default=[],
                    help="name=, label=, dangling=true|false")
    ls.set_defaults(handler=cmd_ls)

    i = sub.add_parser("inspect", help="detailed information on volumes")
    i.add_argument("names", nargs="+", metavar="VOLUME")
    i.set_defaults(handler=cmd_inspect)

    rm = sub.add_parser("rm", aliases=["remove"], help="remove volumes")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("names", nargs="+", metavar="VOLUME")
    rm.set_defaults(handler=cmd_rm)

    pr = sub.add_parser("prune", help="remove unused anonymous volumes (-a: all unused)")
    pr.add_argument("-a", "--all", action="store_true")
    pr.add_argument("-f", "--force", action="store_true")
    pr.set_defaults(handler=cmd_prune)


def _store() -> VolumeStore:
    from pycompose.engine.api.volumes import VolumeStore
    from pycompose.util.paths import state_root

    return VolumeStore(state_root())


def _kv(items: list[str]) -> dict[str, str]:
    out = {}
    for i in items:
        k, _, v = i.partition("=")
        out[k] = v
    return out


def cmd_create(args: argparse.Namespace) -> int:
    from pycompose.engine.api import EngineError

    if args.driver != "local":
        raise EngineError(f"volume driver {args.driver!r} is not available: only 'local'")
    v = _store().create(args.name or args.name_opt, _kv(args.label), _kv(args.opt) or None)
    print(v["Name"])
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    vols = store.list()
    for f in args.filter:
        k, _, val = f.partition("=")
        if k == "name":
            vols = [v for v in vols if val in v["Name"]]
        elif k == "label":
            lk, eq, lv = val.partition("=")
            vols = [v for v in vols if lk in v["Labels"] and (not eq or v["Labels"][lk] == lv)]
        elif k == "dangling":
            want = val in ("true", "1")
            vols = [v for v in vols if (not store.users(v["Name"])) == want]
    if args.quiet:
        for v in vols:
            print(v["Name"])
    elif args.format == "json":
        for v in vols:
            print(json.dumps({"Driver": v["Driver"], "Labels": v["Labels"], "Name": v["Name"],
                              "Mountpoint": v["Mountpoint"], "Scope": v["Scope"]}))
    else:
        print(f"{'DRIVER':<10}VOLUME NAME")
        for v in vols:
            print(f"{v['Driver']:<10}{v['Name']}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from pycompose.engine.api import NotFound

    store = _store()
    out, code = [], 0
    for n in args.names:
        try:
            out.append(store.get(n))
        except NotFound as e:
            print(f"Error: {e}", file=sys.stderr)
            code = 1
    print(json.dumps(out, indent=4))
    return code


def cmd_rm(args: argparse.Namespace) -> int:
    from pycompose.engine.api import EngineError

    store = _store()
    code = 0
    for n in args.names:
        try:
            store.remove(n, force=args.force)
            print(n)
        except EngineError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    import os

    if not args.force and os.isatty(0):
        ans = input("WARNING! This will remove anonymous local volumes not used by at least "
                    "one container.\nAre you sure you want to continue? [y/N] ")
        if ans.strip().lower() not in ("y", "yes"):
            return 0
    removed = _store().prune(all_volumes=args.all)
    if removed:
        print("Deleted Volumes:\n" + "\n".join(removed) + "\n")
    print(f"Total reclaimed volumes: {len(removed)}")
    return 0
