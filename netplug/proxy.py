"""The userland port proxy, in trio: the fallback where the kernel path can't serve.

The kernel path (DNAT, forwarding.py) serves every IPv4 host address. It cannot serve an
IPv6 host address (``[::1]:8080:80``, or the ``::`` side of a port published on every
address): containers here are IPv4-only and nftables does not translate between
families. For those bindings the supervisor runs
``serve_binding`` (one task per ``forwarding.userland_bindings()`` entry): a listener on
the host address that copies bytes to the container's address, as docker-proxy does.
The client's address is lost on this path (the container sees the host's uplink
address); bench/net_ports.py measures what it costs next to the kernel path.
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from .state import PublishedRecord

UDP_IDLE = 30.0     # seconds a UDP "flow" with no traffic keeps its upstream socket


async def _pump(src: trio.SocketStream, dst: trio.SocketStream) -> None:
    try:
        while data := await src.receive_some(65536):
            await dst.send_all(data)
        await dst.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


async def _tcp_conn(client: trio.SocketStream, target: tuple[str, int]) -> None:
    async with client:
        try:
            upstream = await trio.open_tcp_stream(*target)
        except OSError:
            return
        async with upstream, trio.open_nursery() as n:
            n.start_soon(_pump, client, upstream)
            n.start_soon(_pump, upstream, client)


async def serve_tcp(host_ip: str, host_port: int, target: tuple[str, int], *,
                    task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    listeners = await trio.open_tcp_listeners(host_port, host=host_ip or None)
    task_status.started()

    async def handler(stream: trio.SocketStream) -> None:
        await _tcp_conn(stream, target)

    await trio.serve_listeners(handler, listeners)


async def serve_udp(host_ip: str, host_port: int, target: tuple[str, int], *,
                    task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """One upstream socket per client address, so replies find their way back."""
    fam = trio.socket.AF_INET6 if ":" in host_ip else trio.socket.AF_INET
    sock = trio.socket.socket(fam, trio.socket.SOCK_DGRAM)
    if fam == trio.socket.AF_INET6:     # "::" must not take the IPv4 side (the kernel's)
        sock.setsockopt(trio.socket.IPPROTO_IPV6, trio.socket.IPV6_V6ONLY, 1)
    await sock.bind((host_ip or "0.0.0.0", host_port))
    task_status.started()
    flows: dict[Any, trio.socket.SocketType] = {}

    async def back(client: Any, up: trio.socket.SocketType) -> None:
        with up:
            while True:
                with trio.move_on_after(UDP_IDLE) as idle:
                    data = await up.recv(65536)
                if idle.cancelled_caught:
                    del flows[client]
                    return
                with contextlib.suppress(OSError):      # that client is gone: drop
                    await sock.sendto(data, client)

    with sock:
        async with trio.open_nursery() as n:
            while True:
                data, client = await sock.recvfrom(65536)
                up = flows.get(client)
                if up is None:
                    up = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
                    await up.connect(target)
                    flows[client] = up
                    n.start_soon(back, client, up)
                with contextlib.suppress(OSError):      # container not there (yet)
                    await up.send(data)


async def serve_binding(p: PublishedRecord, *,
                        task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    serve = serve_tcp if p.proto == "tcp" else serve_udp
    await serve(p.host_ip, p.host_port, (p.container_ip, p.container_port),
                task_status=task_status)
