"""``/containers/...``: thin handlers over the face (create, start, stop, list...).

Each handler reads the request's parameters into the face's types, makes one face
call (in a worker thread: the face blocks), and writes the record back as docker's
JSON (:mod:`.shapes`). docker's status codes for states: a start of a running container
or a stop of a stopped one is ``304``; a kill, pause or exec of a container that is not
running is ``409``. Attach, logs, wait, archives and stats have modules of their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from typing import Any

import trio

from ..engine.api import (
    Conflict,
    ContainerRecord,
    EngineError,
    InvalidArgument,
    NotFound,
    Status,
    aio,
)
from . import attach, create
from .context import Context
from .filters import Filters
from .http import ApiError, Reply, Request, bad_request, empty, json_reply
from .routes import route
from .shapes import inspect_doc, list_entry

log = logging.getLogger("pycompose.dockerapi")

_LIST_FILTERS = ("id", "name", "label", "label!", "status", "exited", "ancestor",
                 "network", "volume", "health", "before", "since", "publish", "expose",
                 "is-task")
_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


async def record(ctx: Context, ref: str) -> ContainerRecord:
    return await ctx.call(ctx.engine.container, ref)


def _matches(rec: ContainerRecord, f: Filters, by_ref: dict[str, ContainerRecord]) -> bool:
    if not f.any_match("id", rec.id, prefix=True):
        return False
    if not f.any_match("name", "/" + rec.name, regex=True):
        return False
    if not f.labels_match(rec.labels):
        return False
    if not f.any_match("status", rec.status.value):
        return False
    if "exited" in f and (rec.status is not Status.EXITED or
                          str(rec.exit_code) not in f.get("exited")):
        return False
    if "ancestor" in f:
        wanted = f.get("ancestor")
        if not any(a in (rec.image, rec.image_id) or rec.image_id.removeprefix(
                "sha256:").startswith(a.removeprefix("sha256:")) or
                rec.image == a.split(":")[0] for a in wanted):
            return False
    if "network" in f and not any(n in rec.networks or n == rec.network_mode
                                  for n in f.get("network")):
        return False
    if "volume" in f and not any(v in (m.get("Name"), m.get("Source"), m.get("Destination"))
                                 for v in f.get("volume") for m in rec.mounts):
        return False
    if "health" in f and rec.health.value not in f.get("health"):
        return False
    if "publish" in f or "expose" in f:
        ports = rec.ports
        cfg_exposed = set((rec.raw.get("Config") or {}).get("ExposedPorts") or {})
        for want in f.get("publish"):
            key = want if "/" in want else f"{want}/tcp"
            if not any(str(b.get("HostPort")) == key.split("/")[0]
                       for binds in ports.values() for b in binds or []):
                return False
        for want in f.get("expose"):
            key = want if "/" in want else f"{want}/tcp"
            if key not in cfg_exposed:
                return False
    for key, newer in (("before", False), ("since", True)):
        for ref in f.get(key):
            other = by_ref.get(ref) or next((r for r in by_ref.values()
                                             if r.id.startswith(ref)), None)
            if other is None:
                raise NotFound(f"No such container: {ref}")
            if (rec.created > other.created) != newer or rec.id == other.id:
                return False
    return True


def _list(ctx: Context, all_: bool, limit: int, size: bool, f: Filters
          ) -> list[dict[str, Any]]:
    recs = ctx.engine.containers()
    by_ref = {r.name: r for r in recs} | {r.id: r for r in recs}
    for s in f.get("status"):
        if s not in _STATUSES:
            raise InvalidArgument(f"invalid filter 'status={s}'")
    show_all = all_ or limit > 0 or bool(f.get("status")) or "exited" in f
    out = []
    for r in recs:
        if not show_all and not r.status.is_active:
            continue
        if not _matches(r, f, by_ref):
            continue
        out.append(list_entry(r, _sizes(r) if size else None))
        if limit > 0 and len(out) >= limit:
            break
    return out


def _du(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def _sizes(rec: ContainerRecord) -> tuple[int, int]:
    """(bytes of the container's own layer, plus the image's) as docker's size=1."""
    rw = _du(rec.upper_dir) if rec.upper_dir else 0
    return rw, rw + sum(_du(p) for p in rec.lower_dirs)


async def list_containers(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, _LIST_FILTERS)
    return json_reply(await ctx.call(_list, ctx, req.flag("all"), req.int_arg("limit") or 0,
                                     req.flag("size"), f))


async def create_container(ctx: Context, req: Request) -> Reply:
    name = req.arg("name")
    if name and not re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
        raise bad_request(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                          "are allowed")
    platform = req.arg("platform")
    if platform and not platform.startswith("linux"):
        raise bad_request(f"platform {platform!r} is not supported (linux only)")
    body = await req.json(required=True)
    if not isinstance(body, dict):
        raise bad_request("invalid JSON: the body must be an object")
    creq = create.create_request(body, name)
    warned = create.warnings(body)
    if creq.image and await ctx.call(ctx.engine.image_id, creq.image) is None:
        raise NotFound(f"No such image: {creq.image}")
    cid = await ctx.call(ctx.engine.create, creq)
    size = create.console_size(body)
    if size is not None:
        ctx.console_sizes[cid] = size
    return json_reply({"Id": cid, "Warnings": warned}, 201)


