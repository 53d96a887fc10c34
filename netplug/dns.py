"""Service discovery: a DNS server per network, run as trio tasks in the supervisor.

Each network gets a UDP socket bound to its gateway address on port 53, opened inside
the network's namespace (a socket stays in the namespace it was made in), so the
container's resolv.conf says ``nameserver <gateway>``. A query is answered from the
names of *that* network -- service names (every replica's address, rotated for round
robin), container names, hostnames, aliases, short container ids, and the ``links``
aliases of the container that asks -- so a name resolves on exactly the networks where
docker would resolve it. Other names are relayed, bytes as they are, to the asking
container's own ``dns`` servers or the host's resolvers (/etc/resolv.conf).

Packets are parsed and built with dnspython; the answer logic (``build_views``,
``answer``) is pure and unit-tested; ``DnsServer`` is the trio shell around it. The
state is reloaded when it changes on disk (``notify()`` for an immediate reload, plus a
one-second check of the state file's mtime for changes made by other processes).
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import StateDamaged
from .names import netns_name
from .state import AttachmentRecord, State

log = logging.getLogger("pycompose.netplug")

if TYPE_CHECKING:
    import dns.message

    from .networks import Networks

TTL = 0          # docker's embedded DNS answers with TTL 600; 0 keeps scale-ups visible


@dataclass
class NetView:
    """What one network's DNS server knows."""

    network: str
    netns: str
    gateway: str
    internal: bool
    names: dict[str, list[str]] = field(default_factory=dict)     # name -> IPs
    by_ip: dict[str, AttachmentRecord] = field(default_factory=dict)


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def build_views(st: State, rid: str) -> dict[str, NetView]:
    views = {}
    for net in st.networks.values():
        v = NetView(net.name, netns_name(rid, net.scope), net.gateway, net.internal)
        for att in net.attachments.values():
            v.by_ip[att.ip] = att
            if not net.dns_names:
                continue
            names = [att.name, *att.aliases, att.container_id[:12]]
            for n in dict.fromkeys(_norm(n) for n in names if n):
                v.names.setdefault(n, []).append(att.ip)
        views[net.name] = v
    return views


_rotation = itertools.count()


def lookup(view: NetView, qname: str, source_ip: str | None) -> list[str] | None:
    """The addresses of ``qname`` on this network, as ``source_ip`` sees them."""
    name = _norm(qname)
    asker = view.by_ip.get(source_ip or "")
    if asker is not None and asker.links:
        target = {_norm(k): v for k, v in asker.links.items()}.get(name)
        if target is not None:
            name = _norm(target)
    ips = view.names.get(name)
    if not ips:
        return None
    k = next(_rotation) % len(ips)
    return ips[k:] + ips[:k]


def views_for(views: dict[str, NetView], network: str,
              source_ip: str | None) -> list[NetView]:
    """The networks whose names the asker sees: the one it asked on first, then every
    other network it is attached to (docker's embedded DNS answers for all of them,
    while resolv.conf can name only one server)."""
    first = views.get(network)
    if first is None:
        return []
    asker = first.by_ip.get(source_ip or "")
    out = [first]
    if asker is not None:
        out += [v for v in views.values() if v is not first and any(
            a.container_id == asker.container_id for a in v.by_ip.values())]
    return out


def answer_on(views: dict[str, NetView], network: str, query: dns.message.Message,
              source_ip: str | None) -> dns.message.Message | None:
    """``answer`` over every network the asker is on (its address on each as source)."""
    mine = views_for(views, network, source_ip)
    if not mine:
        return None
    asker = mine[0].by_ip.get(source_ip or "")
    for v in mine:
        src = source_ip
        if asker is not None and v is not mine[0]:
            src = next((ip for ip, a in v.by_ip.items()
                        if a.container_id == asker.container_id), None)
        resp = answer(v, query, src)
        if resp is not None:
            return resp
    return None


def answer(view: NetView, query: dns.message.Message,
           source_ip: str | None) -> dns.message.Message | None:
    """Our answer to a query on one network, or None: not ours, relay it upstream."""
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    if len(query.question) != 1:
        return None
    q = query.question[0]
    if q.rdclass != dns.rdataclass.IN:
        return None
    if q.rdtype == dns.rdatatype.PTR:
        return _reverse(view, query)
    ips = lookup(view, q.name.to_text(), source_ip)
    if ips is None:
        return None
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.AA | dns.flags.RA
    if q.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        resp.answer.append(dns.rrset.from_text_list(q.name, TTL, "IN", "A", ips))
    # AAAA and other types of a known name: NOERROR with no records (IPv4 only here)
    return resp


