"""``Networks``: the networks of one state root, their attachments and published ports.

Topology (DESIGN.md): each project's networks live in a network namespace of the
project's own (``pc-<rid>-p-<project>``), one bridge per network; every standalone
network (``network create``, and the default ``bridge`` of a plain ``container run``)
lives in one shared namespace ``pc-<rid>-standalone``. One namespace for them all, as
docker keeps all its bridges in the host's namespace: it costs one uplink, one /30 and
one set of host routes instead of one per network, and the namespace's forward chain
keeps its bridges apart just as well as separate namespaces would. Each namespace
reaches the host through one veth uplink (``pc<rid>u<hash>`` on the host, ``up0``
inside); the host routes the non-internal subnets through it and masquerades their
traffic to the world. An ``internal`` network has no way out: no host route, no default
route in its containers, and the namespace's forward chain rejects its bridge <-> uplink
traffic. Deleting a namespace takes its bridges, veth ends, uplink and host routes
with it.

Every call takes the state lock, writes its intent to disk before touching the kernel,
and undoes what it made when a step fails; a process killed half-way leaves names that
``cleanup_project``/``cleanup_all`` (and the next ``ensure``) find and remove.
"""

from __future__ import annotations

import builtins
import datetime
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pycompose.util.paths import root_id, state_root

from . import kernel, nsutil
from .errors import AddressError, NetplugError, NetworkConflict, NetworkNotFound, StateDamaged
from .ipam import (
    DEFAULT_POOLS,
    Pool,
    choose_address,
    choose_uplink,
    mac_for,
    parse_pools,
    plan_subnet,
)
from .names import (
    STANDALONE,
    bridge_name,
    check_ifname,
    container_veth_tmp,
    host_link_prefix,
    netns_name,
    netns_prefix,
    uplink_name,
    veth_name,
)
from .nftrules import namespace_ruleset
from .ports import PortBinding
from .state import AttachmentRecord, NetworkRecord, State, Store

#: docker's rule for network names
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
DEFAULT_BRIDGE = "bridge"


@dataclass(frozen=True)
class Attachment:
    """What a container got on one network."""

    network: str
    ip: str
    prefixlen: int
    gateway: str | None      # None on internal networks (no default route)
    mac: str
    ifname: str


