"""``/images/...``: the image store and registries through the face.

Listing, inspecting, tagging and removing work on the store in a worker thread (under
its locks, as the CLI's verbs do). Pull and push run under the service's own trio loop
(``Engine.pull_async``) and stream docker's JSON progress messages from the face's typed
events; ``load``, ``get`` (save) and ``create?fromSrc=-`` (import) stream the archive
through a pipe. Names are shown as docker shows them (``busybox:latest``, not
``docker.io/library/busybox:latest``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, BinaryIO, cast

from pycompose.util.humanize import progress_bar

from ..engine.api import (
    EngineError,
    InvalidArgument,
    LoginRequest,
    Platform,
    PullRequest,
    PushRequest,
    parse_iso,
    parse_reference,
)
from . import versions
from .bridge import body_into, output_of, run_with_events
from .context import Context
from .filters import Filters
from .http import Reply, Request, Stream, bad_request, json_reply
from .routes import route
from .streams import json_line

log = logging.getLogger("pycompose.dockerapi")


def _store(ctx: Context) -> Any:
    from ..engine.api.images import ImageStore

    return ImageStore(ctx.root)


def familiar(name: str) -> str:
    try:
        return parse_reference(name).familiar()
    except EngineError:
        return name


def _tags(im: Any) -> tuple[list[str], list[str]]:
    tags = [familiar(t) for t in im.repo_tags if "@" not in t]
    digests = [familiar(t) for t in im.repo_tags if "@" in t]
    if im.manifest_digest:
        for t in tags:
            repo = t.rsplit(":", 1)[0] if ":" in t.rsplit("/", 1)[-1] else t
            d = f"{repo}@{im.manifest_digest}"
            if d not in digests:
                digests.append(d)
    return tags, digests


#: the fields of a container config an image's ``ContainerConfig`` has (docker's empty
#: one, as for an image that BuildKit made), in docker's order
_CONTAINER_CONFIG = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
    "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
    "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
    "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}


def inspect_doc(im: Any, version: str = versions.API_VERSION, *,
                container_config: bool | None = None) -> dict[str, Any]:
    """``GET /images/{name}/json`` at the client's API ``version``: below 1.45 with the
    ``Container`` and ``ContainerConfig`` fields docker had then, below 1.44 with
    ``VirtualSize``. ``container_config`` True keeps the former at any version: for
    docker-compose v1, which negotiates the newest version and then reads
    ``ContainerConfig.Volumes`` whenever it recreates a container (against docker 26 and
    later it fails there with ``KeyError: 'ContainerConfig'``)."""
    if container_config is None:
        container_config = not versions.at_least(version, "1.45")
    cfg = im.oci_config
    tags, digests = _tags(im)
    history = im.history
    doc = {
        "Id": im.id, "RepoTags": tags, "RepoDigests": digests, "Parent": "",
        "Comment": history[-1].get("comment", "") if history else "",
        "Created": im.created, "DockerVersion": "", "Author": cfg.get("author", ""),
        "Config": im.config, "Architecture": cfg.get("architecture", ""),
        "Variant": cfg.get("variant") or None, "Os": cfg.get("os", "linux"),
        "Size": im.size,
        "GraphDriver": {"Name": "overlay2",
                        "Data": {"LowerDir": ":".join(im.lowerdirs(ready=False))}},
        "RootFS": {"Type": "layers", "Layers": im.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }
    if container_config:
        doc["Container"] = ""
        doc["ContainerConfig"] = {**_CONTAINER_CONFIG,
                                  "Volumes": (im.config or {}).get("Volumes") or None}
    if not versions.at_least(version, "1.44"):
        doc["VirtualSize"] = im.size
    return doc


def _summary(im: Any, in_use: set[str], version: str) -> dict[str, Any]:
    tags, digests = _tags(im)
    old = {} if versions.at_least(version, "1.44") else {"VirtualSize": im.size}
    return {**old, "Id": im.id, "ParentId": "", "RepoTags": tags, "RepoDigests": digests,
            "Created": int(parse_iso(im.created)) if im.created else 0, "Size": im.size,
            "SharedSize": -1, "Labels": (im.config.get("Labels") or {}),
            "Containers": 1 if im.id in in_use else 0}


def _matches_reference(im: Any, patterns: list[str]) -> bool:
    import fnmatch

    if not patterns:
        return True
    names = [familiar(t) for t in im.repo_tags]
    for p in patterns:
        for n in names:
            repo = n.rsplit(":", 1)[0] if ":" in n.rsplit("/", 1)[-1] else n
            if fnmatch.fnmatch(n, p) or fnmatch.fnmatch(repo, p):
                return True
    return False


async def list_images(ctx: Context, req: Request) -> Reply:
    f = Filters.of(req, ("dangling", "label", "label!", "reference", "before", "since",
                         "until"))

    def run() -> list[dict[str, Any]]:
        store = _store(ctx)
        images = store.images()
        in_use = store.image_in_use
        dangling = f.boolean("dangling")
        bounds: dict[str, float] = {}
        for key in ("before", "since"):
            for ref in f.get(key):
                bounds[key] = parse_iso(store.resolve(ref).created)
        out = []
        for im in images:
            if dangling is not None and (not im.repo_tags) != dangling:
                continue
            if not f.labels_match(im.config.get("Labels") or {}):
                continue
            if not _matches_reference(im, f.get("reference")):
                continue
            created = parse_iso(im.created) if im.created else 0
            if "before" in bounds and created >= bounds["before"]:
                continue
            if "since" in bounds and created <= bounds["since"]:
                continue
            out.append(_summary(im, in_use, req.version))
        return out
    return json_reply(await ctx.call(run))


def _compose_v1(req: Request) -> bool:
    """The client is docker-compose 1.x (its User-Agent: ``docker-compose/1.29.2
    docker-py/5.0.3 Linux/...``)."""
    return req.headers.get("user-agent", "").startswith("docker-compose/1.")


async def inspect_image(ctx: Context, req: Request, name: str) -> Reply:
    legacy = not versions.at_least(req.version, "1.45") or _compose_v1(req)
    return json_reply(await ctx.call(
        lambda: inspect_doc(_store(ctx).resolve(name), req.version,
                            container_config=legacy)))


async def history(ctx: Context, req: Request, name: str) -> Reply:
    from ..engine.api.images import history_rows

    def run() -> list[dict[str, Any]]:
        store = _store(ctx)
        im = store.resolve(name)
        tags, _ = _tags(im)
        rows = history_rows(store, im)
        return [{"Id": r["ID"], "Created": int(parse_iso(r["CreatedAt"])) if r["CreatedAt"]
                 else 0, "CreatedBy": r["CreatedBy"], "Tags": tags if i == 0 else None,
                 "Size": r["Size"], "Comment": r["Comment"]}
                for i, r in enumerate(rows)]
    return json_reply(await ctx.call(run))


async def tag(ctx: Context, req: Request, name: str) -> Reply:
    repo = req.arg("repo")
    if not repo:
        raise bad_request("repository name must have at least one component")
    new = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    try:
        parse_reference(new)
    except EngineError as e:
        text = str(e)
        raise InvalidArgument(text if text.startswith("invalid reference format")
                              else f"invalid reference format: {new}: {text}")
    await ctx.call(lambda: _store(ctx).tag(name, new))
    return Reply(201, b"", "")


async def remove(ctx: Context, req: Request, name: str) -> Reply:
    from ..engine.api.images import gc
    from ..engine.api.images import remove as remove_image

    def run() -> list[dict[str, str]]:
        store = _store(ctx)
        lines = remove_image(store, name, force=req.flag("force"))
        gc(store)
        out = []
        for line in lines:
            key, _, value = line.partition(": ")
            out.append({key: value})
        return out
    return json_reply(await ctx.call_slow(run))


async def prune(ctx: Context, req: Request) -> Reply:
    from ..engine.api.images import prune as prune_images

    f = Filters.of(req, ("dangling", "until", "label", "label!"))
    dangling = f.boolean("dangling")

    def run() -> dict[str, Any]:
        lines, reclaimed = prune_images(_store(ctx), all_unused=dangling is False)
        deleted = []
        for line in lines:
            key, _, value = line.partition(": ")
            deleted.append({key.capitalize(): value})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
    return json_reply(await ctx.call_slow(run))


async def search(ctx: Context, req: Request) -> Reply:
    if not req.arg("term"):
        raise bad_request("term is required")
    return json_reply([])  # no registry index to search here


# -- registries ------------------------------------------------------------------------
def registry_auth(req: Request) -> LoginRequest | None:
    """``X-Registry-Auth``: base64url JSON {username, password, serveraddress}."""
    raw = req.headers.get("x-registry-auth", "")
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        return None  # docker ignores an unreadable header too
    if not isinstance(data, dict) or not (data.get("username") or data.get("password")):
        return None
    return LoginRequest(str(data.get("serveraddress") or ""), str(data.get("username") or ""),
                        str(data.get("password") or ""))


def progress_message(ev: Any) -> dict[str, Any]:
    """A face progress event as docker's JSON message."""
    from ..engine.api import ImageMessage

    if isinstance(ev, ImageMessage):
        head, sep, rest = ev.message.partition(": ")
        if sep and rest.startswith(("Pulling from", "Preparing", "The push refers")) \
                and " " not in head:
            return {"status": rest, "id": head}
        return {"status": ("WARNING: " if ev.warning else "") + ev.message}
    detail: dict[str, int] = {}
    if ev.total:
        detail = {"current": ev.current, "total": ev.total}
    msg: dict[str, Any] = {"status": ev.status, "progressDetail": detail, "id": ev.layer}
    if ev.total:
        msg["progress"] = _bar(ev.current, ev.total)
    return msg


