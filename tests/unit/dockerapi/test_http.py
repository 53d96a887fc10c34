"""The service's HTTP: h11 on a real socket pair, with routes of the test's own --
keep-alive, HEAD, chunked streams, a hijacked connection with docker's 101, errors
as ``{"message"}``, and a bad request that ends only its own connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio

from pycompose.dockerapi import system
from pycompose.dockerapi.context import Context
from pycompose.dockerapi.http import (
    ApiError,
    Hijack,
    Hijacked,
    Reply,
    Request,
    Stream,
    json_reply,
)
from pycompose.dockerapi.routes import Router, route
from pycompose.dockerapi.server import Service
from pycompose.engine.api import Conflict, NotFound


async def _echo(ctx: Context, req: Request) -> Reply:
    return json_reply({"path": req.path, "version": req.version, "q": req.arg("q"),
                       "body": await req.json()})


async def _missing(ctx: Context, req: Request, id: str) -> Reply:
    raise NotFound(f"No such container: {id}")


async def _conflict(ctx: Context, req: Request) -> Reply:
    raise Conflict("in use")


async def _bug(ctx: Context, req: Request) -> Reply:
    raise ZeroDivisionError("oops")


async def _stream(ctx: Context, req: Request) -> Stream:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"{i}\n".encode()
        raise ApiError(500, "stopped here")
    return Stream(chunks())


async def _hijack(ctx: Context, req: Request) -> Hijack:
    async def run(raw: Hijacked) -> None:
        data = await raw.receive_some()
        await raw.send_all(b"got:" + data)
    return Hijack(run, "application/vnd.docker.raw-stream")


def _service(tmp: Path) -> Service:
    svc = Service(Context(tmp), idle=0)
    svc.router = Router([route("GET", "/_ping", system.ping),
                         route("HEAD", "/_ping", system.ping),
                         route("POST", "/echo", _echo),
                         route("GET", "/things/{id}/json", _missing),
                         route("POST", "/conflict", _conflict),
                         route("GET", "/bug", _bug), route("GET", "/stream", _stream),
                         route("POST", "/attach", _hijack)])
    return svc


async def _exchange(tmp: Path, data: bytes, *, until: bytes = b"", close: bool = True,
                    svc: Any = None) -> bytes:
    a, b = trio.socket.socketpair()
    svc = svc or _service(tmp)
    out = b""
    async with trio.open_nursery() as n:
        n.start_soon(svc._connection, trio.SocketStream(b))
        client = trio.SocketStream(a)
        await client.send_all(data)
        if close:
            await client.send_eof()
        with trio.fail_after(5):
            while True:
                chunk = await client.receive_some(65536)
                if not chunk:
                    break
                out += chunk
                if until and until in out:
                    break
        await client.aclose()
    return out


async def test_ping_head_and_keep_alive(tmp_path: Path) -> None:
    out = await _exchange(tmp_path, b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
                                    b"HEAD /v1.41/_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    first, _, rest = out.partition(b"\r\n\r\nOK")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Api-Version: 1.47" in first and b"Builder-Version: 1" in first
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"\r\n\r\n")


async def test_json_in_json_out_with_the_version_prefix(tmp_path: Path) -> None:
    body = b'{"a": 1}'
    out = await _exchange(tmp_path, b"POST /v1.43/echo?q=x HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 8\r\n\r\n"
                          + body)
    doc = json.loads(out.split(b"\r\n\r\n", 1)[1])
    assert doc == {"path": "/echo", "version": "1.43", "q": "x", "body": {"a": 1}}


async def test_errors_are_dockers_statuses_and_messages(tmp_path: Path) -> None:
    out = await _exchange(tmp_path, b"GET /things/abc/json HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"POST /conflict HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                          b"GET /bug HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /v2.0/_ping HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{x}")
    assert b'HTTP/1.1 404 Not Found' in out and b'{"message": "No such container: abc"}' in out
    assert b"HTTP/1.1 409 Conflict" in out and b'"in use"' in out
    assert b"HTTP/1.1 500 Internal Server Error" in out and b"ZeroDivisionError" in out
    assert b'{"message": "page not found"}' in out
    assert b"too new" in out
    assert b"HTTP/1.1 400 Bad Request" in out and b"invalid JSON" in out


async def test_a_stream_is_chunked_and_an_error_after_its_head_goes_in_it(
        tmp_path: Path) -> None:
    out = await _exchange(tmp_path, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in out
    assert b"0\n" in out and b"2\n" in out and b'{"message": "stopped here"}' in out
    assert out.endswith(b"0\r\n\r\n")


async def test_a_hijacked_connection(tmp_path: Path) -> None:
    out = await _exchange(tmp_path, b"POST /attach HTTP/1.1\r\nHost: x\r\nConnection: "
                          b"Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\nhello",
                          until=b"got:hello", close=False)
    assert out.startswith(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker"
                          b".raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n")
    assert out.endswith(b"\r\n\r\ngot:hello")
    plain = await _exchange(tmp_path, b"POST /attach HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Length: 0\r\n\r\nhey", until=b"got:hey", close=False)
    assert plain.startswith(b"HTTP/1.1 200 OK\r\n")  # no upgrade asked: docker's 200


async def test_garbage_is_a_400_for_that_connection_only(tmp_path: Path) -> None:
    svc = _service(tmp_path)  # one service: the next connection is served by the same
    out = await _exchange(tmp_path, b"\x16\x03\x01 not http at all\r\n\r\n", svc=svc)
    assert out.startswith(b"HTTP/1.1 400 Bad Request")
    assert (await _exchange(tmp_path, b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n",
                            svc=svc)).startswith(b"HTTP/1.1 200 OK")
