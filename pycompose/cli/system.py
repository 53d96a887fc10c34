"""``pycompose system ...``: calls the engine directly. Heavy imports inside handlers.

``system df`` sums up disk use by kind. Each kind is one provider in ``DF_PROVIDERS``:
a function ``(root) -> DfRow``. Images come from the image store; the container and
volume rows read the engine's on-disk records (``$ROOT/containers/<id>/state.json``,
``$ROOT/volumes/<name>/``) -- the seam where the container and volume code may plug in
a provider of their own (replace the entry; keep the row shape).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    s = sub.add_parser("df", help="Show disk usage: images, containers, volumes")
    s.add_argument("-v", "--verbose", action="store_true", help="one line per object")
    s.add_argument("--format", help="'table' (default) or 'json'")
    s.set_defaults(handler=cmd_df)
    from .apiservice import register as register_service

    register_service(sub)


@dataclass
class DfRow:
    type: str
    total: int = 0
    active: int = 0
    size: int = 0
    reclaimable: int = 0
    #: for -v: (name, size, extra columns...) per object
    items: list[dict[str, Any]] = field(default_factory=list)


def _du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                continue
    return total


def _records(root: Path) -> list[dict[str, Any]]:
    out = []
    for state in sorted((root / "containers").glob("*/state.json")):
        try:
            rec = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def images_row(root: Path) -> DfRow:
    from pycompose.engine.api.images import ImageStore, familiar_name

    store = ImageStore(root)
    in_use = store.image_in_use
    row = DfRow("Images")
    sizes: dict[str, int] = {}
    active_chains: set[str] = set()
    for im in store.images():
        row.total += 1
        chains = im.chain_ids
        if im.id in in_use:
            row.active += 1
            active_chains.update(chains)
        for c in chains:
            if c not in sizes:
                sizes[c] = store.layer_size(c)
        names = [familiar_name(t) for t in im.repo_tags]
        row.items.append({"Repository": ",".join(names) or "<none>", "ID": im.short_id,
                          "Size": sum(sizes[c] for c in chains),
                          "Containers": 1 if im.id in in_use else 0})
    row.size = sum(sizes.values())  # shared layers counted once
    row.reclaimable = sum(s for c, s in sizes.items() if c not in active_chains)
    return row


def containers_row(root: Path) -> DfRow:
    row = DfRow("Containers")
    for rec in _records(root):
        row.total += 1
        running = bool((rec.get("State") or {}).get("Running"))
        upper = ((rec.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")
        size = _du(Path(upper)) if upper else 0
        row.size += size
        if running:
            row.active += 1
        else:
            row.reclaimable += size
        row.items.append({"Name": str(rec.get("Name", "")).lstrip("/"),
                          "ID": str(rec.get("Id", ""))[:12], "Size": size})
    return row


def volumes_row(root: Path) -> DfRow:
    row = DfRow("Local Volumes")
    used: set[str] = set()
    for rec in _records(root):
        for m in rec.get("Mounts") or []:
            if isinstance(m, dict) and m.get("Type") == "volume" and m.get("Name"):
                used.add(str(m["Name"]))
    vdir = root / "volumes"
    for d in sorted(vdir.iterdir()) if vdir.is_dir() else []:
        if not d.is_dir() or d.name.startswith("."):
            continue
        row.total += 1
        size = _du(d / "_data") if (d / "_data").is_dir() else _du(d)
        row.size += size
        if d.name in used:
            row.active += 1
        else:
            row.reclaimable += size
        row.items.append({"Name": d.name, "Size": size, "Links": int(d.name in used)})
    return row


def build_cache_row(root: Path) -> DfRow:
    from pycompose.engine.api.build import cache_usage

    records, size = cache_usage(root)
    return DfRow("Build Cache", total=records, active=0, size=size, reclaimable=size)


DF_PROVIDERS: list[Callable[[Path], DfRow]] = [images_row, containers_row, volumes_row,
                                               build_cache_row]


def cmd_df(args: argparse.Namespace) -> int:
    from pycompose.cli.render import table
    from pycompose.util.humanize import human_size
    from pycompose.util.paths import state_root

    root = state_root()
    rows = [provider(root) for provider in DF_PROVIDERS]
    if args.format == "json":
        for r in rows:
            print(json.dumps({"Type": r.type, "TotalCount": r.total, "Active": r.active,
                              "Size": human_size(r.size),
                              "Reclaimable": _reclaim(r, human_size)}))
        return 0
    body = [[r.type, str(r.total), str(r.active), human_size(r.size), _reclaim(r, human_size)]
            for r in rows]
    print(table([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], *body]))
    if args.verbose:
        for r in rows:
            print(f"\n{r.type} space usage:\n")
            if not r.items:
                continue
            keys = list(r.items[0])
            print(table([[k.upper() for k in keys]] + [
                [human_size(i[k]) if k == "Size" else str(i[k]) for k in keys]
                for i in r.items]))
    return 0


def _reclaim(r: DfRow, human_size: Callable[[float], str]) -> str:
    pct = f" ({round(100 * r.reclaimable / r.size)}%)" if r.size else ""
    return human_size(r.reclaimable) + pct