def _bar(current: int, total: int) -> str:
    return progress_bar(current, total)


def error_message(e: BaseException) -> dict[str, Any]:
    text = str(e)
    return {"errorDetail": {"message": text}, "error": text}


async def create_image(ctx: Context, req: Request) -> Stream | Reply:
    if req.arg("fromSrc"):
        return await _import(ctx, req)
    name = req.arg("fromImage")
    if not name:
        raise bad_request("fromImage or fromSrc is required")
    tag_ = req.arg("tag")
    if tag_:
        name = f"{name}@{tag_}" if tag_.startswith("sha256:") else f"{name}:{tag_}"
    try:
        parse_reference(name)
    except EngineError as e:
        raise InvalidArgument(f"invalid reference format: {name}: {e}")
    platform = Platform.parse(req.arg("platform")) if req.arg("platform") else None
    # no tag at all (docker's API): every tag of the repository
    every = not tag_ and ":" not in name.rsplit("/", 1)[-1] and "@" not in name
    preq = PullRequest(name, platform=platform, all_tags=every)
    auth = registry_auth(req)

    async def work(ch: Any) -> Any:
        return await ctx.engine.pull_async(preq, ch.put, auth)

    async def chunks() -> AsyncIterator[bytes]:
        async for kind, item in run_with_events(ctx, work):
            if kind == "event":
                yield json_line(progress_message(item))
            elif kind == "error":
                yield json_line(error_message(item))
            else:
                for im in item.images:
                    if im.digest:
                        yield json_line({"status": f"Digest: {im.digest}"})
                    words = "Downloaded newer image for" if im.updated else \
                        "Image is up to date for"
                    yield json_line({"status": f"Status: {words} {familiar(im.reference)}"})
    return Stream(chunks(), 200, watch=True)


