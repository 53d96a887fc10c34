"""Network namespaces wired ahead of the containers that will join them.

Wiring a container into a bridge costs a veth pair, an address, a route and a state
write (a few ms, most of it waiting on the kernel), and a fresh network namespace is not
free either. A plain ``container run`` (docker's default ``bridge``) should not pay that
while the user waits; so, as the runtime keeps a launcher started ahead of its job, the
supervisor keeps a *spare*: a named namespace ``pc-<rid>-sp-<id>`` already wired into
the network (eth0 with its address and default route, lo up), its address reserved in
the state. A container start takes it (one state write), its launcher joins it instead
of unsharing a new one, and its name is dropped once joined, so that the namespace
lives exactly as long as the container's processes, like any other. The next spare is
made in the background.

The state says which spares exist (``State.spares``), written before any kernel object
is made: a killed process leaves records and names that ``drop_all`` (the next
supervisor, ``cleanup_all``) finds and removes. A spare's address is reserved like an
attachment's; a container that asks for that address evicts the spare.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import kernel, nsutil
from .ipam import choose_address, mac_for
from .names import bridge_name, spare_netns_name, spare_netns_prefix
from .state import AttachmentRecord, SpareRecord

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .networks import Attachment, Networks

#: spares kept ready per network
PER_NETWORK = 1


@dataclass(frozen=True)
class Taken:
    """A spare given to a container: join ``netns_path``, then ``forget(nets, taken)``."""

    netns: str                 # its name under /run/netns
    netns_path: str
    attachment: Attachment


def make(nets: Networks, name: str) -> str | None:
    """Wire one more spare for network ``name`` unless it has enough; its id, or None."""
    sid = secrets.token_hex(4)
    ns = spare_netns_name(nets.rid, sid)
    with nets.store.locked():
        st = nets.store.read()
        net = st.networks.get(name)
        if net is None or sum(sp.network == name for sp in st.spares.values()) >= PER_NETWORK:
            return None
        if not nsutil.netns_exists(nets.netns_of(net)):
            nets._converge_scope(st, net.scope)
        sub = ipaddress.IPv4Network(net.subnet)
        taken = [ipaddress.IPv4Address(a.ip) for a in net.attachments.values()]
        ip = choose_address(name, sub, ipaddress.IPv4Address(net.gateway),
                            ipaddress.IPv4Network(net.ip_range),
                            taken + nets.spare_addresses(st, name), owner="a spare")
        sp = SpareRecord(network=name, ip=str(ip), mac=mac_for(ip), netns=ns, veth=f"s{sid}")
        st.spares[sid] = sp
        nets.store.write(st, sync=False)  # intent first: a crash leaves a findable record
    try:
        nsutil.add_netns(ns)
        kernel.wire_container(nets.netns_of(net), bridge_name(net.id), sp.veth, f"t{sid}",
                              ns, "eth0", sp.ip, sub.prefixlen, sp.mac,
                              None if net.internal else net.gateway)
    except BaseException:
        drop(nets, sid)
        raise
    with nets.store.locked():
        st = nets.store.read()
        if sid in st.spares:
            st.spares[sid].ready = True
            nets.store.write(st, sync=False)
            return sid
    nsutil.del_netns(ns)             # dropped while we wired it (the network went)
    return None


def take(nets: Networks, name: str, container_id: str, *, aliases: Iterable[str] = (),
         container_name: str = "", links: dict[str, str] | None = None,
         project: str | None = None, dns: Iterable[str] = ()) -> Taken | None:
    """Give a ready spare of ``name`` to a container that has no address there yet (a
    restart keeps its old address: None then, and for no spare ready)."""
    from .networks import Attachment

    with nets.store.locked():
        st = nets.store.read()
        net = st.networks.get(name)
        if net is None or container_id in net.attachments:
            return None
        sid = next((k for k, sp in st.spares.items() if sp.network == name and sp.ready), None)
        if sid is None:
            return None
        sp = st.spares.pop(sid)
        if not nsutil.netns_exists(sp.netns):   # removed by hand: forget it
            nets.store.write(st, sync=False)
            return None
        path = nsutil.netns_path(sp.netns)
        net.attachments[container_id] = AttachmentRecord(
            container_id=container_id, ip=sp.ip, mac=sp.mac, ifname="eth0", netns_path=path,
            name=container_name, aliases=list(dict.fromkeys(aliases)), links=dict(links or {}),
            project=project, dns=list(dns), veth=sp.veth)
        nets.store.write(st, sync=False)
    gw = None if net.internal else net.gateway
    prefixlen = ipaddress.IPv4Network(net.subnet).prefixlen
    return Taken(sp.netns, path, Attachment(name, sp.ip, prefixlen, gw, sp.mac, "eth0"))


def forget(taken: Taken) -> None:
    """Drop a taken spare's name: its container's processes hold the namespace now
    (and if they never joined, it goes at once)."""
    nsutil.forget_netns(taken.netns)


def drop(nets: Networks, sid: str) -> None:
    with nets.store.locked():
        st = nets.store.read()
        sp = st.spares.pop(sid, None)
        if sp is not None:
            nets.store.write(st, sync=False)
    if sp is not None:
        nsutil.del_netns(sp.netns)


def drop_all(nets: Networks) -> None:
    """Remove every spare of this state root, and any name a killed process left
    (a taken spare whose name was not dropped yet: its container keeps its network)."""
    if not nets.store.path.exists():
        return
    with nets.store.locked():
        st = nets.store.read()
        gone = list(st.spares.values())
        if gone:
            st.spares.clear()
            nets.store.write(st, sync=False)
    for sp in gone:
        nsutil.forget_netns(sp.netns)
    for ns in nsutil.list_netns(spare_netns_prefix(nets.rid)):
        nsutil.forget_netns(ns)
