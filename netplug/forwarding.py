"""Published ports and the host's nftables table: DNAT in the kernel, with hairpin.

A published port is a DNAT rule in the host table (nftrules.py): traffic to a local
address and the port goes to the container, whether it comes from outside, from the
host itself (output hook; 127.0.0.1 works thanks to route_localnet on our uplinks and a
masquerade), or from another container (hairpin masquerade). The kernel path is taken
for every IPv4 host address. IPv6 host addresses cannot be DNATed to an IPv4-only
container: those bindings are served by the userland proxy (proxy.py) that the
supervisor runs; ``userland_bindings`` lists them.

The port check binds the port on the host first: a port a host process listens on is
refused with a clear error. The kernel path does not hold the port afterwards (DNAT
wins over a later listener, as with docker's iptables rules without its proxy).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import kernel
from .errors import NetplugError, PortInUse
from .names import nft_table
from .nftrules import Dnat, host_ruleset
from .ports import PortBinding
from .state import PublishedRecord, State

if TYPE_CHECKING:
    from .state import Store

#: set while pycompose (any state root) has turned net.ipv4.ip_forward on; tmpfs, so a
#: reboot (which resets the sysctl) forgets it too
FORWARD_MARK = Path("/run/pycompose-ip-forward")
TABLE_PREFIX = "pycompose_"


def _ensure_forwarding() -> bool:
    """Turn forwarding on if needed; True when the guard rule is due (we turned it on)."""
    if not kernel.ip_forward():
        FORWARD_MARK.write_text("net.ipv4.ip_forward was 0 before pycompose\n")
        kernel.set_ip_forward(True)
    return FORWARD_MARK.exists()


def _restore_forwarding() -> None:
    """When no pycompose table is left on the machine, put forwarding back as found."""
    if FORWARD_MARK.exists() and not any(
            t.startswith(TABLE_PREFIX) for t in kernel.nft_tables()):
        kernel.set_ip_forward(False)
        FORWARD_MARK.unlink(missing_ok=True)


def apply_host_rules(rid: str, st: State) -> None:
    table = nft_table(rid)
    if not st.networks and not st.published:
        drop_host_rules(rid)
        return
    guard = _ensure_forwarding()
    dnats = [Dnat(p.host_ip, p.host_port, p.proto, p.container_ip, p.container_port,
                  p.container_id[:12]) for p in st.published]
    kernel.nft(host_ruleset(table, rid, dnats, guard=guard))


def drop_host_rules(rid: str) -> None:
    kernel.delete_nft_table(nft_table(rid))
    _restore_forwarding()


def _family(host_ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host_ip else socket.AF_INET


def probe_port(host_ip: str, port: int, proto: str) -> int:
    """Bind the port (0: any) to see that it is free; return the port the kernel gave."""
    fam = _family(host_ip)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(fam, kind) as s:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            where = f"{host_ip or '0.0.0.0'}:{port}/{proto}"
            if e.errno == errno.EADDRINUSE:
                raise PortInUse(f"host port {where} is already in use by another program")
            if e.errno == errno.EADDRNOTAVAIL:
                raise NetplugError(f"host address {host_ip} of port {where} is not an "
                                   "address of this host")
            raise NetplugError(f"cannot publish {where}: {e.strerror}")
        return int(s.getsockname()[1])


def _clash(p: PublishedRecord, host_ip: str, port: int, proto: str) -> bool:
    return (p.host_port == port and p.proto == proto
            and (p.host_ip == host_ip or "" in (p.host_ip, host_ip)))


def publish(store: Store, rid: str, container_id: str, ip: str,
            bindings: Sequence[PortBinding]) -> list[PortBinding]:
    """DNAT host ports to ``ip`` (the container's address); returns the bindings with
    the real host ports. Replaces the container's earlier bindings (a restart publishes
    again and keeps its random ports). All or nothing: a taken port leaves no rule."""
    with store.locked():
        st = store.read()
        # publishing replaces the container's ports (a restart publishes again); a
        # random port it had stays its own
        previous = [p for p in st.published if p.container_id == container_id]
        st.published = [p for p in st.published if p.container_id != container_id]
        new: list[PublishedRecord] = []
        out = []
        for b in bindings:
            others = st.published + new
            if b.host_port is None:
                b = next((PortBinding(b.host_ip, p.host_port, b.container_port, b.proto)
                          for p in previous
                          if (p.host_ip, p.container_port, p.proto)
                          == (b.host_ip, b.container_port, b.proto)
                          and not any(_clash(o, b.host_ip, p.host_port, b.proto)
                                      for o in others)), b)
            if b.host_port is not None and b.host_port_end:  # a range: the first free
                b = _first_free(b, others)
            if b.host_port is not None:
                for p in others:
                    if _clash(p, b.host_ip, b.host_port, b.proto):
                        raise PortInUse(
                            f"host port {b.host_ip or '0.0.0.0'}:{b.host_port}/{b.proto} is "
                            f"already published by container {p.container_id[:12]}")
                port = probe_port(b.host_ip, b.host_port, b.proto)
            else:
                for _ in range(20):
                    port = probe_port(b.host_ip, 0, b.proto)
                    if not any(_clash(p, b.host_ip, port, b.proto) for p in others):
                        break
            new.append(PublishedRecord(container_id, ip, b.host_ip, port, b.container_port,
                                       b.proto))
            out.append(PortBinding(b.host_ip, port, b.container_port, b.proto))
        st.published += new
        try:
            apply_host_rules(rid, st)
        except BaseException:
            st.published = [p for p in st.published if p not in new] + previous
            apply_host_rules(rid, st)
            raise
        store.write(st, sync=False)
        return out


def _first_free(b: PortBinding, others: Sequence[PublishedRecord]) -> PortBinding:
    """The first port of ``b``'s range that no container publishes and no host program
    holds; the range's first port when none is (its clash is then reported)."""
    for port in b.candidates():
        if any(_clash(o, b.host_ip, port, b.proto) for o in others):
            continue
        try:
            probe_port(b.host_ip, port, b.proto)
        except PortInUse:
            continue
        return PortBinding(b.host_ip, port, b.container_port, b.proto)
    return PortBinding(b.host_ip, b.host_port, b.container_port, b.proto)


