"""``POST /build``: a Dockerfile and a tar context into an image, with the classic
builder's JSON stream (``{"stream": "Step 1/3 : FROM busybox\\n"}``, ``{"aux": {"ID":
...}}``, ``Successfully built``/``tagged``), which docker-py parses and the docker CLI
prints (it uses the classic builder when the daemon says ``Builder-Version: 1`` and
buildx is not installed).

The context arrives whole before the build starts (clients send it all before they read
the answer); it is kept in an unnamed temporary file and handed to the builder as its
``context_tar``, which unpacks it privately. Build steps run as containers of this
engine (``engine/builder``); its typed events become the stream's messages.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ..engine.api import InvalidArgument
from .bridge import EventChannel, run_with_events
from .context import Context
from .http import Reply, Request, Stream, bad_request, json_reply
from .routes import route
from .streams import json_line


def _json_map(req: Request, name: str) -> dict[str, str]:
    v = req.json_arg(name)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise bad_request(f"{name} must be a JSON object")
    return {str(k): "" if x is None else str(x) for k, x in v.items()}


def _json_list(req: Request, name: str) -> list[str]:
    v = req.json_arg(name)
    if v is None:
        return []
    if not isinstance(v, list):
        raise bad_request(f"{name} must be a JSON array")
    return [str(x) for x in v]


def build_request(req: Request) -> Any:
    from ..engine.api.build import BuildRequest

    if req.arg("version") == "2":
        raise bad_request("BuildKit (version=2) is not supported by pycompose: use the "
                          "classic builder (DOCKER_BUILDKIT=0, or no buildx)")
    if req.arg("remote"):
        raise bad_request("remote build contexts (git, URLs) are not supported: send the "
                          "context as a tar")
    for key in ("memory", "memswap", "cpushares", "cpusetcpus", "cpuperiod", "cpuquota"):
        v = req.arg(key)
        if v and v not in ("0", "-1", ""):
            raise bad_request(f"build parameter {key} is not supported by pycompose")
    dockerfile = req.arg("dockerfile") or "Dockerfile"
    p = PurePosixPath(dockerfile)
    if p.is_absolute() or ".." in p.parts:
        raise bad_request(f"dockerfile {dockerfile!r} must be a path inside the context")
    network = req.arg("networkmode") or "default"
    if network == "bridge":
        network = "default"
    if network not in ("default", "none", "host"):
        raise bad_request(f"networkmode {network!r} is not supported (default, none, host)")
    extra = req.arg("extrahosts")
    return BuildRequest(
        dockerfile=None if dockerfile == "Dockerfile" else Path(p), tags=req.args("t"),
        build_args=_json_map(req, "buildargs"), target=req.arg("target"),
        labels=_json_map(req, "labels"), no_cache=req.flag("nocache"),
        pull=req.flag("pull"), cache_from=_json_list(req, "cachefrom"),
        network=network, extra_hosts=[h for h in extra.split(",") if h] if extra else [],
        shm_size=req.int_arg("shmsize") or 0, platform=req.arg("platform"))


def message(ev: Any, quiet: bool) -> list[dict[str, Any]]:
    """docker's classic-builder messages for one of the builder's events."""
    from ..engine.api.build import events as E

    if isinstance(ev, E.Finished):
        short = ev.image_id.removeprefix("sha256:")[:12]
        out: list[dict[str, Any]] = [{"aux": {"ID": ev.image_id}}]
        if quiet:
            return [*out, {"stream": ev.image_id + "\n"}]
        out.append({"stream": f"Successfully built {short}\n"})
        out += [{"stream": f"Successfully tagged {t}\n"} for t in ev.tags]
        return out
    if quiet:
        return []
    if isinstance(ev, E.StepStarted):
        return [{"stream": f"Step {ev.vertex} : {ev.name}\n"}]
    if isinstance(ev, E.StepCached):
        return [{"stream": " ---> Using cache\n"}]
    if isinstance(ev, E.StepOutput):
        return [{"stream": ev.data.decode("utf-8", "replace")}]
    if isinstance(ev, E.Note):
        return [{"stream": ("WARNING: " if ev.warning else "") + ev.message + "\n"}]
    if isinstance(ev, E.StepFailed):
        return [{"stream": f" ---> {ev.message}\n"}]
    return []


async def build(ctx: Context, req: Request) -> Stream:
    from ..engine.api.build import build as run_build

    breq = build_request(req)
    quiet = req.flag("q")
    spool: IO[bytes] = tempfile.TemporaryFile(prefix="pycompose-build-")  # noqa: SIM115
    size = 0
    try:
        async for chunk in req.body.chunks():
            size += len(chunk)
            await ctx.call(spool.write, chunk)
        await ctx.call(spool.seek, 0)
    except BaseException:
        spool.close()
        raise
    if size:
        breq.context_tar = spool

    async def work(ch: EventChannel) -> Any:
        try:
            return await ctx.call_slow(run_build, breq, ch.put, root=ctx.root)
        finally:
            spool.close()

    async def chunks() -> AsyncIterator[bytes]:
        async for kind, item in run_with_events(ctx, work):
            if kind == "event":
                for m in message(item, quiet):
                    yield json_line(m)
            elif kind == "error":
                text = str(item)
                yield json_line({"errorDetail": {"code": 1, "message": text},
                                 "error": text})
    return Stream(chunks(), 200, watch=True)


async def prune(ctx: Context, req: Request) -> Reply:
    from ..engine.api.build import prune_cache

    n, mounts = await ctx.call_slow(prune_cache, ctx.root)
    return json_reply({"CachesDeleted": None, "SpaceReclaimed": 0,
                       "Records": n, "CacheMounts": mounts})


async def session(ctx: Context, req: Request) -> Reply:
    raise InvalidArgument("BuildKit sessions are not supported by pycompose: use the "
                          "classic builder (DOCKER_BUILDKIT=0)")


ROUTES = [
    route("POST", "/build", build),
    route("POST", "/build/prune", prune),
    route("POST", "/session", session),
]

_ = json  # the messages are JSON lines (streams.json_line)
