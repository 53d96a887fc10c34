"""The seam to the kernel: links, addresses, routes (rtnl.py, our own rtnetlink
messages), nftables (nftctx.py: libnftables in-process), sysctls. Everything above it
(networks.py) decides; this module only does.

Blocking calls: from trio, run them in a worker thread. A netlink socket belongs to
the namespace it was opened in, so ``_sock(ns)`` opens it inside ``in_netns`` (this
thread only). pyroute2 is left for conntrack (``forget_flows``), imported there.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from pycompose.util.besteffort import best_effort

from . import nftctx, rtnl
from .errors import NetplugError
from .names import NETDEV_GROUP, UPLINK_PEER
from .nsutil import add_netns, del_netns, netns_exists, netns_path, write_sysctl

log = logging.getLogger("pycompose.netplug")


@contextlib.contextmanager
def _sock(netns: str | None = None) -> Iterator[rtnl.Socket]:
    """An rtnetlink socket in ``netns`` (None: this thread's), closed after the block."""
    s = rtnl.open_socket(netns)
    try:
        yield s
    finally:
        s.close()


@contextlib.contextmanager
def _netlink_errors(what: str) -> Iterator[None]:
    """A netlink error becomes a NetplugError naming the object."""
    try:
        yield
    except rtnl.NetlinkError as e:
        raise NetplugError(f"{what}: {os.strerror(e.code) or e}") from e


def host_routes() -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination routed on the host (all tables but local/broadcast), so
    that a new subnet never shadows one the host reaches."""
    with _sock() as s:
        return s.routes()


def link_exists(ifname: str, netns: str | None = None) -> bool:
    with _sock(netns) as s:
        return s.link(ifname) is not None


def host_links(prefix: str) -> list[str]:
    with _sock() as s:
        return sorted(link.name for link in s.links() if link.name.startswith(prefix))


def delete_link(ifname: str, netns: str | None = None) -> None:
    if netns is None and not os.path.lexists(f"/sys/class/net/{ifname}"):
        return  # sysfs answers for the host without the kernel's rtnl lock
    with _sock(netns) as s, best_effort(log, "delete link %s", ifname):
        s.delete_link(ifname)


def ensure_scope_ns(ns: str, uplink: str, uplink_net: ipaddress.IPv4Network) -> None:
    """A namespace of ours with its uplink: host end ``uplink`` (.1), namespace end
    ``up0`` (.2), default route to the host, forwarding on inside (it is our router)."""
    add_netns(ns)
    host_ip, ns_ip = (str(a) for a in list(uplink_net.hosts())[:2])
    write_sysctl("net.ipv4.ip_forward", "1", ns)
    with _sock(ns) as nsr, _sock() as hr, _netlink_errors(f"uplink {uplink} of {ns}"):
        hi, ni = hr.index(uplink), nsr.index(UPLINK_PEER)
        if hi is None or ni is None:
            # half made (a crash), or the host end of a namespace that is going away
            # (the kernel deletes it with that namespace, a moment later): anew
            if hi is not None:
                hr.delete_link(uplink)
            if ni is not None:
                nsr.delete_link(UPLINK_PEER)
            fd = os.open(netns_path(ns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                hr.add_veth(uplink, UPLINK_PEER, fd, up=True, peer_group=NETDEV_GROUP)
            finally:
                os.close(fd)
            hi, ni = hr.index(uplink), nsr.index(UPLINK_PEER)
        assert hi is not None and ni is not None
        hr.add_address(hi, host_ip, 30, exist_ok=True)
        hr.set_link(hi, up=True)
        nsr.add_address(ni, ns_ip, 30, exist_ok=True)
        nsr.set_link(ni, up=True, group=NETDEV_GROUP)
        lo = nsr.index("lo")
        if lo is not None:
            nsr.set_link(lo, up=True)
        nsr.add_route("0.0.0.0/0", gateway=host_ip, oif=ni, replace=True)
    # 127.0.0.1:PORT published ports are DNATed to a container: the packets keep their
    # loopback source until postrouting masquerades them, and the kernel drops such
    # packets unless route_localnet is on for the outgoing link -- ours only.
    write_sysctl(f"net.ipv4.conf.{uplink}.route_localnet", "1")


def delete_scope_ns(ns: str, uplink: str, veths: Iterable[str] = ()) -> None:
    """A namespace of ours and everything in it, gone when this returns: its links
    (bridges, veth ends and with them their peers: the uplink's host end, containers'
    eth0s) deleted in one request (their device group), then its name. (Its name alone
    would leave them to the kernel's teardown of the namespace, a moment later.) When
    no link has the group (made by an older pycompose, or half made), ``veths`` (bridge
    ends in ``ns``) and the uplink go by name."""
    deleted = False
    if netns_exists(ns):
        with _sock(ns) as s:
            with best_effort(log, "delete the links of %s", ns):
                deleted = s.delete_group(NETDEV_GROUP)
            for veth in veths if not deleted else ():
                with best_effort(log, "delete link %s in %s", veth, ns):
                    s.delete_link(veth)
    if not deleted:
        delete_link(uplink)
    del_netns(ns)


def ensure_bridge(ns: str, bridge: str, gateway: str, prefixlen: int, mac: str) -> None:
    """A bridge with the gateway address and a MAC of its own: a bridge without one
    takes the lowest MAC of its ports, which changes as containers come and go, and
    every container's ARP entry for the gateway goes stale (seconds of silence)."""
    with _sock(ns) as s, _netlink_errors(f"bridge {bridge} in {ns}"):
        idx = s.index(bridge)
        if idx is None:
            s.add_bridge(bridge, mac, group=NETDEV_GROUP)
            idx = s.index(bridge)
            assert idx is not None
        else:
            s.set_link(idx, mac=mac, group=NETDEV_GROUP)
        s.add_address(idx, gateway, prefixlen, exist_ok=True)
        s.set_link(idx, up=True)


def ensure_host_route(subnet: str, uplink: str, via: str) -> None:
    with _sock() as s, _netlink_errors(f"route to {subnet} via {uplink}"):
        s.add_route(subnet, gateway=via, oif=s.index(uplink), replace=True)


def delete_host_route(subnet: str, uplink: str) -> None:
    with _sock() as s:
        idx = s.index(uplink)
        if idx is not None:
            with best_effort(log, "delete the route to %s via %s", subnet, uplink):
                s.delete_route(subnet, oif=idx)


def wire_container(ns: str, bridge: str, veth: str, tmp: str, target_netns: str,
                   ifname: str, ip: str, prefixlen: int, mac: str,
                   gateway: str | None) -> None:
    """One attachment: a veth pair, ``veth`` on the bridge in ``ns``, the other end
    ``ifname`` in the container's namespace with its address, and a default route via
    the gateway unless the container has one already (its first network wins).

    The pair is made in one message: the bridge end enslaved and up, the container's
    end made in the container's namespace under its final name, with its MAC.
    (``tmp`` is the name an older pycompose gave that end before renaming it; deleting
    the bridge end of a crashed attempt deletes its peer too, whatever its name.)"""
    fd = os.open(netns_path(target_netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _sock(ns) as nsr, _sock(target_netns) as cr, \
                _netlink_errors(f"attaching {ifname} ({ip}) to {bridge}"):
            nsr.delete_link(veth)                   # a crashed earlier attempt
            if cr.link(ifname) is not None:
                raise NetplugError(f"the container already has an interface {ifname}")
            br = nsr.index(bridge)
            if br is None:
                raise NetplugError(f"bridge {bridge} is missing in {ns}: recreate the "
                                   "network (down, then up)")
            nsr.add_veth(veth, ifname, fd, master=br, up=True, peer_mac=mac,
                         group=NETDEV_GROUP)
            c = cr.index(ifname)
            assert c is not None
            cr.add_address(c, ip, prefixlen)
            cr.set_link(c, up=True)
            lo = cr.index("lo")
            if lo is not None:
                cr.set_link(lo, up=True)
            if gateway is not None:
                try:
                    cr.add_route("0.0.0.0/0", gateway=gateway, oif=c)
                except rtnl.NetlinkError as e:
                    if e.code != errno.EEXIST:   # its first network's route stays
                        raise
    finally:
        os.close(fd)


def unwire_container(ns: str, veth: str) -> None:
    """Delete the bridge end: the kernel deletes the container's end with it."""
    with contextlib.suppress(NetplugError):
        delete_link(veth, ns)


def bridge_ports(ns: str, bridge: str) -> list[str]:
    with _sock(ns) as s:
        br = s.index(bridge)
        if br is None:
            return []
        return [link.name for link in s.links() if link.master == br]


def nft(text: str, netns: str | None = None) -> None:
    """Apply a ruleset in one transaction (nftctx.py: libnftables in-process)."""
    nftctx.run(text, netns)


def nft_tables() -> list[str]:
    out = nftctx.run("list tables ip\n")
    return [line.split()[-1] for line in out.splitlines() if line.startswith("table")]


def delete_nft_table(table: str) -> None:
    """Gone whether or not it was there (one transaction: add it if missing, delete)."""
    nft(f"add table ip {table}\ndelete table ip {table}\n")


def ip_forward() -> bool:
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        return f.read().strip() == "1"


def set_ip_forward(on: bool) -> None:
    write_sysctl("net.ipv4.ip_forward", "1" if on else "0")


def bridges(ns: str) -> list[str]:
    """Our bridges in a namespace of ours (``br-*``)."""
    with _sock(ns) as s:
        return [link.name for link in s.links()
                if link.kind == "bridge" and link.name.startswith("br-")]


def forget_flows(container_ip: str, proto: str, port: int) -> int:
    """Delete the conntrack entries of flows DNATed to ``container_ip:port``: a UDP
    "connection" lives on while packets keep coming, so without this a client would
    keep reaching an unpublished (or re-published) port's old container."""
    import socket as s

    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    n = 0
    ct = Conntrack()
    try:
        num = s.IPPROTO_UDP if proto == "udp" else s.IPPROTO_TCP
        flt = NFCTAttrTuple(saddr=container_ip, proto=num, sport=port)
        for entry in list(ct.dump_entries(tuple_reply=flt)):
            with contextlib.suppress(Exception):  # raced with its own expiry: gone anyway
                ct.delete(entry)
                n += 1
    finally:
        ct.close()
    return n