def unpublish(store: Store, rid: str, container_id: str) -> None:
    with store.locked():
        st = store.read()
        gone = [p for p in st.published if p.container_id == container_id]
        if not gone:
            return
        st.published = [p for p in st.published if p.container_id != container_id]
        store.write(st, sync=False)
        apply_host_rules(rid, st)
    forget_udp_flows(gone)


def forget_udp_flows(gone: Sequence[PublishedRecord]) -> None:
    """A UDP "connection" lives on while packets keep coming: forget the flows to
    ports that are no longer published."""
    for p in gone:
        if p.proto == "udp":
            try:
                kernel.forget_flows(p.container_ip, p.proto, p.container_port)
            except Exception:   # best effort: the flows time out in 30 s anyway
                pass


def ports(store: Store, container_id: str) -> list[PortBinding]:
    return [PortBinding(p.host_ip, p.host_port, p.container_port, p.proto)
            for p in store.read().published if p.container_id == container_id]


def host_has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def userland_bindings(store: Store) -> list[PublishedRecord]:
    """Published ports the kernel path cannot serve: IPv6 host addresses, and the IPv6
    side (``::``) of a port published on every address, as docker listens on both
    families. NetworkServices runs proxy.serve_binding for each."""
    out = []
    v6 = None
    for p in store.read().published:
        if ":" in p.host_ip:
            out.append(p)
        elif p.host_ip == "":
            if v6 is None:
                v6 = host_has_ipv6()
            if v6:
                out.append(PublishedRecord(p.container_id, p.container_ip, "::",
                                           p.host_port, p.container_port, p.proto))
    return out
