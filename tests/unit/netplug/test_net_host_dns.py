"""A network's subnet never holds the host's DNS server: the server is reached through
the default route (no route of its own to clash with), and a network given its subnet
took the host's route to it, and with it the machine's name resolution. (Pure: the
host's resolv.conf is a fake one here; no network is made.)"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pycompose.netplug import etcfiles, networks
from pycompose.netplug.errors import AddressError


@pytest.fixture
def fake_resolv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text("# the host's\nnameserver 10.255.255.53\nnameserver 127.0.0.53\n"
                    "nameserver fd00::1\nsearch example\n")
    real = etcfiles.read_host_resolv
    monkeypatch.setattr(etcfiles, "read_host_resolv", lambda p=path: real(p))
    return path


def test_the_hosts_dns_servers_are_its_ipv4_non_loopback_ones(fake_resolv: Path) -> None:
    assert networks.host_dns_servers() == [ipaddress.IPv4Network("10.255.255.53/32")]


@pytest.mark.parametrize("subnet", ["10.255.255.0/24", "10.255.0.0/16", "10.0.0.0/8",
                                    "10.255.255.53/32", "10.255.255.48/28"])
def test_a_subnet_holding_it_is_refused(fake_resolv: Path, subnet: str) -> None:
    with pytest.raises(AddressError, match=r"holds 10\.255\.255\.53, the host's DNS server"):
        networks._check_not_the_hosts_dns("n", subnet)


@pytest.mark.parametrize("subnet", ["10.255.254.0/24", "172.30.0.0/16", "127.0.0.0/8",
                                    "not a subnet"])
def test_others_pass(fake_resolv: Path, subnet: str) -> None:
    networks._check_not_the_hosts_dns("n", subnet)  # raises nothing