async def inspect_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    doc = inspect_doc(rec, [e for e, x in ctx.execs.items() if x.container == rec.id])
    if req.flag("size"):
        doc["SizeRw"], doc["SizeRootFs"] = await ctx.call(_sizes, rec)
    return json_reply(doc)


async def start_container(ctx: Context, req: Request, id: str) -> Reply:
    if int(req.headers.get("content-length") or 0) > 7:
        body = await req.body.read()
        if body.strip() not in (b"", b"{}", b"null"):
            raise bad_request("starting container with non-empty request body was "
                              "deprecated since API v1.22 and removed in v1.24")
    rec = await record(ctx, id)
    if rec.status.is_active:
        return empty(304)
    try:
        if not await attach.start_with_attachers(ctx, rec):
            await ctx.call(ctx.engine.start, rec.id)
    except EngineError:
        if rec.auto_remove:  # docker's daemon removes an --rm container that failed
            with contextlib.suppress(EngineError):
                await ctx.call(ctx.engine.remove, rec.id, force=True, volumes=True)
        raise
    return empty(204)


def _timeout(req: Request) -> float | None:
    t = req.int_arg("t")
    if t is None:
        t = req.int_arg("timeout")
    return None if t is None else (float(t) if t >= 0 else 1e9)  # -1: wait for ever


async def stop_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    if not rec.status.is_active:
        return empty(304)
    await ctx.call(ctx.engine.stop, rec.id, _timeout(req), req.arg("signal") or None)
    return empty(204)


async def restart_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    await ctx.call(ctx.engine.restart, rec.id, _timeout(req), req.arg("signal") or None)
    return empty(204)


async def kill_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    if not rec.status.is_active:
        raise Conflict(f"Cannot kill container: {id}: container {rec.id[:12]} is not "
                       "running")
    sig = req.arg("signal") or "SIGKILL"
    if sig.isdigit():
        sig = str(int(sig))
    elif not sig.upper().startswith("SIG"):
        sig = "SIG" + sig.upper()
    await ctx.call(ctx.engine.kill, rec.id, sig)
    if sig in ("SIGKILL", "9"):
        await _until_not_running(ctx, rec.id)
    return empty(204)


#: how long a SIGKILL's answer waits for the container's end (docker's daemon: 10 s)
KILL_WAIT = 10.0


async def _until_not_running(ctx: Context, cid: str) -> None:
    """docker's daemon answers a SIGKILL once the container has exited, so that a client
    that inspects right after sees ``Running: false`` and the 137; a kill with another
    signal answers at once (the process may handle it)."""
    with trio.move_on_after(KILL_WAIT) as scope:
        try:
            waiter = await aio.open_wait(ctx.root, cid, "not-running")
        except NotFound:  # an --rm container already removed
            return
        try:
            await waiter.result()
        finally:
            waiter.close()
    if scope.cancelled_caught:
        log.warning("kill: %s still runs %.0f s after SIGKILL", cid[:12], KILL_WAIT)


async def rename_container(ctx: Context, req: Request, id: str) -> Reply:
    name = req.arg("name")
    if not name:
        raise bad_request("name cannot be empty")
    await ctx.call(ctx.engine.rename, id, name)
    return empty(204)


async def pause_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    if rec.status is Status.PAUSED:
        raise Conflict(f"Container {rec.id} is already paused")
    if not rec.status.is_active:
        raise Conflict(f"Container {rec.id} is not running")
    await ctx.call(_face(ctx, "pause"), rec.id)
    return empty(204)


async def unpause_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    if rec.status is not Status.PAUSED:
        raise Conflict(f"Container {rec.id} is not paused")
    await ctx.call(_face(ctx, "unpause"), rec.id)
    return empty(204)


def _face(ctx: Context, op: str) -> Any:
    fn = getattr(ctx.engine, op, None)
    if fn is None:
        raise ApiError(501, f"{op} is not available in this engine")
    return fn


async def remove_container(ctx: Context, req: Request, id: str) -> Reply:
    if req.flag("link"):
        raise bad_request("links are not supported: there is no link to remove")
    rec = await record(ctx, id)
    if rec.status.is_active and not req.flag("force"):
        verb = "stop" if rec.status is not Status.PAUSED else "unpause and then stop"
        raise Conflict(f"cannot remove container \"/{rec.name}\": container is "
                       f"{rec.status.value}: {verb} the container before removing or "
                       "force remove")
    await ctx.call(ctx.engine.remove, rec.id, force=req.flag("force"),
                   volumes=req.flag("v"))
    for eid in [e for e, x in ctx.execs.items() if x.container == rec.id]:
        ctx.execs.pop(eid, None)
    ctx.console_sizes.pop(rec.id, None)
    return empty(204)


