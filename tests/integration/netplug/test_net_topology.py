"""Real namespaces, bridges and veth pairs: who reaches whom, published ports, NAT
boundaries, and that nothing is left behind."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from nethelp import can_connect, in_ns  # type: ignore[import-not-found]

from pycompose.netplug import Networks, PortBinding
from pycompose.netplug.forwarding import FORWARD_MARK
from pycompose.netplug.names import nft_table

Ctr = Callable[[], str]
Serve = Callable[[str | None, int], None]


def _nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_containers_on_one_network_reach_each_other(nets: Networks, make_ctr: Ctr,
                                                    serve: Serve) -> None:
    nets.ensure("p1_default", project="p1")
    a, b = make_ctr(), make_ctr()
    att_a = nets.attach("p1_default", "a" * 64, f"/run/netns/{a}", aliases=["web"])
    att_b = nets.attach("p1_default", "b" * 64, f"/run/netns/{b}", aliases=["db"])
    assert att_a.ip != att_b.ip and att_a.gateway == att_b.gateway
    serve(b, 5000)
    assert can_connect(a, att_b.ip, 5000)
    # the container sees eth0 with its address, MAC, and a default route via the gateway
    r = in_ns(a, "ip", "-o", "-4", "addr", "show", "eth0")
    assert f"{att_a.ip}/{att_a.prefixlen}" in r.stdout
    assert f"default via {att_a.gateway} dev eth0" in in_ns(a, "ip", "route").stdout


def test_the_same_container_keeps_its_address_until_detached(nets: Networks,
                                                             make_ctr: Ctr) -> None:
    nets.ensure("p2_default", project="p2")
    a1, b = make_ctr(), make_ctr()
    first = nets.attach("p2_default", "a" * 64, f"/run/netns/{a1}")
    nets.attach("p2_default", "b" * 64, f"/run/netns/{b}")
    subprocess.run(["ip", "netns", "del", a1], check=True)      # the container stops
    a2 = make_ctr()                                             # ...and starts again
    again = nets.attach("p2_default", "a" * 64, f"/run/netns/{a2}")
    assert again.ip == first.ip and again.mac == first.mac
    nets.detach("p2_default", "a" * 64)
    assert in_ns(a2, "ip", "link", "show", "eth0").returncode != 0
    c = make_ctr()
    assert nets.attach("p2_default", "c" * 64, f"/run/netns/{c}").ip == first.ip


def test_networks_and_projects_are_isolated(nets: Networks, make_ctr: Ctr,
                                            serve: Serve) -> None:
    nets.ensure("p3_front", project="p3")
    nets.ensure("p3_back", project="p3")
    nets.ensure("p4_default", project="p4")
    srv, same, other_net, other_proj = make_ctr(), make_ctr(), make_ctr(), make_ctr()
    target = nets.attach("p3_front", "s" * 64, f"/run/netns/{srv}").ip
    nets.attach("p3_front", "a" * 64, f"/run/netns/{same}")
    nets.attach("p3_back", "b" * 64, f"/run/netns/{other_net}")
    nets.attach("p4_default", "c" * 64, f"/run/netns/{other_proj}")
    serve(srv, 5001)
    assert can_connect(same, target, 5001)
    assert not can_connect(other_net, target, 5001)
    assert not can_connect(other_proj, target, 5001)
    assert can_connect(None, target, 5001)          # the host reaches containers, as docker


def test_published_tcp_and_udp_ports_answer_from_the_host(nets: Networks, make_ctr: Ctr,
                                                          serve: Serve) -> None:
    nets.ensure("p5_default", project="p5")
    ctr, other = make_ctr(), make_ctr()
    att = nets.attach("p5_default", "a" * 64, f"/run/netns/{ctr}")
    nets.attach("p5_default", "b" * 64, f"/run/netns/{other}")
    serve(ctr, 80)
    got = nets.publish("a" * 64, att.ip, [PortBinding("", None, 80, "tcp"),
                                          PortBinding("127.0.0.1", None, 80, "udp")])
    tcp_port, udp_port = got[0].host_port, got[1].host_port
    assert tcp_port and udp_port and nets.ports("a" * 64) == got
    assert can_connect(None, "127.0.0.1", tcp_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(3)
        u.sendto(b"ping", ("127.0.0.1", udp_port))
        assert u.recvfrom(100)[0] == b"hello ping"
    # from another container, through the host's address (hairpin NAT)
    assert can_connect(other, nets.host_gateway("p5_default"), tcp_port)
    nets.unpublish("a" * 64)
    assert not can_connect(None, "127.0.0.1", tcp_port, timeout=0.5)


def test_internal_network_has_no_way_out(nets: Networks, make_ctr: Ctr,
                                         serve: Serve) -> None:
    nets.ensure("p6_default", project="p6")
    nets.ensure("p6_private", project="p6", internal=True)
    inside, peer, outside = make_ctr(), make_ctr(), make_ctr()
    att = nets.attach("p6_private", "a" * 64, f"/run/netns/{inside}")
    peer_ip = nets.attach("p6_private", "p" * 64, f"/run/netns/{peer}").ip
    out_ip = nets.attach("p6_default", "b" * 64, f"/run/netns/{outside}").ip
    assert att.gateway is None
    serve(None, 5002)                                   # a server on the host
    serve(peer, 5002)
    serve(outside, 5002)
    host = nets.host_gateway("p6_default")
    assert can_connect(outside, host, 5002)
    assert can_connect(inside, peer_ip, 5002)           # inside the network: fine
    assert "default" not in in_ns(inside, "ip", "route").stdout
    # even a container that adds a route of its own is stopped at the bridge
    gw = nets.inspect("p6_private").gateway
    in_ns(inside, "ip", "route", "add", "default", "via", gw)
    assert not can_connect(inside, host, 5002)
    assert not can_connect(inside, out_ip, 5002)


def test_down_leaves_nothing_behind(nets: Networks, make_ctr: Ctr) -> None:
    before_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    nets.ensure("p7_default", project="p7")
    nets.ensure("p7_other", project="p7", subnet="10.77.0.0/24")
    ctr = make_ctr()
    att = nets.attach("p7_default", "a" * 64, f"/run/netns/{ctr}")
    nets.publish("a" * 64, att.ip, [PortBinding("", None, 80, "tcp")])
    assert nft_table(nets.rid) in _nft_tables()
    nets.cleanup_project("p7")
    assert nets.list() == []
    assert nft_table(nets.rid) not in _nft_tables()
    assert in_ns(ctr, "ip", "link", "show", "eth0").returncode != 0
    assert "10.77.0.0" not in subprocess.run(["ip", "route"], capture_output=True,
                                             text=True).stdout
    others = [t for t in _nft_tables().split() if t.startswith("pycompose_")]
    if before_forward.strip() == "0" and not others:   # no other state root at work
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
        assert not FORWARD_MARK.exists()
    # and the no_leaks fixture checks netns and links


def test_ensure_is_idempotent_and_checks_what_exists(nets: Networks) -> None:
    a = nets.ensure("p8_default", project="p8", subnet="10.78.0.0/24")
    assert nets.ensure("p8_default", project="p8").subnet == a.subnet
    with pytest.raises(Exception, match="belongs to project p8"):
        nets.ensure("p8_default", project="p9")
    with pytest.raises(Exception, match="exists with subnet 10.78.0.0/24"):
        nets.ensure("p8_default", project="p8", subnet="10.79.0.0/24")


def test_a_udp_port_published_again_reaches_the_new_container(
        nets: Networks, make_ctr: Ctr, serve: Callable[..., None]) -> None:
    nets.ensure("p9_default", project="p9")
    old, new = make_ctr(), make_ctr()
    a = nets.attach("p9_default", "a" * 64, f"/run/netns/{old}")
    b = nets.attach("p9_default", "b" * 64, f"/run/netns/{new}")
    serve(old, 53, " from old")
    serve(new, 53, " from new")
    port = nets.publish("a" * 64, a.ip, [PortBinding("127.0.0.1", None, 53, "udp")])[0].host_port
    assert port is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(3)
        u.sendto(b"one", ("127.0.0.1", port))
        assert u.recvfrom(100)[0] == b"hello one from old"
        nets.unpublish("a" * 64)
        nets.publish("b" * 64, b.ip, [PortBinding("127.0.0.1", port, 53, "udp")])
        u.sendto(b"two", ("127.0.0.1", port))               # the same client "flow"
        assert u.recvfrom(100)[0] == b"hello two from new"


def test_the_outside_world_through_nat_and_published_ports_only(
        nets: Networks, make_ctr: Ctr, serve: Callable[..., None]) -> None:
    """Another machine, simulated: a namespace on a veth of the host's that is not
    pycompose's. Containers reach it (masquerade); it reaches a published port, and
    not a container's address directly."""
    lan, host_end = make_ctr(), f"lan{nets.rid}"
    subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                    "netns", lan], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.201.0.1/30", "dev", host_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "up"], check=True)
        for cmd in (["addr", "add", "10.201.0.2/30", "dev", "eth0"],
                    ["link", "set", "eth0", "up"], ["link", "set", "lo", "up"],
                    ["route", "add", "default", "via", "10.201.0.1"]):
            subprocess.run(["ip", "-n", lan, *cmd], check=True)
        nets.ensure("pa_default", project="pa")
        ctr = make_ctr()
        att = nets.attach("pa_default", "a" * 64, f"/run/netns/{ctr}")
        serve(ctr, 8000)
        serve(lan, 9000)
        port = nets.publish("a" * 64, att.ip, [PortBinding("", None, 8000, "tcp")])[0].host_port
        assert port is not None
        assert can_connect(ctr, "10.201.0.2", 9000)           # out, masqueraded
        assert can_connect(lan, "10.201.0.1", port)           # in, through the port
        assert not can_connect(lan, att.ip, 8000, timeout=1)  # not around it
    finally:
        subprocess.run(["ip", "link", "del", host_end], check=False)


def test_standalone_networks_share_a_namespace_and_stay_apart(
        nets: Networks, make_ctr: Ctr, serve: Serve) -> None:
    bridge = nets.ensure_default()
    assert bridge.name == "bridge" and not bridge.dns_names and bridge.scope == ""
    nets.ensure("teamA")
    nets.ensure("teamB")
    a1, a2, b1 = make_ctr(), make_ctr(), make_ctr()
    ip_a1 = nets.attach("teamA", "1" * 64, f"/run/netns/{a1}").ip
    nets.attach("teamA", "2" * 64, f"/run/netns/{a2}")
    nets.attach("teamB", "3" * 64, f"/run/netns/{b1}")
    assert Path("/run/netns", f"pc-{nets.rid}-standalone").exists()
    serve(a1, 7000)
    assert can_connect(a2, ip_a1, 7000)
    assert not can_connect(b1, ip_a1, 7000)
    assert nets.prune() == []                              # all in use (or the default)
    assert {n.name for n in nets.list()} == {"bridge", "teamA", "teamB"}
