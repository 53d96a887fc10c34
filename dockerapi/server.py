"""The service: a unix socket, a connection loop per client, and the idle clock.

``pycompose system service [--time SECONDS] [URI]`` runs :func:`serve` in the
foreground (podman's shape). Each connection is read with h11 request after request
(keep-alive, as the docker CLI and docker-py reuse theirs); a handler's result is sent as
it says (:mod:`.http`); an error becomes docker's ``{"message": ...}`` with its status
and the connection goes on serving. The service exits after ``idle`` seconds without a
connection (0: never).

The socket is root's: made in a private directory (0700, or 0750 for the ``docker``
group when there is one, with the socket 0660 as docker's), bound under a temporary
name, chmod-ed, then renamed into place, so that no one can connect in between; the
peer's credentials are checked (SO_PEERCRED) on each connection.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket as pysocket
import struct
import time
import traceback
from pathlib import Path

import h11
import trio

from pycompose import __version__
from pycompose.errors import PycomposeError

from ..engine.api import EngineError
from . import versions
from .context import Context
from .errors import message_of, status_of
from .http import (
    ApiError,
    Body,
    Connection,
    Hijack,
    Reply,
    Request,
    Stream,
    error_body,
    headers_of,
    parse_target,
    send_hijack,
    send_reply,
    send_stream,
)
from .routes import Route, Router

log = logging.getLogger("pycompose.dockerapi")

SERVER = f"pycompose/{__version__} (linux)"


def base_headers() -> list[tuple[str, str]]:
    return [("Api-Version", versions.API_VERSION), ("Docker-Experimental", "false"),
            ("Ostype", "linux"), ("Server", SERVER)]


def routes() -> list[Route]:
    """Every resource module's routes, in the order they are tried."""
    from . import (
        archive,
        auth,
        build,
        containers,
        events,
        exec,
        images,
        networks,
        stats,
        swarm,
        system,
        volumes,
    )

    out: list[Route] = []
    for module in (system, events, auth, containers, archive, stats, exec, images, build,
                   volumes, networks, swarm):
        out += module.ROUTES
    return out


