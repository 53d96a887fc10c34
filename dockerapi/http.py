"""HTTP/1.1 for the API service: h11 on a trio stream, requests and responses as types.

h11 parses and frames (keep-alive, chunked bodies, HEAD, ``Expect: 100-continue``); this
module adds what the Docker Engine API needs on top:

- :class:`Request`: the method, the path without its ``/vX.Y`` prefix, the API version
  the client asked for, the query, the headers, and a :class:`Body` read on demand
  (a build context or an image archive is streamed, never held whole);
- responses: :class:`Reply` (a complete body: JSON, text, empty), :class:`Stream`
  (chunked: JSON progress, logs, events, archives), :class:`Hijack` (the connection
  becomes a raw byte pipe: attach and exec, with ``101 UPGRADED`` when the client asked
  for an upgrade, docker's ``200`` raw stream otherwise);
- :class:`ApiError`: a refusal with docker's status, sent as ``{"message": ...}``.

A handler that waits long (``wait``, ``events``, a followed log) watches its
connection: when the client goes away the handler is cancelled (:meth:`Connection.
watch_close`), so nothing is left holding a supervisor connection for nobody.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import sys
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11
import trio

from ..engine.api import EngineError

log = logging.getLogger("pycompose.dockerapi")

#: how long a hijacked stream waits for the client to read the response head
HEAD_READ_WAIT = 1.0
#: what a request's head may take (headers); bodies are streamed
MAX_HEAD = 64 * 1024
READ_CHUNK = 65536


class ApiError(Exception):
    """A refusal with docker's status code; sent as ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


class Body:
    """A request's body, read as the handler needs it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        while not self.done:
            ev = await self._conn.next_event()
            if isinstance(ev, h11.Data):
                yield bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                self.done = True
            elif isinstance(ev, h11.ConnectionClosed):
                self.done = True
                raise bad_request("the client closed the connection before the end of "
                                  "the request body")

    async def read(self, limit: int = 16 * 1024 * 1024) -> bytes:
        """The whole body (a JSON document); past ``limit`` bytes it is refused."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        async for _ in self.chunks():
            pass


@dataclass
class Request:
    method: str
    path: str
    version: str  # the API version the client named, or the service's own
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: Body
    raw_target: str = ""

    # -- the query, typed ------------------------------------------------------------
    def arg(self, name: str, default: str = "") -> str:
        """The parameter's first value, as Go's FormValue reads it: docker-py sends an
        out-of-context Dockerfile as ``dockerfile=NAME&dockerfile=CONTENT``."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def has(self, name: str) -> bool:
        return name in self.query

    def flag(self, name: str, default: bool = False) -> bool:
        """docker's BoolValue: "", "0", "no", "false", "none" are false."""
        if name not in self.query:
            return default
        return self.arg(name).strip().lower() not in ("", "0", "no", "false", "none")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        text = self.arg(name)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise bad_request(f"invalid value for {name}: {text!r} is not an integer")

    def json_arg(self, name: str) -> Any:
        """A query parameter holding JSON (``filters``, ``buildargs``, ``labels``)."""
        text = self.arg(name)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            raise bad_request(f"invalid JSON in parameter {name}: {e}")

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.headers.get("connection", "").lower() and \
            bool(self.headers.get("upgrade"))

    async def json(self, *, required: bool = False) -> Any:
        """The body as JSON (docker's ReadJSON: an empty body is None, a body that is
        not JSON is a 400 naming the problem)."""
        ctype = self.headers.get("content-type", "")
        raw = await self.body.read()
        if not raw.strip():
            if required:
                raise bad_request("invalid JSON: got EOF while reading request body")
            return None
        if ctype and "json" not in ctype.split(";")[0]:
            raise bad_request(f"unsupported Content-Type header ({ctype}): must be "
                              "'application/json'")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise bad_request(f"invalid JSON: {e}")


# -- responses ---------------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(obj).encode() + b"\n")


def empty(status: int = 204) -> Reply:
    return Reply(status, b"", "")