def _reverse(view: NetView, query: dns.message.Message) -> dns.message.Message | None:
    """PTR for a container's address on this network: its container name, as docker."""
    import dns.exception
    import dns.message
    import dns.reversename
    import dns.rrset

    q = query.question[0]
    try:
        ip = dns.reversename.to_address(q.name)
    except (dns.exception.SyntaxError, ValueError):
        return None
    att = view.by_ip.get(ip)
    if att is None or not (att.name or att.aliases):
        return None
    resp = dns.message.make_response(query)
    target = (att.name or att.aliases[0]) + "."
    resp.answer.append(dns.rrset.from_text(q.name, TTL, "IN", "PTR", target))
    return resp


def error_response(wire: bytes, rcode: Any) -> bytes | None:
    import dns.exception
    import dns.message

    try:
        q = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    return bytes(r.to_wire())


def _ns_key(v: NetView) -> str | None:
    from .nsutil import netns_path

    try:
        st = os.stat(netns_path(v.netns))
    except OSError:
        return None
    return f"{v.netns}/{st.st_dev}:{st.st_ino}/{v.gateway}"


def _socket_in(netns: str, ip: str, port: int, kind: int) -> socket.socket:
    """A UDP or listening TCP socket bound to ip:port inside ``netns``."""
    from .nsutil import in_netns

    with in_netns(netns):
        s = socket.socket(socket.AF_INET, kind)
    try:
        s.setsockopt(socket.SOL_IP, 15, 1)      # IP_FREEBIND: the bridge may come later
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            s.listen(64)
    except BaseException:
        s.close()
        raise
    return s