async def prune_containers(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("until", "label", "label!"))

    def run() -> tuple[list[str], int]:
        from ..engine.api import parse_iso

        removed, space = [], 0
        until = _until(f)
        for r in ctx.engine.containers():
            if r.status.is_active or not f.labels_match(r.labels):
                continue
            if until is not None and parse_iso(r.created) >= until:
                continue
            rw = _du(r.upper_dir) if r.upper_dir else 0
            try:
                ctx.engine.remove(r.id)
            except EngineError as e:
                log.info("prune: %s stays: %s", r.id[:12], e)
                continue
            removed.append(r.id)
            space += rw
        return removed, space
    removed, space = await ctx.call_slow(run)
    return json_reply({"ContainersDeleted": removed or None, "SpaceReclaimed": space})


def _until(f: Filters) -> float | None:
    vals = f.get("until")
    if not vals:
        return None
    from ..engine.api import logs as reader

    try:
        return reader.parse_timestamp(vals[-1]) / 1e9
    except ValueError as e:
        raise bad_request(f"invalid filter 'until={vals[-1]}': {e}")


async def top_container(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    if not rec.status.is_active:
        raise Conflict(f"Container {rec.id} is not running")
    pids = await ctx.call(ctx.engine.top_pids, rec.id)
    ps_args = req.arg("ps_args") or "-ef"
    if not re.fullmatch(r"[A-Za-z0-9 ,=_-]*", ps_args):
        raise bad_request(f"invalid ps_args {ps_args!r}")

    def run() -> tuple[list[str], list[list[str]]]:
        r = subprocess.run(["ps", *ps_args.split()], capture_output=True, text=True,
                           check=False)
        if r.returncode != 0:
            raise InvalidArgument(f"ps {ps_args}: {r.stderr.strip()}")
        lines = r.stdout.splitlines()
        if not lines:
            return [], []
        titles = lines[0].split()
        try:
            pid_col = titles.index("PID")
        except ValueError:
            raise InvalidArgument(f"ps {ps_args}: its output has no PID column")
        wanted = {str(p) for p in pids}
        rows = []
        for line in lines[1:]:
            cols = line.split(None, len(titles) - 1)
            if len(cols) > pid_col and cols[pid_col] in wanted:
                rows.append(cols)
        return titles, rows
    titles, rows = await ctx.call(run)
    return json_reply({"Titles": titles, "Processes": rows})


async def changes(ctx: Context, req: Request, id: str) -> Reply:
    rec = await record(ctx, id)
    found = await ctx.call_slow(ctx.engine.changes, rec.id)
    return json_reply([{"Path": c.path, "Kind": c.kind} for c in found] or None)


async def resize(ctx: Context, req: Request, id: str) -> Reply:
    rows, cols = req.int_arg("h") or 0, req.int_arg("w") or 0
    rec = await record(ctx, id)
    if not rec.status.is_active:
        raise Conflict(f"Container {rec.id} is not running")
    if not attach.resize_local(ctx, rec.id, rows, cols):
        await ctx.call(ctx.engine.resize, rec.id, rows, cols)
    return empty(200)


async def update(ctx: Context, req: Request, id: str) -> Reply:
    await record(ctx, id)
    raise ApiError(501, "container update is not supported by pycompose: recreate the "
                        "container with the new settings")


async def commit(ctx: Context, req: Request) -> Reply:
    body = await req.json()
    changes_ = req.args("changes")
    if isinstance(body, dict) and body:
        for key in ("Cmd", "Entrypoint"):
            if body.get(key):
                import json

                changes_.append(f"{key.upper()} {json.dumps(body[key])}")
    ref = req.arg("container")
    if not ref:
        raise bad_request("container is required")
    repo = req.arg("repo")
    tag = req.arg("tag")
    target = f"{repo}:{tag}" if repo and tag else repo or None
    image_id = await ctx.call_slow(ctx.engine.commit, ref, target,
                                   message=req.arg("comment"), author=req.arg("author"),
                                   changes=changes_,
                                   pause=not req.arg("pause") or req.flag("pause"))
    return json_reply({"Id": image_id}, 201)


ROUTES = [
    route("GET", "/containers/json", list_containers),
    route("POST", "/containers/create", create_container),
    route("POST", "/containers/prune", prune_containers),
    route("GET", "/containers/{id}/json", inspect_container),
    route("GET", "/containers/{id}/top", top_container),
    route("GET", "/containers/{id}/changes", changes),
    route("POST", "/containers/{id}/resize", resize),
    route("POST", "/containers/{id}/start", start_container),
    route("POST", "/containers/{id}/stop", stop_container),
    route("POST", "/containers/{id}/restart", restart_container),
    route("POST", "/containers/{id}/kill", kill_container),
    route("POST", "/containers/{id}/update", update),
    route("POST", "/containers/{id}/rename", rename_container),
    route("POST", "/containers/{id}/pause", pause_container),
    route("POST", "/containers/{id}/unpause", unpause_container),
    route("DELETE", "/containers/{id}", remove_container),
    route("POST", "/commit", commit),
    *attach.ROUTES,
]
