"""Kernel object names fit IFNAMSIZ and carry the root id; rulesets say what they must."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.netplug.errors import NetplugError
from pycompose.netplug.names import (
    bridge_name,
    check_ifname,
    container_veth_tmp,
    netns_name,
    uplink_name,
    veth_name,
)
from pycompose.netplug.nftrules import Dnat, host_ruleset, namespace_ruleset


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_link_names_fit_ifnamsiz(scope: str, cid: str) -> None:
    for name in (uplink_name("abc123", scope), bridge_name("f" * 64),
                 veth_name("f" * 64, cid), container_veth_tmp("f" * 64, cid)):
        assert len(name.encode()) <= 15
        check_ifname(name)
    assert uplink_name("abc123", scope).startswith("pcabc123")


def test_namespaces_carry_the_root_id() -> None:
    assert netns_name("abc123", "shop") == "pc-abc123-p-shop"
    assert netns_name("abc123", "") == "pc-abc123-standalone"


@pytest.mark.parametrize("bad", ["an-interface-name", "", "a b", "x/y"])
def test_bad_interface_names(bad: str) -> None:
    with pytest.raises(NetplugError, match=repr(bad)):
        check_ifname(bad)


def test_host_ruleset() -> None:
    text = host_ruleset("pycompose_abc123", "abc123", [
        Dnat("", 8080, "tcp", "172.17.0.2", 80, "c1"),
        Dnat("127.0.0.1", 5353, "udp", "172.17.0.3", 53, "c2"),
        Dnat("::1", 8081, "tcp", "172.17.0.2", 80, "c1"),
    ], guard=True)
    assert "tcp dport 8080 dnat to 172.17.0.2:80" in text
    assert "ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.3:53" in text
    assert "8081" not in text                      # IPv6: the userland proxy's
    assert 'iifname "pcabc123*" oifname != "pc*" masquerade' in text
    assert 'iifname != "pc*" oifname != "pc*" drop' in text
    assert text.startswith("add table ip pycompose_abc123\ndelete table")
    assert 'oifname != "pc*" drop' not in host_ruleset("t", "abc123", [], guard=False)
    assert 'iifname "pc*" oifname "pc*" reject' in text        # projects apart


def test_ports_on_loopback_answer_only_lo() -> None:
    """Issue 16, hole 4 (A16): a neighbour sending to 127.0.0.1:PORT at our MAC."""
    text = host_ruleset("t", "abc123", [
        Dnat("", 8080, "tcp", "172.17.0.2", 80, "c1"),
        Dnat("127.0.0.1", 5353, "udp", "172.17.0.3", 53, "c2"),
        Dnat("192.0.2.10", 9000, "tcp", "172.17.0.4", 90, "c3"),
    ], guard=False)
    raw = text.split("chain raw_prerouting {")[1].split("}")[0]
    assert "type filter hook prerouting priority raw" in raw
    assert 'iifname != "lo" ip daddr 127.0.0.0/8 tcp dport 8080 drop' in raw
    assert 'iifname != "lo" ip daddr 127.0.0.1 udp dport 5353 drop' in raw
    assert "9000" not in raw
    pre = text.split("chain prerouting {")[1].split("}")[0]
    assert "ip daddr != 127.0.0.0/8 fib daddr type local jump ports" in pre


def test_namespace_ruleset_keeps_internal_bridges_off_the_uplink() -> None:
    text = namespace_ruleset({"br-a": False, "br-b": True})
    assert 'iifname "br-a" oifname "up0" accept' in text
    assert "br-b\" oifname \"up0\"" not in text
    assert "policy drop" in text