async def _import(ctx: Context, req: Request) -> Reply:
    from ..engine.api.images import import_tarball

    if req.arg("fromSrc") != "-":
        raise bad_request("fromSrc: only '-' (the request's body) is supported; pull or "
                          "send the archive in the request")
    repo = req.arg("repo")
    target = f"{repo}:{req.arg('tag')}" if repo and req.arg("tag") else repo or None
    changes = req.args("changes")

    def run(f: Any) -> Any:
        return import_tarball(_store(ctx), f, source="-", tag=target, changes=changes,
                              message=req.arg("message"))
    image = await body_into(ctx, req, run)
    image_id = getattr(image, "id", image)
    return Reply(200, json_line({"status": str(image_id)}))


async def push(ctx: Context, req: Request, name: str) -> Stream:
    tag_ = req.arg("tag")
    full = f"{name}:{tag_}" if tag_ else name
    preq = PushRequest(full, all_tags=not tag_ and ":" not in name.rsplit("/", 1)[-1])
    if not preq.all_tags:
        await ctx.call(_store(ctx).resolve, full)  # a 404 before the head goes out
    auth = registry_auth(req)

    async def work(ch: Any) -> Any:
        return await ctx.engine.push_async(preq, ch.put, auth)

    async def chunks() -> AsyncIterator[bytes]:
        async for kind, item in run_with_events(ctx, work):
            if kind == "event":
                yield json_line(progress_message(item))
            elif kind == "error":
                yield json_line(error_message(item))
            else:
                for im in item.images:
                    t = im.reference.rsplit(":", 1)[-1]
                    yield json_line({"status": f"{t}: digest: {im.digest} size: "
                                               f"{im.manifest_size}"})
                    yield json_line({"progressDetail": {}, "aux": {
                        "Tag": t, "Digest": im.digest, "Size": im.manifest_size}})
    return Stream(chunks(), 200, watch=True)


