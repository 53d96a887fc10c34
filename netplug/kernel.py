"""The seam to the kernel: links, addresses, routes (pyroute2), nftables (``nft``),
sysctls. Everything above it (networks.py) decides; this module only does.

pyroute2's sync ``IPRoute`` runs an asyncio loop of its own: call this module from a
worker thread when in trio (``trio.to_thread.run_sync``). A netlink socket belongs to
the namespace it was opened in, so ``_ipr(ns)`` opens it inside ``in_netns``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import subprocess
from collections.abc import Iterator
from typing import Any

from pycompose.util.besteffort import best_effort

from .errors import NetplugError
from .names import UPLINK_PEER
from .nsutil import add_netns, in_netns, netns_path, write_sysctl

log = logging.getLogger("pycompose.netplug")


@contextlib.contextmanager
def _ipr(netns: str | None = None) -> Iterator[Any]:
    from pyroute2 import IPRoute

    with in_netns(netns):
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: Any, ifname: str) -> int | None:
    """One RTM_GETLINK by name (``link_lookup`` dumps every link: O(ports))."""
    from pyroute2 import NetlinkError

    try:
        return int(ipr.link("get", ifname=ifname)[0]["index"])
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise


@contextlib.contextmanager
def _netlink_errors(what: str) -> Iterator[None]:
    """A netlink error becomes a NetplugError naming the object."""
    from pyroute2 import NetlinkError

    try:
        yield
    except NetlinkError as e:
        raise NetplugError(f"{what}: {os.strerror(e.code) or e}") from e


def host_routes() -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination routed on the host (all tables but local/broadcast), so
    that a new subnet never shadows one the host reaches."""
    out = []
    with _ipr() as ipr:
        for r in ipr.get_routes(family=2):
            if r.get("type", 1) != 1:   # unicast only: skips local/broadcast
                continue
            dst = r.get_attr("RTA_DST") or "0.0.0.0"
            out.append(ipaddress.IPv4Network(f"{dst}/{r['dst_len']}", strict=False))
    return out


def link_exists(ifname: str, netns: str | None = None) -> bool:
    with _ipr(netns) as ipr:
        return _index(ipr, ifname) is not None


def host_links(prefix: str) -> list[str]:
    with _ipr() as ipr:
        return sorted(n for link in ipr.get_links()
                      if (n := link.get_attr("IFLA_IFNAME") or "").startswith(prefix))


def delete_link(ifname: str, netns: str | None = None) -> None:
    with _ipr(netns) as ipr:
        idx = _index(ipr, ifname)
        if idx is not None:
            with best_effort(log, "delete link %s", ifname):
                ipr.link("del", index=idx)


