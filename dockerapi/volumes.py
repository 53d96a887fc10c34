"""``/volumes/...``: named volumes of the local driver, through the face's store."""

from __future__ import annotations

from typing import Any

from ..engine.api import InvalidArgument
from .context import Context
from .filters import Filters
from .http import Reply, Request, empty, json_reply
from .jsondoc import Doc
from .routes import route

ANON_LABEL = "com.docker.volume.anonymous"


def _store(ctx: Context) -> Any:
    from ..engine.api.volumes import VolumeStore

    return VolumeStore(ctx.root)


def _doc(v: dict[str, Any]) -> dict[str, Any]:
    return {"Name": v["Name"], "Driver": v.get("Driver", "local"),
            "Mountpoint": v.get("Mountpoint", ""), "CreatedAt": v.get("CreatedAt", ""),
            "Labels": v.get("Labels") or {}, "Scope": v.get("Scope", "local"),
            "Options": v.get("Options") or {}}


def _used(ctx: Context) -> set[str]:
    used: set[str] = set()
    for r in ctx.engine.containers():
        for m in r.mounts:
            if m.get("Type") == "volume" and m.get("Name"):
                used.add(str(m["Name"]))
    return used


async def list_volumes(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("name", "label", "label!", "dangling", "driver"))

    def run() -> dict[str, Any]:
        used = _used(ctx) if "dangling" in f else set()
        dangling = f.boolean("dangling")
        out = []
        for v in _store(ctx).list():
            if not f.any_match("name", v["Name"], regex=True):
                continue
            if not f.labels_match(v.get("Labels") or {}):
                continue
            if not f.any_match("driver", v.get("Driver", "local")):
                continue
            if dangling is not None and (v["Name"] not in used) != dangling:
                continue
            out.append(_doc(v))
        return {"Volumes": out, "Warnings": None}
    return json_reply(await ctx.call(run))


async def create_volume(ctx: Context, req: Request) -> Reply:
    body = Doc(await req.json())
    driver = body.text("Driver") or "local"
    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported (only local)")
    opts = body.str_map("DriverOpts")
    if opts:
        raise InvalidArgument(f"volume options {sorted(opts)} are not supported by the "
                              "local driver of pycompose")
    name = body.text("Name") or None
    labels = body.str_map("Labels")
    v = await ctx.call(_store(ctx).create, name, labels)
    return json_reply(_doc(v), 201)


async def inspect_volume(ctx: Context, req: Request, name: str) -> Reply:
    return json_reply(_doc(await ctx.call(_store(ctx).get, name)))


async def remove_volume(ctx: Context, req: Request, name: str) -> Reply:
    await ctx.call(_store(ctx).remove, name, force=req.flag("force"))
    return empty(204)


async def prune_volumes(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("label", "label!", "all"))

    def run() -> dict[str, Any]:
        import os

        store = _store(ctx)
        every = bool(f.boolean("all"))
        used = _used(ctx)
        removed, space = [], 0
        for v in store.list():
            anonymous = ANON_LABEL in (v.get("Labels") or {})
            if v["Name"] in used or not (every or anonymous):
                continue
            if not f.labels_match(v.get("Labels") or {}):
                continue
            size = 0
            for dirpath, _d, files in os.walk(v.get("Mountpoint") or ""):
                for n in files:
                    try:
                        size += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
                    except OSError:
                        continue
            try:
                store.remove(v["Name"])
            except Exception:  # in use meanwhile: it stays, as docker's prune leaves it
                continue
            removed.append(v["Name"])
            space += size
        return {"VolumesDeleted": removed or None, "SpaceReclaimed": space}
    return json_reply(await ctx.call_slow(run))


ROUTES = [
    route("GET", "/volumes", list_volumes),
    route("POST", "/volumes/create", create_volume),
    route("POST", "/volumes/prune", prune_volumes),
    route("GET", "/volumes/{name}", inspect_volume),
    route("DELETE", "/volumes/{name}", remove_volume),
]