class Service:
    def __init__(self, ctx: Context, idle: float) -> None:
        self.ctx = ctx
        self.idle = idle
        self.router = Router(routes())
        self.active = 0
        self.last_active = time.monotonic()
        self.allowed_gid: int | None = None
        self.bound: tuple[int, int] = (0, 0)  # (dev, inode) of the socket we put in place

    # -- the socket ----------------------------------------------------------------------
    async def listen(self, path: Path) -> trio.socket.SocketType:
        group = _docker_group()
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if group is None:
            os.chmod(parent, 0o700)
        else:
            os.chown(parent, 0, group)
            os.chmod(parent, 0o750)
            self.allowed_gid = group
        sock = trio.socket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
        tmp = parent / f".{path.name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        await sock.bind(str(tmp))
        if group is None:
            os.chmod(tmp, 0o600)
        else:
            os.chown(tmp, 0, group)
            os.chmod(tmp, 0o660)
        sock.listen(128)
        os.replace(tmp, path)
        st = os.stat(path)
        self.bound = (st.st_dev, st.st_ino)
        return sock

    async def serve(self, path: Path) -> None:
        sock = await self.listen(path)
        log.info("serving the Docker Engine API %s on unix://%s", versions.API_VERSION, path)
        try:
            async with trio.open_nursery() as nursery:
                self.ctx.nursery = nursery
                nursery.start_soon(self._accept, sock, nursery)
                await self._idle_clock()
                nursery.cancel_scope.cancel()
        finally:
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                # only our own socket: a service started on the same path while this
                # one was ending has put its own there, and it must stay reachable
                st = os.stat(path)
                if path.is_socket() and (st.st_dev, st.st_ino) == self.bound:
                    path.unlink()

    async def _idle_clock(self) -> None:
        if self.idle <= 0:
            await trio.sleep_forever()
        while True:
            await trio.sleep(min(1.0, self.idle / 4))
            if self.active:
                self.last_active = time.monotonic()
            elif time.monotonic() - self.last_active >= self.idle:
                log.info("idle for %.0f s: exiting", self.idle)
                return

    async def _accept(self, sock: trio.socket.SocketType, nursery: trio.Nursery) -> None:
        while True:
            s, _ = await sock.accept()
            if not self._permitted(s):
                s.close()
                continue
            nursery.start_soon(self._connection, trio.SocketStream(s))

    def _permitted(self, s: trio.socket.SocketType) -> bool:
        try:
            raw = s.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED,
                               struct.calcsize("3i"))
        except OSError:
            return False
        _pid, uid, gid = struct.unpack("3i", raw)
        if uid in (0, os.geteuid()):
            return True
        if self.allowed_gid is not None and _in_group(uid, gid, self.allowed_gid):
            return True
        log.warning("refused a client of uid %d", uid)
        return False

    # -- one connection ------------------------------------------------------------------
    async def _connection(self, stream: trio.SocketStream) -> None:
        try:
            conn = Connection(stream)
            while await self._one_request(conn):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except h11.RemoteProtocolError as e:
            log.info("bad HTTP from a client: %s", e)
            with contextlib.suppress(Exception):
                await stream.send_all(b"HTTP/1.1 400 Bad Request\r\nContent-Type: "
                                      b"application/json\r\nConnection: close\r\n\r\n"
                                      + error_body(f"bad HTTP request: {e}"))
        except Exception:  # a bug in one connection never takes the service down
            log.exception("a connection ended with an internal error")
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _one_request(self, conn: Connection) -> bool:
        """Serve one request; False when the connection is over."""
        ev = await conn.next_event()
        if isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
            return False
        if not isinstance(ev, h11.Request):
            return False
        self.active += 1  # a request in flight (an open keep-alive connection is idle)
        try:
            return await self._answer(conn, ev)
        finally:
            self.active -= 1
            self.last_active = time.monotonic()

    async def _answer(self, conn: Connection, ev: h11.Request) -> bool:
        method = ev.method.decode()
        target = ev.target.decode("latin-1")
        path, query = parse_target(target)
        req = Request(method, path, versions.API_VERSION, query, headers_of(ev),
                      Body(conn), target)
        upgrade_asked = req.upgrade
        try:
            req.version, req.path = versions.split_prefix(path)
            resp = await self.ctx_dispatch(req)
        except BaseExceptionGroup as eg:  # a handler's nursery
            err = _first_error(eg)
            if err is None:
                raise
            resp = self._error_reply(err, req)
        except Exception as e:
            resp = self._error_reply(e, req)
        base = base_headers()
        log.debug("%s %s -> %s", method, target, getattr(resp, "status", "hijack"))
        if isinstance(resp, Hijack):
            await req.body.drain()
            raw = await send_hijack(conn, resp, base, upgrade_asked)
            try:
                await resp.run(raw)
            finally:
                with contextlib.suppress(Exception):
                    await raw.aclose()
            return False
        if not req.body.done and conn.h11.their_state is h11.SEND_BODY:
            await req.body.drain()
        if isinstance(resp, Stream):
            if not await send_stream(conn, resp, base):
                return False
        else:
            await send_reply(conn, resp, base, method == "HEAD")
        if conn.h11.our_state is h11.MUST_CLOSE or conn.h11.their_state is not h11.DONE:
            return False
        conn.h11.start_next_cycle()
        return True

    async def ctx_dispatch(self, req: Request) -> Reply | Stream | Hijack:
        return await self.router.dispatch(self.ctx, req)

    @staticmethod
    def _error_reply(e: BaseException, req: Request) -> Reply:
        status = status_of(e)
        if isinstance(e, (ApiError, EngineError, PycomposeError)):
            message = message_of(e)
            if status >= 500:
                log.warning("%s %s: %s", req.method, req.raw_target, message)
        else:
            log.error("%s %s failed:\n%s", req.method, req.raw_target,
                      "".join(traceback.format_exception(e)))
            message = f"internal error: {type(e).__name__}: {e}"
        return Reply(status, error_body(message))


def _first_error(eg: BaseExceptionGroup[BaseException]) -> BaseException | None:
    for e in eg.exceptions:
        if isinstance(e, BaseExceptionGroup):
            inner = _first_error(e)
            if inner is not None:
                return inner
        elif isinstance(e, Exception):
            return e
    return None


def _docker_group() -> int | None:
    try:
        return grp.getgrnam("docker").gr_gid
    except KeyError:
        return None


def _in_group(uid: int, gid: int, group: int) -> bool:
    if gid == group:
        return True
    import pwd

    try:
        name = pwd.getpwuid(uid).pw_name
        return name in grp.getgrgid(group).gr_mem
    except KeyError:
        return False


def socket_path(uri: str) -> Path:
    """``unix:///run/pycompose/docker.sock`` (or a plain path) -> the path."""
    if uri.startswith("unix://"):
        uri = uri[len("unix://"):]
    elif "://" in uri:
        raise PycomposeError(f"{uri}: only unix:// sockets are served (tcp would expose "
                             "root's engine to the network)")
    if not uri.startswith("/"):
        raise PycomposeError(f"{uri}: the socket path must be absolute")
    return Path(uri)


async def serve(root: Path, path: Path, idle: float) -> None:
    await Service(Context(root), idle).serve(path)
