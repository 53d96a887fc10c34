"""IP address management: pure functions, no kernel, no files (unit-tested with
hypothesis). The kernel seam hands in the host's routed subnets; the store hands in the
subnets and addresses already given out.

Pools are docker's defaults: 172.17.0.0/16 ... 172.31.0.0/16 as /16s, then
192.168.0.0/16 cut into /20s. A subnet is taken from the first pool chunk that overlaps
neither a route of the host (so a container never shadows a network the host can reach)
nor a network of ours.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import AddressError, NetworkConflict

IPv4Net = ipaddress.IPv4Network
IPv4Addr = ipaddress.IPv4Address


@dataclass(frozen=True)
class Pool:
    base: IPv4Net
    size: int  # prefix length of each subnet cut from base


DEFAULT_POOLS: tuple[Pool, ...] = tuple(
    [Pool(IPv4Net(f"172.{i}.0.0/16"), 16) for i in range(17, 32)]
    + [Pool(IPv4Net("192.168.0.0/16"), 20)]
)

#: Uplinks (namespace <-> host) are /30s of link-local space: they are never routed
#: beyond the host, so they cannot shadow anything a user reaches. 169.254.169.0/24
#: (cloud metadata) is never used.
UPLINK_POOL = IPv4Net("169.254.200.0/22")


def parse_pools(text: str) -> tuple[Pool, ...]:
    """``"10.10.0.0/16:24,10.20.0.0/16"`` -> pools (size defaults to the base's)."""
    pools = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        base, _, size = part.partition(":")
        try:
            net = IPv4Net(base)
        except ValueError as e:
            raise AddressError(f"address pool {part!r} is not an IPv4 subnet: {e}")
        n = int(size) if size else net.prefixlen
        if not net.prefixlen <= n <= 30:
            raise AddressError(f"address pool {part!r}: size must be /{net.prefixlen}../30")
        pools.append(Pool(net, n))
    return tuple(pools)


def parse_subnet(text: str, what: str) -> IPv4Net:
    try:
        net = IPv4Net(text, strict=False)
    except ValueError as e:
        raise AddressError(f"{what}: {text!r} is not an IPv4 subnet: {e}")
    if net.prefixlen > 30:
        raise AddressError(f"{what}: subnet {net} is too small (at most /30)")
    return net


def parse_addr(text: str, what: str) -> IPv4Addr:
    try:
        return IPv4Addr(text)
    except ValueError as e:
        raise AddressError(f"{what}: {text!r} is not an IPv4 address: {e}")


def overlapping(net: IPv4Net, others: Iterable[IPv4Net]) -> IPv4Net | None:
    for o in others:
        if net.overlaps(o):
            return o
    return None


def choose_subnet(pools: Sequence[Pool], host_routes: Iterable[IPv4Net],
                  taken: Iterable[IPv4Net], *, what: str = "network") -> IPv4Net:
    """The first pool chunk that overlaps no host route and no network of ours."""
    avoid = [r for r in host_routes if r.prefixlen > 0] + list(taken)
    for pool in pools:
        for net in pool.base.subnets(new_prefix=pool.size):
            if overlapping(net, avoid) is None:
                return net
    raise AddressError(f"{what}: all address pools are used up (or routed on the host); "
                       "give an ipam subnet or remove unused networks (network prune)")


@dataclass(frozen=True)
class SubnetPlan:
    subnet: IPv4Net
    gateway: IPv4Addr
    ip_range: IPv4Net


def plan_subnet(name: str, *, subnet: str | None, gateway: str | None,
                ip_range: str | None, pools: Sequence[Pool],
                host_routes: Iterable[IPv4Net],
                ours: dict[str, IPv4Net]) -> SubnetPlan:
    """Check a network's ipam settings (or pick a subnet) against the host and our
    other networks. ``ours`` maps our other networks' names to their subnets."""
    what = f"network {name}"
    if subnet is None:
        if gateway is not None or ip_range is not None:
            raise AddressError(f"{what}: gateway/ip_range need a subnet")
        net = choose_subnet(pools, host_routes, ours.values(), what=what)
    else:
        net = parse_subnet(subnet, what)
        for other, onet in ours.items():
            if onet.overlaps(net):
                raise NetworkConflict(
                    f"{what}: subnet {net} overlaps network {other} ({onet})")
        clash = overlapping(net, [r for r in host_routes if r.prefixlen > 0])
        if clash is not None:
            raise AddressError(
                f"{what}: subnet {net} overlaps {clash}, which is routed on the host")
    hosts_first = net.network_address + 1
    if gateway is None:
        gw = hosts_first
    else:
        gw = parse_addr(gateway, what + " gateway")
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise AddressError(f"{what}: gateway {gw} is not a host address of {net}")
    if ip_range is None:
        rng = net
    else:
        rng = parse_subnet(ip_range, what + " ip_range")
        if not rng.subnet_of(net):
            raise AddressError(f"{what}: ip_range {rng} is not inside subnet {net}")
    return SubnetPlan(net, gw, rng)


def choose_address(network: str, subnet: IPv4Net, gateway: IPv4Addr, ip_range: IPv4Net,
                   taken: Iterable[IPv4Addr], *, static: str | None = None,
                   owner: str = "container") -> IPv4Addr:
    """An address for one attachment: the static one if given (checked), else the
    lowest free one of ``ip_range``."""
    used = set(taken)
    reserved = {subnet.network_address, subnet.broadcast_address, gateway}
    if static is not None:
        addr = parse_addr(static, f"{owner} on network {network}")
        if addr not in subnet:
            raise AddressError(f"{owner}: address {addr} is outside network {network}'s "
                               f"subnet {subnet}")
        if addr in reserved:
            raise AddressError(f"{owner}: address {addr} is reserved on network {network} "
                               "(network, broadcast or gateway address)")
        if addr in used:
            raise NetworkConflict(f"{owner}: address {addr} is already in use on network "
                                  f"{network}")
        return addr
    for addr in ip_range.hosts() if ip_range.prefixlen < 31 else ip_range:
        if addr not in reserved and addr not in used and addr in subnet:
            return addr
    raise AddressError(f"{owner}: no free address left on network {network} ({ip_range})")


def choose_uplink(taken: Iterable[IPv4Net], host_routes: Iterable[IPv4Net]) -> IPv4Net:
    """A /30 for a namespace's uplink: .1 is the host end, .2 the namespace end."""
    avoid = [r for r in host_routes if r.prefixlen > 0] + list(taken)
    for net in UPLINK_POOL.subnets(new_prefix=30):
        if overlapping(net, avoid) is None:
            return net
    raise AddressError("no free uplink subnet left in " + str(UPLINK_POOL))


def mac_for(addr: IPv4Addr) -> str:
    """docker's scheme: 02:42 and the four bytes of the IPv4 address, so a container
    keeps its MAC with its address (neighbours' ARP caches stay right on restart)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)
