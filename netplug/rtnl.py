"""A small rtnetlink client: the dozen link, address and route messages netplug sends,
packed with ``struct`` on a plain ``AF_NETLINK`` socket.

Why not pyroute2 here: its import costs 160-240 ms (every compose command that makes
a network paid it), each ``IPRoute()`` starts an asyncio loop of its own, and each
request goes through that loop and pyroute2's generic message classes, ~0.3-1 ms of
Python per message; a container's wiring is a dozen messages. Packed by hand, a
message costs a few microseconds of Python and one syscall, and opening a socket
costs as little: a socket belongs to the network namespace it was opened in
(:func:`open_socket` opens it inside one, for this thread only), so there is one per
namespace and per job, opened and closed around it, and nothing to share between
threads.

Only what netplug needs is here: links by name, veth pairs (the peer named, addressed
and brought up in its own namespace at creation), bridges, addresses, routes, and the
dumps of links and routes. Errors are :class:`NetlinkError` (an ``OSError`` with the
kernel's errno, ``.code`` as pyroute2 had it).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .nsutil import in_netns

NETLINK_ROUTE = 0
NETLINK_CAP_ACK = 10

# message types (linux/rtnetlink.h)
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3

# flags (linux/netlink.h)
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400

# attributes (linux/if_link.h, if_addr.h, rtnetlink.h, veth.h)
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 10, 18
IFLA_GROUP, IFLA_NET_NS_FD, IFLA_EXT_MASK = 27, 28, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
NLA_F_NESTED = 0x8000
RTEXT_FILTER_SKIP_STATS = 1 << 3

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4  # as pyroute2 and `ip route add` mark them
RT_SCOPE_UNIVERSE, RT_SCOPE_NOWHERE = 0, 255
RTN_UNICAST = 1

_HDR = struct.Struct("=IHHII")        # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")    # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")     # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_ATTR = struct.Struct("=HH")


class NetlinkError(OSError):
    """The kernel refused a request: ``code`` is its errno."""

    @property
    def code(self) -> int:
        return self.errno or 0


def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, data: bytes) -> bytes:
    n = _ATTR.size + len(data)
    return _ATTR.pack(n, kind) + data + b"\0" * (_align(n) - n)


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def u32(v: int) -> bytes:
    return struct.pack("=I", v)


def text(s: str) -> bytes:
    return s.encode() + b"\0"


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ip4(a: str) -> bytes:
    return ipaddress.IPv4Address(a).packed


def attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The attributes in ``data`` from ``offset`` (the last of a kind wins)."""
    out: dict[int, bytes] = {}
    while offset + _ATTR.size <= len(data):
        n, kind = _ATTR.unpack_from(data, offset)
        if n < _ATTR.size:
            break
        out[kind & ~NLA_F_NESTED] = data[offset + _ATTR.size: offset + n]
        offset += _align(n)
    return out


def cstr(b: bytes | None) -> str:
    return b.split(b"\0", 1)[0].decode() if b else ""


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    flags: int
    master: int
    kind: str