def ensure_scope_ns(ns: str, uplink: str, uplink_net: ipaddress.IPv4Network) -> None:
    """A namespace of ours with its uplink: host end ``uplink`` (.1), namespace end
    ``up0`` (.2), default route to the host, forwarding on inside (it is our router)."""
    add_netns(ns)
    host_ip, ns_ip = list(uplink_net.hosts())[:2]
    write_sysctl("net.ipv4.ip_forward", "1", ns)
    with _ipr(ns) as nsr, _ipr() as hr, _netlink_errors(f"uplink {uplink} of {ns}"):
        if _index(hr, uplink) is None or _index(nsr, UPLINK_PEER) is None:
            # half made (a crash): start this link again
            if (i := _index(hr, uplink)) is not None:
                hr.link("del", index=i)
            if (i := _index(nsr, UPLINK_PEER)) is not None:
                nsr.link("del", index=i)
            fd = os.open(netns_path(ns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                hr.link("add", ifname=uplink, kind="veth",
                        peer={"ifname": UPLINK_PEER, "net_ns_fd": fd})
            finally:
                os.close(fd)
        hi = _index(hr, uplink)
        ni = _index(nsr, UPLINK_PEER)
        assert hi is not None and ni is not None
        if not hr.get_addr(index=hi, address=str(host_ip)):
            hr.addr("add", index=hi, address=str(host_ip), prefixlen=30)
        hr.link("set", index=hi, state="up")
        if not nsr.get_addr(index=ni, address=str(ns_ip)):
            nsr.addr("add", index=ni, address=str(ns_ip), prefixlen=30)
        nsr.link("set", index=ni, state="up")
        lo = _index(nsr, "lo")
        nsr.link("set", index=lo, state="up")
        nsr.route("replace", dst="0.0.0.0/0", gateway=str(host_ip), oif=ni)
    # 127.0.0.1:PORT published ports are DNATed to a container: the packets keep their
    # loopback source until postrouting masquerades them, and the kernel drops such
    # packets unless route_localnet is on for the outgoing link -- ours only.
    write_sysctl(f"net.ipv4.conf.{uplink}.route_localnet", "1")


def ensure_bridge(ns: str, bridge: str, gateway: str, prefixlen: int, mac: str) -> None:
    """A bridge with the gateway address and a MAC of its own: a bridge without one
    takes the lowest MAC of its ports, which changes as containers come and go, and
    every container's ARP entry for the gateway goes stale (seconds of silence)."""
    with _ipr(ns) as ipr, _netlink_errors(f"bridge {bridge} in {ns}"):
        idx = _index(ipr, bridge)
        if idx is None:
            ipr.link("add", ifname=bridge, kind="bridge", address=mac)
            idx = _index(ipr, bridge)
        else:
            ipr.link("set", index=idx, address=mac)
        if not ipr.get_addr(index=idx, address=gateway):
            ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
        ipr.link("set", index=idx, state="up")


def ensure_host_route(subnet: str, uplink: str, via: str) -> None:
    with _ipr() as ipr, _netlink_errors(f"route to {subnet} via {uplink}"):
        idx = _index(ipr, uplink)
        ipr.route("replace", dst=subnet, gateway=via, oif=idx)


def delete_host_route(subnet: str, uplink: str) -> None:
    with _ipr() as ipr:
        idx = _index(ipr, uplink)
        if idx is not None:
            with best_effort(log, "delete the route to %s via %s", subnet, uplink):
                ipr.route("del", dst=subnet, oif=idx)


def wire_container(ns: str, bridge: str, veth: str, tmp: str, target_netns: str,
                   ifname: str, ip: str, prefixlen: int, mac: str,
                   gateway: str | None) -> None:
    """One attachment: a veth pair, ``veth`` on the bridge in ``ns``, the other end
    ``ifname`` in the container's namespace with its address, and a default route via
    the gateway unless the container has one already (its first network wins)."""
    from pyroute2 import NetlinkError

    fd = os.open(netns_path(target_netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _ipr(ns) as nsr, _ipr(target_netns) as cr, \
                _netlink_errors(f"attaching {ifname} ({ip}) to {bridge}"):
            if (i := _index(nsr, veth)) is not None:
                nsr.link("del", index=i)          # a crashed earlier attempt
            if _index(cr, ifname) is not None:
                raise NetplugError(f"the container already has an interface {ifname}")
            if (i := _index(cr, tmp)) is not None:
                cr.link("del", index=i)
            br = _index(nsr, bridge)
            if br is None:
                raise NetplugError(f"bridge {bridge} is missing in {ns}: recreate the "
                                   "network (down, then up)")
            nsr.link("add", ifname=veth, kind="veth", peer={"ifname": tmp, "net_ns_fd": fd})
            v = _index(nsr, veth)
            nsr.link("set", index=v, master=br, state="up")
            c = _index(cr, tmp)
            cr.link("set", index=c, ifname=ifname, address=mac)
            cr.addr("add", index=c, address=ip, prefixlen=prefixlen)
            cr.link("set", index=c, state="up")
            lo = _index(cr, "lo")
            cr.link("set", index=lo, state="up")
            if gateway is not None:
                try:
                    cr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=c)
                except NetlinkError as e:
                    if e.code != errno.EEXIST:   # its first network's route stays
                        raise
    finally:
        os.close(fd)


def unwire_container(ns: str, veth: str) -> None:
    """Delete the bridge end: the kernel deletes the container's end with it."""
    with contextlib.suppress(NetplugError):
        delete_link(veth, ns)


def bridge_ports(ns: str, bridge: str) -> list[str]:
    with _ipr(ns) as ipr:
        br = _index(ipr, bridge)
        if br is None:
            return []
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                if link.get_attr("IFLA_MASTER") == br]


def nft(text: str, netns: str | None = None) -> None:
    cmd = ["nft", "-f", "-"]
    if netns is not None:
        cmd = ["nsenter", f"--net={netns_path(netns)}", *cmd]
    try:
        r = subprocess.run(cmd, input=text, capture_output=True, text=True)
    except FileNotFoundError:
        raise NetplugError("nft is not installed (Debian package nftables; scripts/setup)")
    if r.returncode != 0:
        raise NetplugError(f"nftables refused the ruleset: {r.stderr.strip()}")


def nft_tables() -> list[str]:
    r = subprocess.run(["nft", "list", "tables", "ip"], capture_output=True, text=True)
    return [line.split()[-1] for line in r.stdout.splitlines() if line.startswith("table")]


def delete_nft_table(table: str) -> None:
    if table in nft_tables():
        nft(f"delete table ip {table}\n")


def ip_forward() -> bool:
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        return f.read().strip() == "1"


def set_ip_forward(on: bool) -> None:
    write_sysctl("net.ipv4.ip_forward", "1" if on else "0")


def bridges(ns: str) -> list[str]:
    """Our bridges in a namespace of ours (``br-*``)."""
    with _ipr(ns) as ipr:
        out = []
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME") or ""
            info = link.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            if kind == "bridge" and name.startswith("br-"):
                out.append(name)
        return out


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