# -- archives --------------------------------------------------------------------------
async def load(ctx: Context, req: Request) -> Reply:
    from ..engine.api.images import load as load_archive

    def run(f: Any) -> list[str]:
        loaded = load_archive(_store(ctx), f, source="-")
        out = []
        for im, tags in loaded:
            if tags:
                out += [f"Loaded image: {familiar(t)}" for t in tags]
            else:
                out.append(f"Loaded image ID: {im.id}")
        return out
    try:
        lines = await body_into(ctx, req, run)
    except (EngineError, OSError) as e:
        # docker's daemon has sent its 200 by then: the error is the stream's last
        # message (docker-py raises ImageLoadError from it, the docker CLI prints it)
        text = f"the archive could not be loaded: {e}"
        log.warning("POST /images/load: %s", text)
        return Reply(200, json_line({"errorDetail": {"message": text}, "error": text}))
    body = b"".join(json_line({"stream": line + "\n"}) for line in lines)
    return Reply(200, body)


async def get_one(ctx: Context, req: Request, name: str) -> Stream:
    return await _save(ctx, [name])


async def get_many(ctx: Context, req: Request) -> Stream:
    names = req.args("names")
    if not names:
        raise bad_request("names is required")
    return await _save(ctx, names)


async def _save(ctx: Context, names: list[str]) -> Stream:
    from ..engine.api.images import save

    store = _store(ctx)
    for n in names:  # a 404 before the head goes out
        await ctx.call(store.resolve, n)
    return Stream(output_of(ctx, lambda f: save(store, names, cast(BinaryIO, f))), 200,
                  "application/x-tar")


ROUTES = [
    route("GET", "/images/json", list_images),
    route("POST", "/images/create", create_image),
    route("POST", "/images/load", load),
    route("GET", "/images/get", get_many),
    route("GET", "/images/search", search),
    route("POST", "/images/prune", prune),
    route("GET", "/images/{name*}/json", inspect_image),
    route("GET", "/images/{name*}/history", history),
    route("POST", "/images/{name*}/push", push),
    route("POST", "/images/{name*}/tag", tag),
    route("GET", "/images/{name*}/get", get_one),
    route("DELETE", "/images/{name*}", remove),
]
