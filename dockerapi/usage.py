"""``GET /system/df``: disk use by images, containers, volumes (docker's shape).

Images come from the store (shared layers counted once in ``LayersSize``), containers
from their records (the size of their own layer), volumes from the volume store with
how many containers use each.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..engine.api import parse_iso
from .context import Context
from .shapes import list_entry


def _du(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def disk_usage_doc(ctx: Context) -> dict[str, Any]:
    from ..engine.api.images import ImageStore
    from ..engine.api.volumes import VolumeStore
    from .images import _tags

    store = ImageStore(ctx.root)
    recs = ctx.engine.containers()
    users: dict[str, int] = {}
    for r in recs:
        users[r.image_id] = users.get(r.image_id, 0) + 1
    layer_size: dict[str, int] = {}
    images = []
    for im in store.images():
        for c in im.chain_ids:
            if c not in layer_size:
                layer_size[c] = store.layer_size(c)
        size = sum(layer_size[c] for c in im.chain_ids)
        tags, digests = _tags(im)
        images.append({"Id": im.id, "ParentId": "", "RepoTags": tags, "RepoDigests": digests,
                       "Created": int(parse_iso(im.created)) if im.created else 0,
                       "Size": size, "SharedSize": -1,
                       "Labels": im.config.get("Labels") or {},
                       "Containers": users.get(im.id, 0)})
    containers = []
    for r in recs:
        rw = _du(r.upper_dir) if r.upper_dir else 0
        containers.append(list_entry(r, (rw, rw)))
    mounts: dict[str, int] = {}
    for r in recs:
        for m in r.mounts:
            if m.get("Type") == "volume" and m.get("Name"):
                mounts[str(m["Name"])] = mounts.get(str(m["Name"]), 0) + 1
    volumes = []
    for v in VolumeStore(ctx.root).list():
        volumes.append({"Name": v["Name"], "Driver": "local",
                        "Mountpoint": v.get("Mountpoint", ""),
                        "CreatedAt": v.get("CreatedAt", ""), "Labels": v.get("Labels") or {},
                        "Scope": "local", "Options": {},
                        "UsageData": {"Size": _du(v.get("Mountpoint") or ""),
                                      "RefCount": mounts.get(v["Name"], 0)}})
    return {"LayersSize": sum(layer_size.values()), "Images": images,
            "Containers": containers, "Volumes": volumes, "BuildCache": []}
