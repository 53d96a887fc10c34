"""Routes: (method, path pattern) -> handler, and the router that dispatches on them.
Each resource's module (one per resource) lists its own ``ROUTES``; the service
gathers them (server.py ``routes``).

Patterns are docker's paths with ``{name}`` parts; an image's name may hold slashes
(``127.0.0.1:5000/team/app:1``), so ``{name*}`` takes the rest up to the route's fixed
tail. A path that matches no route is docker's ``404 page not found``; one that matches
another method's route is a 405.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .context import Context
from .http import ApiError, Request, Response

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    template: str


def _compile(template: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+\*?\})", template):
        if part.startswith("{"):
            name = part.strip("{}*")
            out += f"(?P<{name}>.+)" if part.endswith("*}") else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


def route(method: str, template: str, handler: Handler) -> Route:
    return Route(method, _compile(template), handler, template)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    async def dispatch(self, ctx: Context, req: Request) -> Response:
        allowed = False
        methods = [req.method] + (["GET"] if req.method == "HEAD" else [])
        for method in methods:  # a HEAD route of its own first, else the GET's
            for r in self.routes:
                m = r.pattern.match(req.path)
                if not m:
                    continue
                if r.method != method:
                    allowed = True
                    continue
                return await r.handler(ctx, req, **m.groupdict())
        if allowed:
            raise ApiError(405, f"method {req.method} not allowed on {req.path}")
        raise ApiError(404, "page not found")
