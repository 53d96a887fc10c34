"""Registries: pull, push, login and logout, on the OCI distribution API.

The operations take a typed request (types.py) and return a typed result; progress
goes to a callback as typed events, and only the CLI renders them::

    from pycompose.engine.registry import PullRequest, pull_image
    result = pull_image(PullRequest("busybox:latest"), progress=print)
    result.images[0].image_id

``pull_image``/``push_image`` run their own trio loop (for the CLI); the ``_async``
forms are for callers already under trio (compose's pull, the API service). (Not
``pull``/``push``: those are the modules' names, and importing a module rebinds its
package's attribute.) Importing this
package costs only the standard library: httpx and trio are imported when an operation
runs, so the thin client of ``container run`` pays for them only when it must pull.

Modules: types (requests, results, events), config (docker's config.json and
credential helpers; pycompose's mirrors and insecure registries), auth (challenges and
tokens), client (the HTTP API), pull, push, fetch (a blob into a file, a lock per blob),
sources (where blobs live, for cross-repository mounts). A pull leaves the layers packed:
images/unpacking.py unpacks them on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .types import (
    Event,
    ImageMessage,
    LayerProgress,
    LoginRequest,
    LoginResult,
    Platform,
    Progress,
    PulledImage,
    PullRequest,
    PullResult,
    PushedImage,
    PushRequest,
    PushResult,
)

if TYPE_CHECKING:
    import httpx

    from ..images.store import ImageStore
    from .client import Session

__all__ = ["Event", "ImageMessage", "LayerProgress", "LoginRequest", "LoginResult",
           "Platform", "Progress", "PullRequest", "PullResult", "PulledImage", "PushRequest",
           "PushResult", "PushedImage", "login", "logout", "pull_image", "pull_image_async",
           "push_image", "push_image_async", "session"]


def session(transport: httpx.AsyncBaseTransport | None = None) -> Session:
    """A session with this machine's settings: $PYCOMPOSE_CONFIG and docker's
    config.json (read once, now)."""
    from .client import Session
    from .config import load_docker_config, load_engine_config

    return Session(load_engine_config(), load_docker_config(), transport=transport)


def _store(root: Path | None) -> ImageStore:
    from ..images.store import ImageStore

    return ImageStore(root)


async def pull_image_async(request: PullRequest, *, root: Path | None = None,
                     progress: Progress | None = None,
                     with_session: Session | None = None) -> PullResult:
    """Pull under a running trio loop."""
    from ..images import reference
    from .pull import Puller

    reference.parse(request.reference)  # a bad name fails before any network or file work
    store = _store(root)
    if with_session is not None:
        return await Puller(store, with_session, progress=progress).pull(request)
    async with session() as s:
        return await Puller(store, s, progress=progress).pull(request)


def pull_image(request: PullRequest, *, root: Path | None = None,
         progress: Progress | None = None) -> PullResult:
    """Pull ``request.reference`` into the store of ``root`` (the state root)."""
    import trio

    return trio.run(lambda: pull_image_async(request, root=root, progress=progress))


async def push_image_async(request: PushRequest, *, root: Path | None = None,
                     progress: Progress | None = None,
                     with_session: Session | None = None) -> PushResult:
    from ..images import reference
    from .push import Pusher

    reference.parse(request.reference, default_tag=not request.all_tags)
    store = _store(root)
    if with_session is not None:
        return await Pusher(store, with_session, progress=progress).push(request)
    async with session() as s:
        return await Pusher(store, s, progress=progress).push(request)


def push_image(request: PushRequest, *, root: Path | None = None,
         progress: Progress | None = None) -> PushResult:
    import trio

    return trio.run(lambda: push_image_async(request, root=root, progress=progress))


def session_with(auth: LoginRequest | None) -> Session:
    """A session that uses ``auth`` for its server (a Docker API client's
    ``X-Registry-Auth``) over what docker's config.json holds."""
    from .config import Credentials

    s = session()
    if auth is not None and (auth.username or auth.password):
        s.use_credentials(auth.server or "docker.io",
                          Credentials(auth.username, auth.password))
    return s


def login(request: LoginRequest, *, store: bool = True) -> LoginResult:
    """Check the credentials against the registry and store them as docker does
    (``store=False``: only check them, as the Docker API's ``/auth`` does)."""
    import trio

    from .config import Credentials, config_key, hostname

    async def check() -> LoginResult:
        from .client import Session
        from .config import load_docker_config, load_engine_config

        docker = load_docker_config()
        creds = Credentials(request.username, request.password)
        async with Session(load_engine_config(), docker) as s:
            s.use_credentials(request.server or "docker.io", creds)
            reg = s.registry(hostname(request.server or "docker.io"))
            token = await reg.login()
        stored = Credentials(request.username, "" if token else request.password, token)
        if not store:
            return LoginResult(config_key(request.server), "", bool(token))
        where = docker.store(request.server or "docker.io", stored)
        return LoginResult(config_key(request.server), where, bool(token))

    return trio.run(check)


def logout(server: str) -> tuple[str, bool]:
    """Forget the credentials of ``server``: (its config key, whether there were any)."""
    from .config import config_key, load_docker_config

    return config_key(server), load_docker_config().erase(server or "docker.io")
