"""IPAM: pool choice around the host's routes, ipam settings checks, addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.netplug.errors import AddressError, NetworkConflict
from pycompose.netplug.ipam import (
    DEFAULT_POOLS,
    choose_address,
    choose_subnet,
    choose_uplink,
    mac_for,
    parse_pools,
    plan_subnet,
)

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def test_first_pool_is_dockers_bridge_subnet() -> None:
    assert choose_subnet(DEFAULT_POOLS, [N("192.0.2.0/24"), N("0.0.0.0/0")], []) == \
        N("172.17.0.0/16")


def test_subnets_routed_on_the_host_and_ours_are_skipped() -> None:
    routes = [N("172.17.5.0/24")]
    assert choose_subnet(DEFAULT_POOLS, routes, [N("172.18.0.0/16")]) == N("172.19.0.0/16")


def test_after_the_172_pools_come_192_168_slash_20s() -> None:
    taken = [N(f"172.{i}.0.0/16") for i in range(17, 32)]
    assert choose_subnet(DEFAULT_POOLS, [N("192.168.0.0/24")], taken) == N("192.168.16.0/20")


def test_exhausted_pools_say_what_to_do() -> None:
    with pytest.raises(AddressError, match="network prune"):
        choose_subnet(parse_pools("10.9.0.0/30"), [], [N("10.9.0.0/30")])


def test_explicit_subnet_overlapping_the_host_names_the_route() -> None:
    with pytest.raises(AddressError, match=r"network web: subnet 192\.0\.2\.0/25 overlaps "
                                           r"192\.0\.2\.0/24, which is routed on the host"):
        plan_subnet("web", subnet="192.0.2.0/25", gateway=None, ip_range=None,
                    pools=DEFAULT_POOLS, host_routes=[N("192.0.2.0/24")], ours={})


def test_two_networks_with_one_subnet_name_the_other() -> None:
    with pytest.raises(NetworkConflict, match="network b: subnet 10.5.0.0/24 overlaps "
                                              "network a"):
        plan_subnet("b", subnet="10.5.0.0/24", gateway=None, ip_range=None,
                    pools=DEFAULT_POOLS, host_routes=[], ours={"a": N("10.5.0.0/16")})


def test_the_default_route_does_not_count_as_an_overlap() -> None:
    p = plan_subnet("n", subnet="10.5.0.0/24", gateway=None, ip_range="10.5.0.128/25",
                    pools=DEFAULT_POOLS, host_routes=[N("0.0.0.0/0")], ours={})
    assert (p.subnet, p.gateway, p.ip_range) == (N("10.5.0.0/24"), A("10.5.0.1"),
                                                 N("10.5.0.128/25"))


@pytest.mark.parametrize("kw,msg", [
    ({"gateway": "10.6.1.1"}, "gateway 10.6.1.1 is not a host address of 10.6.0.0/24"),
    ({"gateway": "10.6.0.255"}, "not a host address"),
    ({"ip_range": "10.6.1.0/28"}, "ip_range 10.6.1.0/28 is not inside subnet"),
    ({"subnet": "10.6.0.0/31"}, "too small"),
    ({"subnet": "nonsense"}, "is not an IPv4 subnet"),
])
def test_bad_ipam_settings(kw: dict[str, str], msg: str) -> None:
    args = {"subnet": "10.6.0.0/24", "gateway": None, "ip_range": None} | kw
    with pytest.raises(AddressError, match=msg):
        plan_subnet("n", pools=DEFAULT_POOLS, host_routes=[], ours={}, **args)


def test_addresses_skip_gateway_and_taken_ones() -> None:
    sub = N("10.7.0.0/24")
    assert choose_address("n", sub, A("10.7.0.1"), sub, [A("10.7.0.2")]) == A("10.7.0.3")
    assert choose_address("n", sub, A("10.7.0.1"), N("10.7.0.64/26"), []) == A("10.7.0.65")


def test_static_address_checks() -> None:
    sub = N("10.7.0.0/24")
    gw = A("10.7.0.1")
    assert choose_address("n", sub, gw, sub, [], static="10.7.0.50") == A("10.7.0.50")
    with pytest.raises(AddressError, match=r"container web: address 10\.8\.0\.5 is outside "
                                           r"network n's subnet 10\.7\.0\.0/24"):
        choose_address("n", sub, gw, sub, [], static="10.8.0.5", owner="container web")
    with pytest.raises(AddressError, match="reserved"):
        choose_address("n", sub, gw, sub, [], static="10.7.0.1")
    with pytest.raises(NetworkConflict, match="already in use"):
        choose_address("n", sub, gw, sub, [A("10.7.0.9")], static="10.7.0.9")


def test_a_full_network_says_so() -> None:
    sub = N("10.7.0.0/30")
    with pytest.raises(AddressError, match="no free address"):
        choose_address("n", sub, A("10.7.0.1"), sub, [A("10.7.0.2")])


@given(st.sets(st.integers(2, 254), max_size=60))
def test_dynamic_address_is_free_and_inside(taken_hosts: set[int]) -> None:
    sub = N("10.9.0.0/24")
    taken = [A(f"10.9.0.{i}") for i in taken_hosts]
    if len(taken_hosts) >= 253:
        return
    addr = choose_address("n", sub, A("10.9.0.1"), sub, taken)
    assert addr in sub and addr not in taken
    assert addr not in (A("10.9.0.0"), A("10.9.0.1"), A("10.9.0.255"))
    # lowest free
    assert all(A(f"10.9.0.{i}") in taken for i in range(2, int(addr) - int(A("10.9.0.0"))))


@given(st.lists(st.integers(0, 255), min_size=1, max_size=8))
def test_chosen_subnets_never_overlap(seconds: list[int]) -> None:
    routes = [N(f"172.{17 + s % 15}.{s}.0/24") for s in seconds]
    taken: list[ipaddress.IPv4Network] = []
    for _ in range(3):
        net = choose_subnet(DEFAULT_POOLS, routes, taken)
        assert not any(net.overlaps(o) for o in routes + taken)
        taken.append(net)


def test_uplinks_are_link_local_slash_30s() -> None:
    a = choose_uplink([], [])
    b = choose_uplink([a], [])
    assert a.prefixlen == 30 and a.is_link_local and not a.overlaps(b)


def test_mac_follows_the_address_like_docker() -> None:
    assert mac_for(A("172.17.0.2")) == "02:42:ac:11:00:02"


def test_pool_syntax() -> None:
    assert parse_pools("10.10.0.0/16:24, 10.20.0.0/16")[0].size == 24
    with pytest.raises(AddressError):
        parse_pools("10.10.0.0/16:8")
