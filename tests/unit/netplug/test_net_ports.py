"""Port syntaxes of compose and docker, as users write them."""

from __future__ import annotations

import pytest

from pycompose.netplug import PortBinding, format_mapping, parse_port
from pycompose.netplug.errors import NetplugError

B = PortBinding


@pytest.mark.parametrize("spec,want", [
    ("80", [B("", None, 80, "tcp")]),
    (80, [B("", None, 80, "tcp")]),
    ("8080:80", [B("", 8080, 80, "tcp")]),
    ("127.0.0.1:8080:80", [B("127.0.0.1", 8080, 80, "tcp")]),
    ("127.0.0.1::80", [B("127.0.0.1", None, 80, "tcp")]),
    ("0.0.0.0:53:53/udp", [B("", 53, 53, "udp")]),
    ("9090-9091:8080-8081", [B("", 9090, 8080, "tcp"), B("", 9091, 8081, "tcp")]),
    ("3000-3001", [B("", None, 3000, "tcp"), B("", None, 3001, "tcp")]),
    ("8000-8010:80", [B("", 8000, 80, "tcp", 8010)]),
    ("[::1]:6001:6001", [B("::1", 6001, 6001, "tcp")]),
    ("6060:6060/UDP", [B("", 6060, 6060, "udp")]),
    ({"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp",
      "mode": "host"}, [B("127.0.0.1", 8080, 80, "udp")]),
    ({"target": 80}, [B("", None, 80, "tcp")]),
    ({"target": 80, "published": "8080-8081"}, [B("", 8080, 80, "tcp", 8081)]),
])
def test_port_syntaxes(spec: object, want: list[PortBinding]) -> None:
    assert parse_port(spec) == want  # type: ignore[arg-type]


@pytest.mark.parametrize("spec,msg", [
    ("80/sctp", "protocol 'sctp'"),
    ("70000", "not in 1..65535"),
    ("x:80", "'x' is not a port number"),
    ("1.2.3:80:80", "not an IP address"),
    ("9000-9002:80-81", "differ in size"),
    ("90-80", "backwards"),
    ("::1:80:80", "too many ':'"),
    ({"published": 80}, "'target' is required"),
])
def test_bad_ports_name_the_entry(spec: object, msg: str) -> None:
    with pytest.raises(NetplugError, match=msg):
        parse_port(spec)  # type: ignore[arg-type]


def test_docker_port_output() -> None:
    bs = [B("", 8080, 80, "tcp"), B("::1", 8081, 80, "tcp"), B("", 53, 53, "udp")]
    assert format_mapping(bs) == ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::1]:8081",
                                  "53/udp -> 0.0.0.0:53"]
    assert format_mapping(bs, 53) == ["53/udp -> 0.0.0.0:53"]
