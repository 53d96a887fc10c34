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
import re
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
    # docker-py repeats the parameter (one host each), the docker CLI joins with commas
    extra = [h for v in req.args("extrahosts") for h in v.split(",") if h]
    return BuildRequest(
        dockerfile=None if dockerfile == "Dockerfile" else Path(p), tags=req.args("t"),
        build_args=_json_map(req, "buildargs"), target=req.arg("target"),
        labels=_json_map(req, "labels"), no_cache=req.flag("nocache"),
        pull=req.flag("pull"), cache_from=_json_list(req, "cachefrom"),
        network=network, extra_hosts=extra,
        shm_size=req.int_arg("shmsize") or 0, platform=req.arg("platform"))


_STEP = re.compile(r"\[(?:\S+ )?(\d+)/(\d+)\] (.*)", re.S)
_WORK_DIR = re.compile(r"\S*/build/work/[^/\s]+/\d+-context/")
_PROCESS_FAILED = re.compile(r'process "(.*)" did not complete successfully: exit code: (\d+)',
                             re.S)


class Classic:
    """The builder's events as the classic builder's messages (``Step 2/4 : RUN ...``,
    `` ---> Using cache``), which docker-py and the docker CLI parse and count: the
    builder's own steps (exporting, naming) are not steps there, nor is a FROM cached."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.steps: dict[int, str] = {}  # vertex -> its instruction; absent: internal

    def messages(self, ev: Any) -> list[dict[str, Any]]:
        from ..engine.api.build import events as E

        if isinstance(ev, E.Finished):
            short = ev.image_id.removeprefix("sha256:")[:12]
            out: list[dict[str, Any]] = [{"aux": {"ID": ev.image_id}}]
            if self.quiet:
                return [*out, {"stream": ev.image_id + "\n"}]
            out.append({"stream": f"Successfully built {short}\n"})
            out += [{"stream": f"Successfully tagged {t}\n"} for t in ev.tags]
            return out
        if self.quiet:
            return []
        if isinstance(ev, E.StepStarted):
            m = _STEP.fullmatch(ev.name)
            if m is None:
                return []
            self.steps[ev.vertex] = m.group(3)
            return [{"stream": f"Step {m.group(1)}/{m.group(2)} : {m.group(3)}\n"}]
        if isinstance(ev, E.StepCached):
            text = self.steps.get(ev.vertex)
            if text is None or text.upper().startswith("FROM "):
                return []
            return [{"stream": " ---> Using cache\n"}]
        if isinstance(ev, E.StepOutput):
            return [{"stream": ev.data.decode("utf-8", "replace")}]
        if isinstance(ev, E.Note):
            if ev.warning:
                return [{"stream": f"[Warning] {ev.message}\n"}]
            if ev.vertex and ev.vertex not in self.steps:
                return []  # the export's own lines (writing image, naming to)
            return [{"stream": ev.message + "\n"}]
        return []  # a failed step: the error line that follows says it


def error_text(e: BaseException) -> str:
    """The classic builder's words for a RUN that failed (docker-py's BuildError and
    scripts match them), else the builder's message."""
    text = _WORK_DIR.sub("", str(e))  # the builder's unpacked context is no one's path
    m = _PROCESS_FAILED.search(text)
    if m:
        return f"The command '{m.group(1)}' returned a non-zero code: {m.group(2)}"
    return text


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
        classic = Classic(quiet)
        async for kind, item in run_with_events(ctx, work):
            if kind == "event":
                for m in classic.messages(item):
                    yield json_line(m)
            elif kind == "error":
                text = error_text(item)
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