class DnsServer:
    """The DNS servers of every network of a state root, as trio tasks::

        async with trio.open_nursery() as n:
            await n.start(DnsServer(nets).run)
    """

    def __init__(self, nets: Networks, *, upstreams: Sequence[str] | None = None,
                 port: int = 53, timeout: float = 2.0) -> None:
        import trio

        from .etcfiles import read_host_resolv

        self.nets = nets
        self.port = port
        self.timeout = timeout
        self.upstreams = list(upstreams) if upstreams is not None else [
            s for s in read_host_resolv()[0] if not ipaddress.ip_address(s).is_loopback]
        self.views: dict[str, NetView] = {}
        self._mtime = -1
        self._wake = trio.Event()
        self._serving: dict[str, tuple[str | None, Any]] = {}      # network -> (key, cancel scope)

    def notify(self) -> None:
        """The state changed: reload now."""
        self._wake.set()

    async def run(self, *, task_status: Any = None) -> None:
        import trio

        async with trio.open_nursery() as nursery:
            await self._reload(nursery)
            if task_status is not None:
                task_status.started()
            while True:
                with trio.move_on_after(1.0):
                    await self._wake.wait()
                self._wake = trio.Event()
                await self._reload(nursery)

    async def _reload(self, nursery: Any) -> None:
        import trio

        mtime = self.nets.store.mtime_ns()
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            st = await trio.to_thread.run_sync(self.nets.store.read)
        except StateDamaged as e:  # keep serving what was known; say why, once a change
            log.warning("DNS keeps its last view: %s", e)
            return
        self.views = build_views(st, self.nets.rid)
        # A socket keeps its namespace alive: a network removed (or its namespace made
        # anew by down+up) must lose its socket, so the key has the namespace's inode.
        keys = {name: _ns_key(v) for name, v in self.views.items()}
        for name in list(self._serving):
            key, scope = self._serving[name]
            if keys.get(name) != key:
                scope.cancel()
                del self._serving[name]
        for name, v in self.views.items():
            if name in self._serving or keys[name] is None:
                continue
            try:
                udp = await trio.to_thread.run_sync(_socket_in, v.netns, v.gateway,
                                                    self.port, socket.SOCK_DGRAM)
            except Exception:
                continue        # namespace not there yet (or gone): next reload retries
            try:
                tcp = await trio.to_thread.run_sync(_socket_in, v.netns, v.gateway,
                                                    self.port, socket.SOCK_STREAM)
            except Exception:
                udp.close()
                continue        # namespace not there yet (or gone): next reload retries
            scope = trio.CancelScope()
            self._serving[name] = (keys[name], scope)
            nursery.start_soon(self._serve, name, udp, tcp, scope)

    async def _serve(self, network: str, udp: socket.socket, tcp: socket.socket,
                     scope: Any) -> None:
        import trio

        with scope:
            tudp = trio.socket.from_stdlib_socket(udp)
            listener = trio.SocketListener(trio.socket.from_stdlib_socket(tcp))
            async with trio.open_nursery() as nursery, listener:
                with tudp:
                    nursery.start_soon(trio.serve_listeners,
                                       lambda st: self._tcp_client(network, st), [listener])
                    while True:
                        data, addr = await tudp.recvfrom(4096)
                        nursery.start_soon(self._udp_query, network, tudp, data, addr)

    async def _udp_query(self, network: str, tsock: Any, data: bytes, addr: Any) -> None:
        # One bad packet or one unreachable client must never take the server (and
        # the supervisor's nursery with it) down: the query is dropped, as a server
        # under trouble does; the client retries.
        try:
            reply = await self.respond(network, data, addr[0], tcp=False)
            if reply is not None:
                await tsock.sendto(reply, addr)
        except Exception:
            return

    async def _tcp_client(self, network: str, stream: Any) -> None:
        """DNS over TCP (RFC 7766): two-byte length, message; clients retry here when
        a UDP answer was truncated (many replicas)."""
        import trio

        async with stream:
            buf = b""
            try:
                while True:
                    with trio.move_on_after(10) as idle:
                        chunk = await stream.receive_some(65536)
                    if idle.cancelled_caught or not chunk:
                        return
                    buf += chunk
                    while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                        n = int.from_bytes(buf[:2], "big")
                        data, buf = buf[2:2 + n], buf[2 + n:]
                        ip = stream.socket.getpeername()[0]
                        reply = await self.respond(network, data, ip, tcp=True)
                        if reply is not None:
                            await stream.send_all(len(reply).to_bytes(2, "big") + reply)
            except Exception:           # see _udp_query: drop the client, keep serving
                return

    async def respond(self, network: str, data: bytes, source_ip: str, *,
                      tcp: bool) -> bytes | None:
        """The reply to one query on one network: ours, relayed, or SERVFAIL."""
        import dns.exception
        import dns.flags
        import dns.message
        import dns.rcode

        view = self.views.get(network)
        if view is None:
            return None
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None                 # not DNS: drop, as servers do
        resp = answer_on(self.views, network, query, source_ip)
        if resp is not None:
            limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
            try:
                return bytes(resp.to_wire(max_size=limit))
            except dns.exception.TooBig:
                resp.answer.clear()
                resp.flags |= dns.flags.TC      # "ask again over TCP"
                return bytes(resp.to_wire())
        att = view.by_ip.get(source_ip)
        upstreams = (att.dns if att is not None and att.dns else self.upstreams)
        reply = None if view.internal else await self._relay(data, upstreams, tcp=tcp)
        if reply is None:
            reply = error_response(data, dns.rcode.SERVFAIL)
        return reply

    async def _relay(self, data: bytes, upstreams: Sequence[str], *,
                     tcp: bool = False) -> bytes | None:
        """Send the query as it is to each upstream in turn (from the host's
        namespace), over the transport it came on; the first reply wins."""
        import trio

        for server in upstreams:
            host, _, port = server.partition("#")       # "127.0.0.1#5353" for tests
            with trio.move_on_after(self.timeout):
                try:
                    if tcp:
                        return await _relay_tcp(host, int(port or 53), data)
                    return await _relay_udp(host, int(port or 53), data)
                except OSError:
                    continue
        return None


async def _relay_udp(host: str, port: int, data: bytes) -> bytes:
    import trio

    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with trio.socket.socket(fam, socket.SOCK_DGRAM) as s:
        await s.connect((host, port))
        await s.send(data)
        while True:
            reply = await s.recv(65535)
            if reply[:2] == data[:2]:
                return bytes(reply)


async def _relay_tcp(host: str, port: int, data: bytes) -> bytes:
    import trio

    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        await stream.send_all(len(data).to_bytes(2, "big") + data)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], "big"):
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise OSError("upstream closed the connection")
            buf += chunk
        return buf[2:2 + int.from_bytes(buf[:2], "big")]
