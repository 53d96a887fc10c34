"""Bad input gives one clear error naming the object and leaves nothing half-made; a
pycompose killed with SIGKILL half-way leaves objects that the next run finds."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from nethelp import in_ns  # type: ignore[import-not-found]

from pycompose.netplug import AddressError, NetplugError, Networks, PortBinding, PortInUse
from pycompose.netplug.errors import NetworkConflict
from pycompose.netplug.ipam import parse_pools
from pycompose.netplug.names import netns_name, nft_table, uplink_name

Ctr = Callable[[], str]


def _links_in(ns: str) -> set[str]:
    r = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True)
    return {line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines()}


def _nft_ports(rid: str) -> str:
    return subprocess.run(["nft", "list", "chain", "ip", nft_table(rid), "ports"],
                          capture_output=True, text=True).stdout


def test_a_port_taken_on_the_host(nets: Networks, make_ctr: Ctr) -> None:
    nets.ensure("f1_default", project="f1")
    att = nets.attach("f1_default", "a" * 64, f"/run/netns/{make_ctr()}")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=f"host port 127.0.0.1:{port}/tcp is already in "
                                            "use"):
            nets.publish("a" * 64, att.ip, [PortBinding("", None, 81, "tcp"),
                                            PortBinding("127.0.0.1", port, 80, "tcp")])
    assert nets.ports("a" * 64) == []
    assert "dport" not in _nft_ports(nets.rid)       # all or nothing


def test_a_port_published_by_another_container(nets: Networks, make_ctr: Ctr) -> None:
    nets.ensure("f2_default", project="f2")
    a = nets.attach("f2_default", "a" * 64, f"/run/netns/{make_ctr()}")
    b = nets.attach("f2_default", "b" * 64, f"/run/netns/{make_ctr()}")
    port = nets.publish("a" * 64, a.ip, [PortBinding("", None, 80, "tcp")])[0].host_port
    with pytest.raises(PortInUse, match=f"127.0.0.1:{port}/tcp is already published by "
                                        f"container {'a' * 12}"):
        nets.publish("b" * 64, b.ip, [PortBinding("127.0.0.1", port, 80, "tcp")])


def test_an_address_outside_the_subnet(nets: Networks, make_ctr: Ctr) -> None:
    nets.ensure("f3_default", project="f3", subnet="10.93.0.0/24")
    ctr = make_ctr()
    with pytest.raises(AddressError, match=r"container web-1: address 10\.94\.0\.5 is "
                                           r"outside network f3_default's subnet"):
        nets.attach("f3_default", "a" * 64, f"/run/netns/{ctr}", ipv4_address="10.94.0.5",
                    container_name="web-1")
    assert nets.inspect("f3_default").attachments == {}
    assert _links_in(netns_name(nets.rid, "f3")) == {"lo", "up0", "br-" +
                                                     nets.inspect("f3_default").id[:12]}
    assert _links_in(ctr) == {"lo"}


def test_a_subnet_routed_on_the_host(nets: Networks) -> None:
    dummy = f"pc{nets.rid}t0"
    subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name",
                    dummy[:-1] + "1"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.123.45.1/24", "dev", dummy], check=True)
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        with pytest.raises(AddressError, match=r"network f4_default: subnet 10\.123\.45\.0/24 "
                                               r"overlaps 10\.123\.45\.0/24, which is routed"):
            nets.ensure("f4_default", project="f4", subnet="10.123.45.0/24")
        # an automatic subnet steps around it
        pools = Networks(nets.root, pools=parse_pools("10.123.44.0/23:24"))
        assert pools.ensure("f4_auto", project="f4").subnet == "10.123.44.0/24"
        pools.cleanup_project("f4")
    finally:
        subprocess.run(["ip", "link", "del", dummy], check=False)
    assert nets.list() == []


def test_two_networks_with_one_subnet(nets: Networks) -> None:
    nets.ensure("f5_a", project="f5", subnet="10.95.0.0/24")
    with pytest.raises(NetworkConflict, match=r"network f5_b: subnet 10\.95\.0\.0/24 overlaps "
                                              r"network f5_a"):
        nets.ensure("f5_b", project="f5", subnet="10.95.0.0/24")
    assert [n.name for n in nets.list()] == ["f5_a"]


def test_an_interface_name_too_long(nets: Networks, make_ctr: Ctr) -> None:
    nets.ensure("f6_default", project="f6")
    ctr = make_ctr()
    with pytest.raises(NetplugError, match="'eth-much-too-long0' is too long"):
        nets.attach("f6_default", "a" * 64, f"/run/netns/{ctr}", "eth-much-too-long0")
    assert _links_in(ctr) == {"lo"}
    with pytest.raises(NetplugError, match="network name 'bad name' is invalid"):
        nets.ensure("bad name")


CRASH = """
import os, signal, sys
from pathlib import Path
from pycompose.netplug import Networks, kernel
step = sys.argv[1]
nets = Networks(Path(sys.argv[2]))
def killer(orig):
    def f(*a, **k):
        orig(*a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    return f
if step == "ensure":
    kernel.ensure_bridge = killer(kernel.ensure_bridge)
    nets.ensure("k_default", project="k")
else:
    nets.ensure("k_default", project="k")
    kernel.nft = lambda *a, **k: None            # die before any rule is written ...
    orig = kernel.wire_container
    def half(ns, bridge, veth, tmp, target, *rest):
        from pyroute2 import IPRoute
        from pycompose.netplug.nsutil import in_netns
        with in_netns(ns):
            ipr = IPRoute()
        fd = os.open(target, os.O_RDONLY)
        ipr.link("add", ifname=veth, kind="veth", peer={"ifname": tmp, "net_ns_fd": fd})
        os.kill(os.getpid(), signal.SIGKILL)     # ... with a veth pair made, not wired
    kernel.wire_container = half
    nets.attach("k_default", "a" * 64, sys.argv[3])
"""


@pytest.mark.parametrize("step", ["ensure", "attach"])
def test_kill_9_during_set_up_then_up_and_down_clean_up(nets: Networks, make_ctr: Ctr,
                                                        step: str) -> None:
    ctr = make_ctr()
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH), step, str(nets.root),
                        f"/run/netns/{ctr}"], capture_output=True, text=True)
    assert r.returncode == -9, r.stderr
    ns = netns_name(nets.rid, "k")
    assert Path("/run/netns", ns).exists()             # something was left
    # the next `up` converges ...
    nets.ensure("k_default", project="k")
    att = nets.attach("k_default", "a" * 64, f"/run/netns/{ctr}")
    assert att.ip in in_ns(ctr, "ip", "-o", "addr").stdout
    # ... and the next `down` removes everything, found by name
    nets.cleanup_project("k")
    assert not Path("/run/netns", ns).exists()
    assert uplink_name(nets.rid, "k") not in subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert nft_table(nets.rid) not in subprocess.run(["nft", "list", "tables"],
                                                     capture_output=True, text=True).stdout


def test_kill_9_then_down_without_up(nets: Networks, make_ctr: Ctr) -> None:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH), "ensure",
                        str(nets.root)], capture_output=True, text=True)
    assert r.returncode == -9, r.stderr
    Networks(nets.root).cleanup_project("k")
    assert not Path("/run/netns", netns_name(nets.rid, "k")).exists()
    assert nets.list() == []


def test_publishing_again_after_a_restart_keeps_the_ports(nets: Networks,
                                                          make_ctr: Ctr) -> None:
    nets.ensure("f7_default", project="f7")
    att = nets.attach("f7_default", "a" * 64, f"/run/netns/{make_ctr()}")
    want = [PortBinding("", None, 80, "tcp"), PortBinding("127.0.0.1", None, 53, "udp")]
    first = nets.publish("a" * 64, att.ip, want)
    assert nets.publish("a" * 64, att.ip, want) == first
    assert nets.ports("a" * 64) == first
    assert _nft_ports(nets.rid).count("dnat to") == 2
