"""``/containers/{id}/archive`` (HEAD, GET, PUT) and ``/containers/{id}/export``: what
``docker cp`` and docker-py's ``get_archive``/``put_archive`` ask a daemon for.

HEAD and GET carry docker's ``X-Docker-Container-Path-Stat`` header (base64 JSON of the
path's name, size, Go file mode, mtime and link target), which the docker CLI reads to
decide how to copy; GET's body is a tar of the path named by its base name; PUT
extracts a tar into a directory. Every path is resolved inside the container by the
face (``Engine.archive_*``), never on the host.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .bridge import body_into, output_of
from .context import Context
from .http import Reply, Request, Stream, bad_request, empty
from .routes import route


def _path(req: Request) -> str:
    path = req.arg("path")
    if not path:
        raise bad_request("Bad parameters: path cannot be empty")
    return path


def _stat_header(st: Any) -> tuple[str, str]:
    doc = {"name": st.name, "size": st.size, "mode": st.mode, "mtime": st.mtime,
           "linkTarget": st.link_target}
    return ("X-Docker-Container-Path-Stat",
            base64.b64encode(json.dumps(doc).encode()).decode())


async def head(ctx: Context, req: Request, id: str) -> Reply:
    st = await ctx.call(ctx.engine.archive_stat, id, _path(req))
    return Reply(200, b"", "", [_stat_header(st)])


async def get(ctx: Context, req: Request, id: str) -> Stream:
    path = _path(req)
    st = await ctx.call(ctx.engine.archive_stat, id, path)  # a 404 before the head
    return Stream(output_of(ctx, lambda f: ctx.engine.archive_get(id, path, f)), 200,
                  "application/x-tar", [_stat_header(st)])


async def put(ctx: Context, req: Request, id: str) -> Reply:
    path = _path(req)
    st = await ctx.call(ctx.engine.archive_stat, id, path)
    if not st.is_dir and not st.link_target:
        raise bad_request(f"extraction point is not a directory: {path}")
    no_overwrite = req.flag("noOverwriteDirNonDir")
    await body_into(ctx, req, lambda f: ctx.engine.archive_put(
        id, path, f, no_overwrite_dir_non_dir=no_overwrite))
    return empty(200)


async def export(ctx: Context, req: Request, id: str) -> Stream:
    rec = await ctx.call(ctx.engine.container, id)
    return Stream(output_of(ctx, lambda f: ctx.engine.archive_get(rec.id, "/.", f)), 200,
                  "application/x-tar")


ROUTES = [
    route("HEAD", "/containers/{id}/archive", head),
    route("GET", "/containers/{id}/archive", get),
    route("PUT", "/containers/{id}/archive", put),
    route("GET", "/containers/{id}/export", export),
]