class Networks:
    """All networks of one state root. Sync (netlink and nftables): call from a worker
    thread in trio. Safe to use from several processes at once (flock)."""

    def __init__(self, root: Path | None = None, *,
                 pools: Sequence[Pool] | None = None) -> None:
        self.root = root or state_root()
        self.rid = root_id(self.root)
        self.store = Store(self.root)
        env = os.environ.get("PYCOMPOSE_NET_POOLS")
        self.pools = tuple(pools) if pools is not None else (
            parse_pools(env) if env else DEFAULT_POOLS)

    # -- names --------------------------------------------------------------------

    def netns_of(self, net: NetworkRecord) -> str:
        return netns_name(self.rid, net.scope)

    def uplink_of(self, scope: str) -> str:
        return uplink_name(self.rid, scope)

    # -- networks -----------------------------------------------------------------

    def ensure(self, name: str, *, project: str | None = None, subnet: str | None = None,
               gateway: str | None = None, ip_range: str | None = None,
               internal: bool = False, labels: dict[str, str] | None = None,
               driver_opts: dict[str, str] | None = None,
               dns_names: bool = True) -> NetworkRecord:
        """Create the network if missing, else check it matches and repair its kernel
        objects (idempotent: ``up`` calls it every time)."""
        if not NAME_RE.fullmatch(name):
            raise NetplugError(f"network name {name!r} is invalid: [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        scope = project or STANDALONE
        if scope and not NAME_RE.fullmatch(scope):
            raise NetplugError(f"project name {scope!r} is invalid for network {name}")
        with self.store.locked():
            st = self.store.read()
            net = st.networks.get(name)
            if net is not None:
                self._check_same(net, scope, subnet, gateway, ip_range, internal)
                self._converge_scope(st, scope)
                return net
            ours = {n.name: ipaddress.IPv4Network(n.subnet) for n in st.networks.values()}
            if subnet is not None:
                _check_not_the_hosts_dns(name, subnet)
            foreign = self._foreign_routes(st)
            plan = plan_subnet(name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                               pools=self.pools, host_routes=foreign, ours=ours)
            net = NetworkRecord(
                id=secrets.token_hex(32), name=name, scope=scope, subnet=str(plan.subnet),
                gateway=str(plan.gateway), ip_range=str(plan.ip_range), internal=internal,
                labels=dict(labels or {}), driver_opts=dict(driver_opts or {}),
                created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                dns_names=dns_names)
            st.networks[name] = net
            fresh = self._assign_uplink(st, scope, foreign)
            # the intent, once (the network and its namespace's uplink): a crash
            # leaves a findable record, and every kernel object is named from it
            self.store.write(st)
            try:
                self._converge_scope(st, scope, fresh_uplink=fresh)
            except BaseException:
                del st.networks[name]
                if fresh:
                    st.uplinks.pop(scope, None)
                self.store.write(st)
                self._converge_scope(st, scope, quiet=True)
                raise
            return net

    def _assign_uplink(self, st: State, scope: str,
                       foreign: builtins.list[ipaddress.IPv4Network] | None = None) -> bool:
        """Give a scope without one the /30 of its uplink (in ``st``, not written);
        True when it was given now."""
        if scope in st.uplinks:
            return False
        st.uplinks[scope] = str(choose_uplink(
            [ipaddress.IPv4Network(u) for u in st.uplinks.values()],
            self._foreign_routes(st) if foreign is None else foreign))
        return True

    def _check_same(self, net: NetworkRecord, scope: str, subnet: str | None,
                    gateway: str | None, ip_range: str | None, internal: bool) -> None:
        if net.scope != scope:
            owner = f"project {net.scope}" if net.scope else "no project (standalone)"
            raise NetworkConflict(f"network {net.name} already exists and belongs to "
                                  f"{owner}; declare it external to join it")
        wanted = [("subnet", subnet, net.subnet), ("gateway", gateway, net.gateway),
                  ("ip_range", ip_range, net.ip_range)]
        for key, want, have in wanted:
            if want is not None and str(ipaddress.ip_network(want, strict=False)
                                        if "/" in want else want) != have:
                raise NetworkConflict(f"network {net.name} exists with {key} {have}, not "
                                      f"{want}: remove it first (down) to change it")
        if internal != net.internal:
            raise NetworkConflict(f"network {net.name} exists with internal={net.internal}:"
                                  " remove it first (down) to change it")

    def _foreign_routes(self, st: State) -> builtins.list[ipaddress.IPv4Network]:
        """The host's routes, without those we made ourselves for our networks, and the
        host's DNS servers: one reached through the default route (no route of its
        own) was no clash, and a network given its subnet took the host's route to
        it, and with it the whole machine's name resolution."""
        mine = {ipaddress.IPv4Network(n.subnet) for n in st.networks.values()}
        mine |= {ipaddress.IPv4Network(u) for u in st.uplinks.values()}
        return [r for r in kernel.host_routes() if r not in mine] + host_dns_servers()

    def _converge_scope(self, st: State, scope: str, *, quiet: bool = False,
                        fresh_uplink: bool = False) -> None:
        """Make a namespace's kernel objects match the state: namespace, uplink, one
        bridge per network, host routes, nft rules; remove it when no network is left.
        The state is written here only when it lacked the scope's uplink (or had one
        for a scope with no network): callers write their intent first, once."""
        nets = [n for n in st.networks.values() if n.scope == scope]
        ns = netns_name(self.rid, scope)
        uplink = self.uplink_of(scope)
        try:
            if not nets:
                if st.uplinks.pop(scope, None) is not None:
                    self.store.write(st)
                kernel.delete_scope_ns(ns, uplink)
                self._apply_host_rules(st)
                return
            if self._assign_uplink(st, scope):
                self.store.write(st)
                fresh_uplink = True
            if fresh_uplink:
                kernel.delete_link(uplink)       # a crash left one without a record
            up_net = ipaddress.IPv4Network(st.uplinks[scope])
            kernel.ensure_scope_ns(ns, uplink, up_net)
            wanted = {bridge_name(n.id): n for n in nets}
            for br in kernel.bridges(ns):
                if br not in wanted:
                    kernel.delete_link(br, ns)
            ns_host_ip = str(list(up_net.hosts())[1])
            for br, n in wanted.items():
                sub = ipaddress.IPv4Network(n.subnet)
                kernel.ensure_bridge(ns, br, n.gateway, sub.prefixlen,
                                     mac_for(ipaddress.IPv4Address(n.gateway)))
                if n.internal:
                    kernel.delete_host_route(n.subnet, uplink)
                else:
                    kernel.ensure_host_route(n.subnet, uplink, ns_host_ip)
            kernel.nft(namespace_ruleset({b: n.internal for b, n in wanted.items()}), ns)
            self._apply_host_rules(st)
        except Exception:
            if not quiet:
                raise

    def _apply_host_rules(self, st: State) -> None:
        from .forwarding import apply_host_rules

        apply_host_rules(self.rid, st)

    def remove(self, name: str) -> None:
        with self.store.locked():
            st = self.store.read()
            net = self._get(st, name)
            if net.attachments:
                users = ", ".join(sorted(a.name or a.container_id[:12]
                                         for a in net.attachments.values()))
                raise NetworkConflict(f"network {name} has active endpoints ({users}): "
                                      "remove or disconnect them first")
            gone = [st.spares.pop(sid) for sid, sp in list(st.spares.items())
                    if sp.network == name]
            del st.networks[name]
            last = not any(n.scope == net.scope for n in st.networks.values())
            if last:
                st.uplinks.pop(net.scope, None)
            self.store.write(st)         # the intent, once; the objects are found by name
            for sp in gone:
                nsutil.del_netns(sp.netns)
            if not last:  # else the route goes with the uplink
                kernel.delete_host_route(net.subnet, self.uplink_of(net.scope))
            self._converge_scope(st, net.scope)

    def list(self) -> builtins.list[NetworkRecord]:
        return sorted(self.store.read().networks.values(), key=lambda n: n.name)

    def inspect(self, name: str) -> NetworkRecord:
        return self._get(self.store.read(), name)

    def exists(self, name: str) -> bool:
        return name in self.store.read().networks

    def prune(self) -> builtins.list[str]:
        """Remove every network no container uses (not the default ``bridge``)."""
        removed = []
        for net in self.list():
            if not net.attachments and net.name != DEFAULT_BRIDGE:
                try:
                    self.remove(net.name)
                    removed.append(net.name)
                except (NetworkConflict, NetworkNotFound):
                    pass
        return removed

    def ready(self, name: str) -> bool:
        """Whether the network is recorded and its namespace is there: the fast check
        before an attach (``ensure`` converges every kernel object, ~40 ms, which a
        container start must not pay each time; attach repairs a missing namespace)."""
        net = self.store.read().networks.get(name)
        return net is not None and nsutil.netns_exists(self.netns_of(net))

    def ensure_default(self) -> NetworkRecord:
        """docker's ``bridge``: the network of a plain ``container run``. Like docker's,
        it resolves no container names (only forwarding to the host's resolver)."""
        return self.ensure(DEFAULT_BRIDGE, dns_names=False)

    def _get(self, st: State, name: str) -> NetworkRecord:
        net = st.networks.get(name)
        if net is None:
            raise NetworkNotFound(f"network {name} not found")
        return net

    def host_gateway(self, name: str) -> str:
        """The host's address as a container on ``name`` reaches it (``host-gateway``
        in extra_hosts): the host end of the namespace's uplink."""
        st = self.store.read()
        net = self._get(st, name)
        up = st.uplinks.get(net.scope)
        if up is None:
            raise NetplugError(f"network {name} has no uplink (is it set up?)")
        return str(next(ipaddress.IPv4Network(up).hosts()))

    # -- attachments --------------------------------------------------------------

    def attach(self, name: str, container_id: str, netns_path: str, ifname: str = "eth0", *,
               ipv4_address: str | None = None, aliases: Iterable[str] = (),
               mac: str | None = None, container_name: str = "",
               links: dict[str, str] | None = None, project: str | None = None,
               dns: Iterable[str] = ()) -> Attachment:
        """Wire a container's namespace into a network. The same container again gets
        the same address (it survives restarts); ``detach`` releases it."""
        kernel_ifname_check(ifname)
        with self.store.locked():
            st = self.store.read()
            net = self._get(st, name)
            if not nsutil.netns_exists(self.netns_of(net)):
                self._converge_scope(st, net.scope)     # after a reboot or a crash
            old = net.attachments.get(container_id)
            sub = ipaddress.IPv4Network(net.subnet)
            if old is not None and (ipv4_address is None or ipv4_address == old.ip):
                ip = ipaddress.IPv4Address(old.ip)
            else:
                if ipv4_address is not None:  # a spare's address is only reserved
                    self._evict_spare(st, name, ipv4_address)
                taken = [ipaddress.IPv4Address(a.ip) for cid, a in net.attachments.items()
                         if cid != container_id] + self.spare_addresses(st, name)
                ip = choose_address(name, sub, ipaddress.IPv4Address(net.gateway),
                                    ipaddress.IPv4Network(net.ip_range), taken,
                                    static=ipv4_address,
                                    owner=f"container {container_name or container_id[:12]}")
            rec = AttachmentRecord(
                container_id=container_id, ip=str(ip), mac=mac or mac_for(ip), ifname=ifname,
                netns_path=netns_path, name=container_name, aliases=list(dict.fromkeys(aliases)),
                links=dict(links or {}), project=project, dns=list(dns),
                static=ipv4_address is not None)
            net.attachments[container_id] = rec
            self.store.write(st, sync=False)
            gw = None if net.internal else net.gateway
            ns, net_id = self.netns_of(net), net.id
        # The address is reserved: the kernel's part is done without the lock. Under
        # it, 30 containers started at once were wired one after the other (each
        # waited up to ~1 s for the others' veth pairs); their links have names of
        # their own (by network and container id), so the wiring needs no order.
        try:
            kernel.wire_container(
                ns, bridge_name(net_id), veth_name(net_id, container_id),
                container_veth_tmp(net_id, container_id), netns_path, ifname, str(ip),
                sub.prefixlen, rec.mac, gw)
        except BaseException:
            self._unreserve(name, container_id, rec, old)
            raise
        return Attachment(name, str(ip), sub.prefixlen, gw, rec.mac, ifname)

    def _unreserve(self, name: str, container_id: str, rec: AttachmentRecord,
                   old: AttachmentRecord | None) -> None:
        """A failed wiring gives its address back (unless something else has changed
        the attachment since)."""
        with self.store.locked():
            st = self.store.read()
            net = st.networks.get(name)
            if net is None or net.attachments.get(container_id) != rec:
                return
            if old is None:
                del net.attachments[container_id]
            else:
                net.attachments[container_id] = old
            self.store.write(st, sync=False)

    @staticmethod
    def spare_addresses(st: State, name: str) -> builtins.list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address(sp.ip) for sp in st.spares.values()
                if sp.network == name]

    def _evict_spare(self, st: State, name: str, ip: str) -> None:
        for sid, sp in list(st.spares.items()):
            if sp.network == name and sp.ip == ip:
                del st.spares[sid]
                self.store.write(st, sync=False)
                nsutil.del_netns(sp.netns)

    def detach(self, name: str, container_id: str) -> None:
        """Unwire a container and release its address (the container is removed, or
        ``network disconnect``)."""
        with self.store.locked():
            st = self.store.read()
            net = self._get(st, name)
            if container_id not in net.attachments:
                return
            rec = net.attachments[container_id]
            kernel.unwire_container(self.netns_of(net),
                                    rec.veth or veth_name(net.id, container_id))
            del net.attachments[container_id]
            before = len(st.published)
            st.published = [p for p in st.published if p.container_id != container_id
                            or p.container_ip != rec.ip]     # ports to the released address
            self.store.write(st, sync=False)
            if len(st.published) != before:
                self._apply_host_rules(st)

    def release(self, container_id: str, *, unwire: bool = True) -> builtins.list[str]:
        """All a removed container had, in one state change: its address on every
        network and its published ports; returns the networks it was on. With
        ``unwire=False`` (its processes are gone: the kernel deleted its veth pairs
        with its namespace) no netlink call is made: the removal of a container costs
        one state write."""
        unwired: set[tuple[str, str]] = set()
        if unwire:  # the links go first, without the lock (as attach wires them)
            for net in self.store.read().networks.values():
                rec = net.attachments.get(container_id)
                if rec is not None:
                    link = rec.veth or veth_name(net.id, container_id)
                    kernel.unwire_container(self.netns_of(net), link)
                    unwired.add((net.name, link))
        with self.store.locked():
            st = self.store.read()
            nets = [n for n in st.networks.values() if container_id in n.attachments]
            gone = [p for p in st.published if p.container_id == container_id]
            if not nets and not gone:
                return []
            for net in nets:
                rec = net.attachments.pop(container_id)
                link = rec.veth or veth_name(net.id, container_id)
                if unwire and (net.name, link) not in unwired:  # attached meanwhile
                    kernel.unwire_container(self.netns_of(net), link)
            st.published = [p for p in st.published if p.container_id != container_id]
            self.store.write(st, sync=False)
            if gone:
                self._apply_host_rules(st)
        if gone:
            from .forwarding import forget_udp_flows

            forget_udp_flows(gone)
        return [n.name for n in nets]

    def attachments(self, container_id: str) -> dict[str, AttachmentRecord]:
        """network name -> attachment of one container."""
        return {n.name: n.attachments[container_id] for n in self.list()
                if container_id in n.attachments}

    # -- published ports (forwarding.py does the work) ---------------------------

    def publish(self, container_id: str, ip: str,
                bindings: Sequence[PortBinding]) -> builtins.list[PortBinding]:
        """DNAT host ports to the container's ``ip``; returns the real host ports."""
        from .forwarding import publish

        return publish(self.store, self.rid, container_id, ip, bindings)

    def unpublish(self, container_id: str) -> None:
        from .forwarding import unpublish

        unpublish(self.store, self.rid, container_id)

    def ports(self, container_id: str) -> builtins.list[PortBinding]:
        from .forwarding import ports

        return ports(self.store, container_id)

    # -- clean-up -----------------------------------------------------------------

    def cleanup_project(self, project: str) -> None:
        """Remove a project's namespace, networks, addresses and ports, found by name
        and label whether or not a crash kept them from the state."""
        with self.store.locked():
            # Every link in one request while the namespace is there (its device group:
            # deleting a veth end takes its peer at once, where a deleted namespace
            # takes them only when the kernel gets to it, and a container's namespace
            # would keep a dead eth0 a moment). The attachments' bridge ends by name
            # for a namespace whose links have no group (an older pycompose's). A
            # damaged state must keep nothing: then by name alone.
            try:
                known = self.store.read()
            except StateDamaged:
                known = None
            veths = [att.veth or veth_name(net.id, cid)
                     for net in (known.networks.values() if known is not None else [])
                     if net.scope == project for cid, att in net.attachments.items()]
            kernel.delete_scope_ns(netns_name(self.rid, project), self.uplink_of(project),
                                   veths)
            st = self.store.read()
            for name in [n.name for n in st.networks.values() if n.scope == project]:
                del st.networks[name]
            st.uplinks.pop(project, None)
            gone = set()
            for net in st.networks.values():
                for cid, att in list(net.attachments.items()):
                    if att.project == project:
                        kernel.unwire_container(self.netns_of(net),
                                                att.veth or veth_name(net.id, cid))
                        del net.attachments[cid]
                        gone.add(cid)
            st.published = [p for p in st.published if p.container_id not in gone and
                            any(p.container_id in n.attachments for n in st.networks.values())]
            self.store.write(st)
            self._apply_host_rules(st)

    def cleanup_all(self) -> None:
        """Remove every network object of this state root: namespaces, host links,
        the nft table; and forget them all."""
        with self.store.locked():
            remove_root_objects(self.rid)
            self.store.write(State())


