"""/etc/resolv.conf and /etc/hosts as docker writes them; network_mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycompose.netplug import hosts_file_for, parse_network_mode, resolv_conf_for
from pycompose.netplug.errors import NetplugError


@pytest.fixture
def host_resolv(tmp_path: Path) -> Path:
    p = tmp_path / "resolv.conf"
    p.write_text("# host\nnameserver 127.0.0.53\nnameserver 10.1.1.1\n"
                 "search corp.example\noptions edns0\n")
    return p


def test_our_dns_server_with_the_containers_search_and_options(host_resolv: Path) -> None:
    text = resolv_conf_for(nameservers=["172.18.0.1"], dns=["9.9.9.9"],
                           dns_search=["svc.local"], dns_opt=["ndots:2"],
                           host_resolv=host_resolv)
    assert text.splitlines()[1:] == ["nameserver 172.18.0.1", "search svc.local",
                                     "options ndots:2"]


def test_without_our_server_loopback_resolvers_are_dropped(host_resolv: Path) -> None:
    text = resolv_conf_for(host_resolv=host_resolv)
    assert "127.0.0.53" not in text and "nameserver 10.1.1.1" in text
    assert "search corp.example" in text and "options edns0" in text
    assert "nameserver 127.0.0.53" in resolv_conf_for(host_network=True,
                                                      host_resolv=host_resolv)
    assert "nameserver 9.9.9.9" in resolv_conf_for(dns=["9.9.9.9"], host_resolv=host_resolv)


def test_hosts_file() -> None:
    text = hosts_file_for("web", ["172.18.0.2"], domainname="example.com",
                          extra_hosts=["db.local:10.0.0.5", "gw=host-gateway",
                                       "v6:[::1]"], host_gateway="169.254.200.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.5\tdb.local" in lines and "169.254.200.1\tgw" in lines
    assert "::1\tv6" in lines
    assert lines[-1] == "172.18.0.2\tweb.example.com web"


@pytest.mark.parametrize("entry", ["nohost", "x:not-an-ip"])
def test_bad_extra_hosts(entry: str) -> None:
    with pytest.raises(NetplugError, match="extra_hosts"):
        hosts_file_for("web", [], extra_hosts=[entry])


def test_network_modes() -> None:
    assert parse_network_mode(None).attaches
    assert parse_network_mode("service:db").target == "db"
    assert not parse_network_mode("host").attaches
    assert parse_network_mode("container:abc").kind == "container"
    with pytest.raises(NetplugError, match="network_mode 'bogus'"):
        parse_network_mode("bogus")
