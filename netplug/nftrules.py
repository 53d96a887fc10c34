"""nftables rulesets, as text for ``nft -f`` (pure: built from the state, unit-tested).

Two rulesets:

* the host table ``ip pycompose_<rid>`` of one state root: DNAT of published ports,
  masquerade of containers' traffic to the outside world, isolation between
  namespaces (projects), no way in from other hosts but the published ports (the host
  itself reaches containers: its packets are not forwarded), and -- only if we
  turned forwarding on -- a guard;
* the table ``ip pycompose`` inside each of our namespaces: which bridge may talk to
  the uplink (not internal ones), and nothing between bridges.

Each is replaced whole in one nft transaction (``add table; delete table; table {...}``),
so a reader never sees half a ruleset and a re-run converges.

Why enabling ``net.ipv4.ip_forward`` is safe: forwarding turns the host into a router for
every interface. When we turn it on (it starts at 0), the guard rule drops every
forwarded packet that neither enters nor leaves a pycompose link (``pc*``), so the host
forwards for our namespaces and nothing else, exactly as before for its own interfaces.
When forwarding was already on, the host's owner wanted it, and we add no guard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .names import LINK_PREFIX, UPLINK_PEER


@dataclass(frozen=True)
class Dnat:
    host_ip: str          # "" = every local address
    host_port: int
    proto: str
    container_ip: str
    container_port: int
    comment: str


def _q(s: str) -> str:
    return '"' + s.replace('"', "") + '"'


def _on_loopback(host_ip: str) -> bool:
    """Whether a binding answers on 127.0.0.0/8: bound there, or on every address."""
    return host_ip == "" or host_ip.startswith("127.")


def host_ruleset(table: str, rid: str, dnats: Iterable[Dnat], *, guard: bool) -> str:
    """Ports published on 127.0.0.0/8 answer only what came from ``lo``, as docker's:
    ``prerouting`` never translates a packet to 127/8 (the host's own connections to
    127.0.0.1 are translated in ``output``), and ``raw_prerouting`` drops a packet for
    127/8 at a published port that came in on another interface (a neighbour sending
    to 127.0.0.1 at the host's MAC address) before conntrack or NAT see it."""
    ours = _q(f"{LINK_PREFIX}{rid}*")       # this root's uplinks
    anyp = _q(f"{LINK_PREFIX}*")            # every pycompose root's links
    rules = []
    guards = []
    for d in dnats:
        if ":" in d.host_ip:
            continue  # IPv6 host addresses are served by the userland proxy
        match = f"ip daddr {d.host_ip} " if d.host_ip else ""
        rules.append(f"    {match}{d.proto} dport {d.host_port} dnat to "
                     f"{d.container_ip}:{d.container_port} comment {_q(d.comment)}")
        if _on_loopback(d.host_ip):
            dst = d.host_ip if d.host_ip else "127.0.0.0/8"
            guards.append(f'    iifname != "lo" ip daddr {dst} {d.proto} dport {d.host_port} '
                          f"drop comment {_q(d.comment)}")
    guard_rule = f"    iifname != {anyp} oifname != {anyp} drop\n" if guard else ""
    return f"""add table ip {table}
delete table ip {table}
table ip {table} {{
  chain ports {{
{chr(10).join(rules)}
  }}
  chain raw_prerouting {{
    type filter hook prerouting priority raw; policy accept;
{chr(10).join(guards)}
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr != 127.0.0.0/8 fib daddr type local jump ports
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump ports
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 127.0.0.0/8 oifname {ours} masquerade
    ct status dnat iifname {anyp} oifname {ours} masquerade
    iifname {ours} oifname != {anyp} masquerade
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname {anyp} oifname {anyp} ct status dnat accept
    iifname {anyp} oifname {anyp} ct state established,related accept
    iifname {anyp} oifname {anyp} reject with icmp type admin-prohibited
    oifname {anyp} ct status dnat accept
    oifname {anyp} ct state established,related accept
    oifname {anyp} drop
{guard_rule}  }}
}}
"""


def namespace_ruleset(bridges: dict[str, bool]) -> str:
    """``bridges``: bridge name -> internal. Bridged traffic inside one bridge never
    reaches this hook (unless br_netfilter is loaded: then it is accepted too).

    Stateless on purpose: what is allowed is symmetric (a bridge <-> the uplink), so
    ``ct state`` would add nothing, and a ruleset without ``ct`` keeps conntrack out of
    the namespace: each packet is tracked once, on the host, not twice."""
    lines = []
    for br, internal in sorted(bridges.items()):
        lines.append(f"    iifname {_q(br)} oifname {_q(br)} accept")
        if not internal:
            lines.append(f"    iifname {_q(br)} oifname {_q(UPLINK_PEER)} accept")
            lines.append(f"    iifname {_q(UPLINK_PEER)} oifname {_q(br)} accept")
    return f"""add table ip pycompose
delete table ip pycompose
table ip pycompose {{
  chain forward {{
    type filter hook forward priority filter; policy drop;
{chr(10).join(lines)}
    reject with icmp type admin-prohibited
  }}
}}
"""
