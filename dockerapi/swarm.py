"""``/swarm``, ``/nodes``, ``/services``, ``/tasks``, ``/secrets``, ``/configs``,
``/plugins``: what docker answers on a node that is not in a swarm.

pycompose has no swarm mode. A client still asks: docker-py's ``leave_swarm(force=True)``
is a common cleanup step, and it takes docker's ``503 This node is not part of a swarm``
as "nothing to leave" (any other status is an error). So these paths answer as an
inactive swarm node's daemon does, with docker's messages, instead of the router's
``404 page not found`` (which docker-py raises as ``NotFound``). Joining or making a
swarm is refused with 503 and says why. Plugins: none are installed, and none can be.
"""

from __future__ import annotations

from .context import Context
from .http import ApiError, Reply, Request, json_reply
from .routes import route

NOT_IN_SWARM = "This node is not part of a swarm"
NOT_A_MANAGER = ("This node is not a swarm manager. Use \"docker swarm init\" or "
                 "\"docker swarm join\" to connect this node to swarm and try again.")
NO_SWARM_MODE = ("swarm mode is not supported by pycompose: run the services with "
                 "'docker compose up' (pycompose compose) instead")


async def not_in_swarm(ctx: Context, req: Request, **_: str) -> Reply:
    raise ApiError(503, NOT_IN_SWARM)


async def not_a_manager(ctx: Context, req: Request, **_: str) -> Reply:
    raise ApiError(503, NOT_A_MANAGER)


async def no_swarm_mode(ctx: Context, req: Request, **_: str) -> Reply:
    raise ApiError(503, NO_SWARM_MODE)


async def list_plugins(ctx: Context, req: Request) -> Reply:
    return json_reply([])


async def no_plugin(ctx: Context, req: Request, name: str) -> Reply:
    raise ApiError(404, f"plugin \"{name}\" not found")


async def no_plugins(ctx: Context, req: Request, **_: str) -> Reply:
    raise ApiError(501, "plugins are not supported by pycompose: none can be installed")


_MANAGER_ONLY = ("/nodes", "/services", "/tasks", "/secrets", "/configs")

ROUTES = [
    route("POST", "/swarm/leave", not_in_swarm),
    route("POST", "/swarm/update", not_in_swarm),
    route("GET", "/swarm/unlockkey", not_in_swarm),
    route("POST", "/swarm/unlock", not_in_swarm),
    route("GET", "/swarm", not_a_manager),
    route("POST", "/swarm/init", no_swarm_mode),
    route("POST", "/swarm/join", no_swarm_mode),
    *(route(m, f"{base}{tail}", not_a_manager)
      for base in _MANAGER_ONLY
      for m, tail in (("GET", ""), ("POST", "/create"), ("GET", "/{id}"),
                      ("DELETE", "/{id}"), ("POST", "/{id}/update"),
                      ("GET", "/{id}/logs"))),
    route("GET", "/plugins", list_plugins),
    route("GET", "/plugins/privileges", no_plugins),
    route("POST", "/plugins/pull", no_plugins),
    route("POST", "/plugins/create", no_plugins),
    route("GET", "/plugins/{name*}/json", no_plugin),
    route("DELETE", "/plugins/{name*}", no_plugin),
    route("POST", "/plugins/{name*}/enable", no_plugin),
    route("POST", "/plugins/{name*}/disable", no_plugin),
    route("POST", "/plugins/{name*}/upgrade", no_plugin),
    route("POST", "/plugins/{name*}/push", no_plugin),
    route("POST", "/plugins/{name*}/set", no_plugin),
]
