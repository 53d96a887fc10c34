"""IPv6 host addresses: served by the userland proxy (the kernel can't DNAT v6 -> v4)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import trio

from pycompose.netplug import Networks, PortBinding
from pycompose.netplug.forwarding import userland_bindings
from pycompose.netplug.services import NetworkServices


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


async def test_ipv6_host_address_through_the_userland_proxy(
        nets: Networks, make_ctr: Callable[[], str],
        serve: Callable[[str | None, int], None]) -> None:
    if not _has_ipv6_loopback():
        import pytest
        pytest.skip("this host has no IPv6 loopback")
    nets.ensure("x1_default", project="x1")
    ctr = make_ctr()
    att = nets.attach("x1_default", "a" * 64, f"/run/netns/{ctr}")
    serve(ctr, 80)
    got = nets.publish("a" * 64, att.ip, [PortBinding("::1", None, 80, "tcp"),
                                          PortBinding("::1", None, 80, "udp"),
                                          PortBinding("", None, 80, "tcp")])
    todo = userland_bindings(nets.store)
    assert {(p.host_ip, p.proto) for p in todo} == {("::1", "tcp"), ("::1", "udp"),
                                                    ("::", "tcp")}
    async with trio.open_nursery() as n:
        services = NetworkServices(nets, dns_port=0)
        await n.start(services.run)
        await trio.sleep(0.1)                  # the proxies start in the background
        stream = await trio.open_tcp_stream("::1", got[0].host_port)
        async with stream:
            assert (await stream.receive_some(100)).startswith(b"hello tcp")
        with trio.socket.socket(trio.socket.AF_INET6, trio.socket.SOCK_DGRAM) as u:
            await u.connect(("::1", got[1].host_port))
            await u.send(b"v6")
            with trio.fail_after(3):
                assert await u.recv(100) == b"hello v6"
        # a port published on every address answers on IPv6 too (and IPv4: the kernel)
        for host in ("::1", "127.0.0.1"):
            stream = await trio.open_tcp_stream(host, got[2].host_port)
            async with stream:
                assert (await stream.receive_some(100)).startswith(b"hello tcp")
        # unpublished: the proxy stops and the port is free again
        nets.unpublish("a" * 64)
        services.notify()
        await trio.sleep(0.1)
        with trio.socket.socket(trio.socket.AF_INET6) as again:
            await again.bind(("::1", got[0].host_port))
        n.cancel_scope.cancel()
