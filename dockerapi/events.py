"""``GET /events``: the engine's events as docker's JSON messages, streamed.

The supervisor publishes each change it makes (create, start, die, stop, kill, pause,
unpause, destroy, ``health_status: ...``); the face's ``aio.events`` subscribes. With
``since`` the recent ones it still remembers come first; with ``until`` the stream ends
then (at once for a time already past, after the remembered ones). ``filters``:
container (id or name), event, image, label, type.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import trio

from ..engine.api import Event, InvalidArgument, aio
from ..engine.api import logs as reader
from .context import Context
from .filters import Filters
from .http import Request, Stream
from .routes import route
from .streams import json_line


def message(ev: Event) -> dict[str, Any]:
    attrs = dict(ev.attributes)
    out: dict[str, Any] = {"Type": ev.type, "Action": ev.action,
                           "Actor": {"ID": ev.id, "Attributes": attrs}, "scope": "local",
                           "time": ev.time_ns // 10**9, "timeNano": ev.time_ns}
    if ev.type == "container":  # the fields docker kept for old clients
        out.update(status=ev.action, id=ev.id, **({"from": attrs["image"]}
                                                  if "image" in attrs else {}))
    return out


def matches(ev: Event, f: Filters) -> bool:
    a = ev.attributes
    if not f.any_match("type", ev.type):
        return False
    if "event" in f and not any(ev.action == e or ev.action.startswith(e + ":")
                                for e in f.get("event")):
        return False
    if "container" in f and not any(c in (a.get("name"), ev.id) or ev.id.startswith(c)
                                    for c in f.get("container")):
        return False
    if "image" in f and not any(i == a.get("image") or
                                (a.get("image") or "").split(":")[0] == i
                                for i in f.get("image")):
        return False
    return f.labels_match(a)


def _when(text: str, what: str) -> int | None:
    if not text:
        return None
    try:
        return reader.parse_timestamp(text)
    except ValueError as e:
        raise InvalidArgument(f"invalid {what} {text!r}: {e}")


async def events(ctx: Context, req: Request) -> Stream:
    f = Filters.of(req, ("container", "event", "image", "label", "type", "network",
                         "volume", "daemon", "plugin", "scope", "node", "service",
                         "secret", "config"))
    since = _when(req.arg("since"), "since")
    until = _when(req.arg("until"), "until")
    stream = aio.events(ctx.root, since)

    async def chunks() -> AsyncIterator[bytes]:
        deadline = float("inf")
        if until is not None:  # a time past still gets what the supervisor remembers
            deadline = trio.current_time() + max(0.5, (until - time.time_ns()) / 1e9)
        try:
            while True:
                with trio.move_on_at(deadline) as scope:  # never across a yield
                    try:
                        ev = await stream.__anext__()
                    except StopAsyncIteration:
                        return
                if scope.cancelled_caught or (until is not None and ev.time_ns > until):
                    return
                if since is not None and ev.time_ns < since:
                    continue
                if matches(ev, f):
                    yield json_line(message(ev))
        finally:
            await stream.aclose()
    return Stream(chunks(), 200, watch=True)


ROUTES = [route("GET", "/events", events)]