class Socket:
    """One rtnetlink socket, in the namespace it was opened in."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        try:
            self.sock.setsockopt(270, NETLINK_CAP_ACK, 1)  # SOL_NETLINK: short acks
        except OSError:
            pass
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the conversation ---------------------------------------------------------------
    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST,
                                 self.seq, 0) + body)
        return self.seq

    def _replies(self, seq: int) -> Iterator[tuple[int, bytes]]:
        """(type, payload) of each answer to request ``seq`` until its end (an ack or
        the end of a dump); a refusal raises NetlinkError."""
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _HDR.size <= len(data):
                n, kind, _flags, mseq, _pid = _HDR.unpack_from(data, off)
                payload = data[off + _HDR.size: off + n]
                off += _align(n)
                if mseq != seq:
                    continue  # an answer to an earlier request we gave up on
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return
                if kind == NLMSG_DONE:
                    return
                yield kind, payload

    def call(self, kind: int, flags: int, body: bytes) -> None:
        """A change, acknowledged (or refused) by the kernel."""
        for _ in self._replies(self._send(kind, flags | NLM_F_ACK, body)):
            pass

    def dump(self, kind: int, body: bytes) -> list[bytes]:
        return [p for _, p in self._replies(self._send(kind, NLM_F_DUMP, body))]

    # -- links ---------------------------------------------------------------------------
    @staticmethod
    def _link(payload: bytes) -> Link:
        _fam, _type, index, flags, _change = _IFINFO.unpack_from(payload)
        a = attrs(payload, _IFINFO.size)
        kind = ""
        if IFLA_LINKINFO in a:
            kind = cstr(attrs(a[IFLA_LINKINFO]).get(IFLA_INFO_KIND))
        master = struct.unpack("=I", a[IFLA_MASTER])[0] if IFLA_MASTER in a else 0
        return Link(index, cstr(a.get(IFLA_IFNAME)), flags, master, kind)

    def link(self, name: str) -> Link | None:
        """The link called ``name``, None when there is none."""
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, text(name)) + \
            attr(IFLA_EXT_MASK, u32(RTEXT_FILTER_SKIP_STATS))
        try:
            for kind, payload in self._replies(self._send(RTM_GETLINK, 0, body)):
                if kind == RTM_NEWLINK:
                    return self._link(payload)
        except NetlinkError as e:
            if e.code in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        return None

    def index(self, name: str) -> int | None:
        found = self.link(name)
        return found.index if found is not None else None

    def links(self) -> list[Link]:
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_EXT_MASK, u32(RTEXT_FILTER_SKIP_STATS))
        return [self._link(p) for p in self.dump(RTM_GETLINK, body)]

    def delete_link(self, name: str) -> bool:
        """Delete the link ``name``; False when there was none."""
        try:
            self.call(RTM_DELLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) +
                      attr(IFLA_IFNAME, text(name)))
        except NetlinkError as e:
            if e.code in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    def delete_group(self, group: int) -> bool:
        """Delete every link of device group ``group`` in one go (one unregistering,
        so one wait for the kernel instead of one per link; their veth peers, in other
        namespaces, go too); False when no link is in the group."""
        try:
            self.call(RTM_DELLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_GROUP, u32(group)))
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise
        return True

    def set_link(self, index: int, *, up: bool | None = None, master: int | None = None,
                 mac: str | None = None, name: str | None = None,
                 group: int | None = None) -> None:
        flags, change = (IFF_UP if up else 0, IFF_UP) if up is not None else (0, 0)
        body = _IFINFO.pack(0, 0, index, flags, change)
        if group is not None:
            body += attr(IFLA_GROUP, u32(group))
        if master is not None:
            body += attr(IFLA_MASTER, u32(master))
        if mac is not None:
            body += attr(IFLA_ADDRESS, mac_bytes(mac))
        if name is not None:
            body += attr(IFLA_IFNAME, text(name))
        self.call(RTM_NEWLINK, 0, body)

    def add_bridge(self, name: str, mac: str, *, group: int = 0) -> None:
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, text(name)) + \
            attr(IFLA_ADDRESS, mac_bytes(mac)) + attr(IFLA_GROUP, u32(group)) + \
            nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, text("bridge")))
        self.call(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_veth(self, name: str, peer: str, peer_netns_fd: int, *, master: int = 0,
                 up: bool = False, peer_mac: str | None = None, group: int = 0,
                 peer_group: int = 0) -> None:
        """A veth pair: ``name`` here (on bridge ``master``, up), ``peer`` made
        directly in the namespace of ``peer_netns_fd`` with its MAC. (The peer cannot
        be brought up in the same message: it is configured before its own peer
        exists, and the kernel refuses with ENOTCONN.)"""
        peer_body = _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, text(peer)) + \
            attr(IFLA_GROUP, u32(peer_group))
        if peer_mac is not None:
            peer_body += attr(IFLA_ADDRESS, mac_bytes(peer_mac))
        peer_body += attr(IFLA_NET_NS_FD, u32(peer_netns_fd))
        body = _IFINFO.pack(0, 0, 0, IFF_UP if up else 0, IFF_UP if up else 0) + \
            attr(IFLA_IFNAME, text(name)) + attr(IFLA_GROUP, u32(group))
        if master:
            body += attr(IFLA_MASTER, u32(master))
        body += nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, text("veth")),
                       nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_body)))
        self.call(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    # -- addresses -----------------------------------------------------------------------
    def add_address(self, index: int, address: str, prefixlen: int, *,
                    exist_ok: bool = False) -> None:
        body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index) + \
            attr(IFA_LOCAL, ip4(address)) + attr(IFA_ADDRESS, ip4(address))
        try:
            self.call(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        except NetlinkError as e:
            if not (exist_ok and e.code == errno.EEXIST):
                raise

    # -- routes --------------------------------------------------------------------------
    @staticmethod
    def _route(dst: str, gateway: str | None, oif: int | None, *, delete: bool = False
               ) -> bytes:
        """An rtmsg for the main table; to delete, any protocol, scope and type match
        (as ``ip route del`` asks)."""
        net = ipaddress.IPv4Network(dst, strict=False)
        body = _RTMSG.pack(socket.AF_INET, net.prefixlen, 0, 0, RT_TABLE_MAIN,
                           0 if delete else RTPROT_STATIC,
                           RT_SCOPE_NOWHERE if delete else RT_SCOPE_UNIVERSE,
                           0 if delete else RTN_UNICAST, 0)
        if net.prefixlen:
            body += attr(RTA_DST, net.network_address.packed)
        if gateway is not None:
            body += attr(RTA_GATEWAY, ip4(gateway))
        if oif is not None:
            body += attr(RTA_OIF, u32(oif))
        return body

    def add_route(self, dst: str, gateway: str | None = None, oif: int | None = None, *,
                  replace: bool = False) -> None:
        flags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
        self.call(RTM_NEWROUTE, flags, self._route(dst, gateway, oif))

    def delete_route(self, dst: str, oif: int | None = None) -> bool:
        """False when there was no such route."""
        try:
            self.call(RTM_DELROUTE, 0, self._route(dst, None, oif, delete=True))
        except NetlinkError as e:
            if e.code == errno.ESRCH:
                return False
            raise
        return True

    def routes(self) -> list[ipaddress.IPv4Network]:
        """Every IPv4 unicast destination of every table."""
        out = []
        for p in self.dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            _fam, dst_len, _s, _t, _table, _proto, _scope, rtype, _f = _RTMSG.unpack_from(p)
            if rtype != RTN_UNICAST:
                continue
            a = attrs(p, _RTMSG.size)
            dst = ipaddress.IPv4Address(a[RTA_DST]) if RTA_DST in a else "0.0.0.0"
            out.append(ipaddress.IPv4Network(f"{dst}/{dst_len}", strict=False))
        return out


def open_socket(netns: str | None = None) -> Socket:
    """An rtnetlink socket in ``netns`` (a name under /run/netns or a path; None: this
    thread's own namespace)."""
    with in_netns(netns):
        return Socket()
