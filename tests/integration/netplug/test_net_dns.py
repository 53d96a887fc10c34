"""Service discovery on real namespaces: names answer per network, replicas all come
back, other names are relayed upstream (a fake upstream on loopback here)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rrset
import trio

from pycompose.netplug import DnsServer, Networks, resolv_conf_for

Ctr = Callable[[], str]

CLIENT = """
import socket, sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.lifetime = 3
r.use_edns(False)      # as busybox and glibc ask: 512-byte UDP answers
try:
    ips = [a.address for a in r.resolve(sys.argv[2], "A")]
except dns.resolver.NXDOMAIN:
    print("NXDOMAIN"); sys.exit(0)
print(" ".join(ips))
if len(sys.argv) > 3:
    s = socket.create_connection((ips[0], int(sys.argv[3])), timeout=3)
    print(s.recv(100).decode().strip())
"""


async def resolve(ns: str, server: str, name: str, port: int | None = None) -> list[str]:
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, server, name]
    if port is not None:
        cmd.append(str(port))
    r = await trio.run_process(cmd, capture_stdout=True, capture_stderr=True, check=False)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    return sorted(lines[0].split(), key=_ip_key) + lines[1:2]


def _ip_key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(".")) if text[0].isdigit() else (0,)


async def fake_upstream(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Knows one name, example.test; everything else is NXDOMAIN."""
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as s:
        await s.bind(("127.0.0.1", 0))
        task_status.started(s.getsockname()[1])
        while True:
            data, addr = await s.recvfrom(4096)
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            if q.question[0].name.to_text() == "example.test.":
                r.answer.append(dns.rrset.from_text("example.test.", 60, "IN", "A", "10.0.0.99"))
            else:
                r.set_rcode(dns.rcode.NXDOMAIN)
            await s.sendto(r.to_wire(), addr)


async def test_names_resolve_and_reach_per_network(nets: Networks, make_ctr: Ctr,
                                                   serve: Callable[[str | None, int], None]
                                                   ) -> None:
    front = nets.ensure("d1_default", project="d1")
    nets.ensure("d1_back", project="d1")
    web1, web2, db, other = make_ctr(), make_ctr(), make_ctr(), make_ctr()
    w1 = nets.attach("d1_default", "1" * 64, f"/run/netns/{web1}",
                     aliases=["web", "web-host"], container_name="d1-web-1")
    w2 = nets.attach("d1_default", "2" * 64, f"/run/netns/{web2}", aliases=["web"],
                     container_name="d1-web-2", links={"store": "d1-db-1"})
    d = nets.attach("d1_default", "3" * 64, f"/run/netns/{db}",
                    aliases=["db", "database"], container_name="d1-db-1")
    nets.attach("d1_back", "4" * 64, f"/run/netns/{other}", aliases=["other"])
    back_gw = nets.inspect("d1_back").gateway
    serve(db, 5432)
    async with trio.open_nursery() as nursery:
        up_port = await nursery.start(fake_upstream)
        server = DnsServer(nets, upstreams=[f"127.0.0.1#{up_port}"])
        await nursery.start(server.run)
        gw = front.gateway
        assert await resolve(web1, gw, "web") == sorted([w1.ip, w2.ip])
        assert await resolve(web1, gw, "database", 5432) == [d.ip, "hello tcp"]
        assert await resolve(web1, gw, "d1-db-1") == [d.ip]
        assert await resolve(db, gw, "web-host") == [w1.ip]
        assert await resolve(web2, gw, "store") == [d.ip]       # links: only for web2
        assert await resolve(web1, gw, "store") == ["NXDOMAIN"]
        assert await resolve(web1, gw, "other") == ["NXDOMAIN"]  # another network's name
        assert await resolve(other, back_gw, "web") == ["NXDOMAIN"]
        assert await resolve(other, back_gw, "other") != ["NXDOMAIN"]
        assert await resolve(web1, gw, "example.test") == ["10.0.0.99"]   # relayed
        # a container that arrives later is seen without a restart of the server
        late = make_ctr()
        nets.attach("d1_default", "5" * 64, f"/run/netns/{late}", aliases=["late"])
        server.notify()
        await trio.sleep(0.1)
        assert len(await resolve(web1, gw, "late")) == 1
        # 40 replicas do not fit a 512-byte UDP answer: truncated, then asked over TCP
        many = []
        for i in range(40):
            ctr = make_ctr()
            many.append(nets.attach("d1_default", f"m{i:063d}", f"/run/netns/{ctr}",
                                    aliases=["many"]).ip)
        server.notify()
        await trio.sleep(0.1)
        assert await resolve(web1, gw, "many") == sorted(many, key=_ip_key)
        # down, then up again: the server follows the new namespace
        nets.cleanup_project("d1")
        server.notify()
        await trio.sleep(0.1)
        gw2 = nets.ensure("d1_default", project="d1").gateway
        again = make_ctr()
        a2 = nets.attach("d1_default", "6" * 64, f"/run/netns/{again}", aliases=["web"])
        server.notify()
        await trio.sleep(0.1)
        assert await resolve(again, gw2, "web") == [a2.ip]
        nursery.cancel_scope.cancel()
    assert f"nameserver {gw}" in resolv_conf_for(nameservers=[gw])