@dataclass
class Stream:
    """A chunked body produced as it goes; ``chunks`` ends the response when it
    returns. An error raised after the first chunk can only end the connection."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: it may wait long between chunks: end it when the client goes away
    watch: bool = False


class Hijacked:
    """The client's connection as a raw byte pipe (after the response head)."""

    def __init__(self, stream: trio.abc.HalfCloseableStream, pending: bytes,
                 closed: bool) -> None:
        self.stream = stream
        self._pending = pending
        self._closed = closed

    async def receive_some(self, max_bytes: int = READ_CHUNK) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._closed:
            return b""
        try:
            return bytes(await self.stream.receive_some(max_bytes))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def send_all(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def head_read(self, limit: float = HEAD_READ_WAIT) -> None:
        """Until the client has read all we sent (the response head), at most ``limit``
        seconds. docker-py reads the head through a buffered reader and the stream
        from the bare socket: bytes that came in the same read as the head are lost
        to it (``attach(logs=True)`` of an ended container answered b''). On a unix
        socket the kernel counts what the peer has not read yet (SIOCOUTQ)."""
        sock = getattr(self.stream, "socket", None)
        if sock is None:
            return
        with trio.move_on_after(limit):
            while True:
                try:
                    out = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
                except OSError:
                    return
                if int.from_bytes(out, sys.byteorder) == 0:
                    return
                await trio.sleep(0.001)

    async def close_write(self) -> None:
        try:
            await self.stream.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class Hijack:
    """Take the connection over: ``run`` gets it once the head is sent."""

    run: Callable[[Hijacked], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"
    upgrade: bool = True  # 101 UPGRADED (the client asked to upgrade), else 200


Response = Reply | Stream | Hijack


# -- one connection ----------------------------------------------------------------------
class Connection:
    """One client connection: requests in, responses out, until either side ends it."""

    def __init__(self, stream: trio.abc.HalfCloseableStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._closed_by_peer = trio.Event()

    async def next_event(self) -> Any:
        while True:
            ev = self.h11.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            if self.h11.they_are_waiting_for_100_continue:
                await self.send(h11.InformationalResponse(status_code=100, headers=[]))
            try:
                data = await self.stream.receive_some(READ_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._closed_by_peer.set()
            self.h11.receive_data(bytes(data))

    async def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            await self.stream.send_all(data)

    @property
    def closed_by_peer(self) -> bool:
        return self._closed_by_peer.is_set()

    async def watch_close(self, scope: trio.CancelScope) -> None:
        """Cancel ``scope`` when the client closes its end while a handler waits
        (its request is complete: anything more it sends is kept for h11)."""
        while True:
            try:
                data = await self.stream.receive_some(READ_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._closed_by_peer.set()
                scope.cancel()
                return
            self.h11.receive_data(bytes(data))


def parse_target(target: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(target)
    return unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)


def headers_of(ev: h11.Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in ev.headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _reason(status: int) -> bytes:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def error_body(message: str) -> bytes:
    return json.dumps({"message": message}).encode() + b"\n"


async def send_reply(conn: Connection, reply: Reply, base: list[tuple[str, str]],
                     head_only: bool) -> None:
    headers = [*base, *reply.headers]
    if reply.content_type:
        headers.append(("Content-Type", reply.content_type))
    if reply.status not in (204, 304):
        headers.append(("Content-Length", str(len(reply.body))))
    await conn.send(h11.Response(status_code=reply.status, headers=headers,
                                 reason=_reason(reply.status)))
    if reply.body and not head_only and reply.status not in (204, 304):
        await conn.send(h11.Data(data=reply.body))
    await conn.send(h11.EndOfMessage())


async def send_stream(conn: Connection, resp: Stream, base: list[tuple[str, str]]) -> bool:
    """Send a chunked response; False when it had to end the connection early."""
    headers = [*base, *resp.headers, ("Content-Type", resp.content_type)]
    await conn.send(h11.Response(status_code=resp.status, headers=headers,
                                 reason=_reason(resp.status)))
    gone = False

    async def pump(scope: trio.CancelScope | None) -> None:
        try:
            async for chunk in resp.chunks:
                if chunk:
                    await conn.send(h11.Data(data=chunk))
        except ApiError as e:  # after the head: the message goes in the stream
            log.info("stream ended with an error: %s", e.message)
            await conn.send(h11.Data(data=error_body(e.message)))
        except EngineError as e:
            log.info("stream ended with an error: %s", e)
            await conn.send(h11.Data(data=error_body(str(e))))
        finally:
            if scope is not None:
                scope.cancel()

    try:
        if resp.watch and conn.h11.their_state is h11.DONE:
            async with trio.open_nursery() as n:
                n.start_soon(conn.watch_close, n.cancel_scope)
                await pump(n.cancel_scope)
            gone = conn.closed_by_peer
        else:
            await pump(None)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    finally:
        aclose = getattr(resp.chunks, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if gone:
        return False
    await conn.send(h11.EndOfMessage())
    return True


async def send_hijack(conn: Connection, resp: Hijack, base: list[tuple[str, str]],
                      upgrade_asked: bool) -> Hijacked:
    """The head of a hijacked stream, and the connection handed over raw."""
    if upgrade_asked and resp.upgrade:
        head = (f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {resp.content_type}\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\n")
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {resp.content_type}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in base) + "\r\n"
    pending, closed = conn.h11.trailing_data
    await conn.stream.send_all(head.encode("latin-1"))
    raw = Hijacked(conn.stream, bytes(pending), closed)
    await raw.head_read()
    return raw