def _check_not_the_hosts_dns(name: str, subnet: str) -> None:
    try:
        net = ipaddress.IPv4Network(subnet, strict=False)
    except ValueError:
        return  # plan_subnet says what is wrong with it
    for dns in host_dns_servers():
        if net.overlaps(dns):
            raise AddressError(f"network {name}: subnet {net} holds {dns.network_address}, "
                               "the host's DNS server (/etc/resolv.conf): the host would "
                               "lose its way to it; choose another subnet")


def host_dns_servers() -> builtins.list[ipaddress.IPv4Network]:
    """The host's IPv4 nameservers (/etc/resolv.conf) but loopback ones, as /32s."""
    from .etcfiles import read_host_resolv

    out = []
    for ns in read_host_resolv()[0]:
        try:
            addr = ipaddress.ip_address(ns.split("%")[0])
        except ValueError:
            continue
        if isinstance(addr, ipaddress.IPv4Address) and not addr.is_loopback:
            out.append(ipaddress.IPv4Network(f"{addr}/32"))
    return out


def remove_root_objects(rid: str) -> None:
    """Remove the namespaces, host links and nft table named by root id ``rid``, from
    their names alone (also those of a root whose folder and state are gone)."""
    from .forwarding import drop_host_rules

    for ns in nsutil.list_netns(netns_prefix(rid)):
        nsutil.del_netns(ns)
    for link in kernel.host_links(host_link_prefix(rid)):
        kernel.delete_link(link)
    drop_host_rules(rid)


def kernel_ifname_check(ifname: str) -> None:
    check_ifname(ifname, "container interface")
