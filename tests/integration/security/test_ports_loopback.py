"""Hole 4, A16 of issue 16: a port published on 127.0.0.1 (or on every address) must
not answer a neighbour that sends to 127.0.0.1:PORT at the host's MAC address, as
docker drops such packets; the host itself still reaches it. The neighbour is a
network namespace and veth pair of the test's own (never eth0), speaking raw frames
(pctest/rawnet.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine

RAWNET = str(Path(__file__).resolve().parents[2] / "pctest" / "rawnet.py")


@dataclass
class Neighbour:
    ns: str
    iface: str
    ip: str
    host_ip: str
    host_mac: str

    def syn(self, dst_ip: str, port: int) -> str:
        r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, RAWNET,
                            self.iface, self.host_mac, self.ip, dst_ip, str(port)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def neighbour(no_leaks: Path) -> Iterator[Neighbour]:
    from pycompose.util.paths import root_id

    rid = root_id(no_leaks)
    ns, host, peer = f"pctest-{rid}-nb", f"pt{rid}h", f"pt{rid}n"
    a, b = int(rid[:2], 16), int(rid[2:4], 16) & 0xFC
    host_ip, nb_ip = f"10.123.{a}.{b + 1}", f"10.123.{a}.{b + 2}"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host)
        _ip("link", "set", host, "up")
        _ip("-n", ns, "addr", "add", f"{nb_ip}/30", "dev", peer)
        _ip("-n", ns, "link", "set", peer, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        mac = Path(f"/sys/class/net/{host}/address").read_text().strip()
        yield Neighbour(ns, peer, nb_ip, host_ip, mac)
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _conntrack_from(ip: str) -> list[str]:
    with open("/proc/net/nf_conntrack") as f:
        return [line for line in f if f"src={ip} " in line]


def _host_port(engine: Engine, name: str) -> int:
    return int(engine.ok("port", name).split(":")[-1])


def test_ports_on_loopback_answer_only_traffic_from_lo(engine: Engine,
                                                      neighbour: Neighbour) -> None:
    engine.ok("run", "-d", "--name", "lo-only", "-p", "127.0.0.1::80", "busybox",
              "httpd", "-f", "-p", "80", "-h", "/var/www")
    engine.ok("run", "-d", "--name", "every", "-p", "80", "busybox",
              "httpd", "-f", "-p", "80", "-h", "/var/www")
    lo_port, any_port = _host_port(engine, "lo-only"), _host_port(engine, "every")
    for port in (lo_port, any_port):  # the host itself: `nc 127.0.0.1 PORT`
        r = subprocess.run(["busybox", "nc", "127.0.0.1", str(port)],
                           input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True,
                           timeout=10)
        assert "hello from busybox" in r.stdout, (port, r.stdout, r.stderr)
    # the probe works: the neighbour reaches the port published on every address
    # through the host's own address on the link
    assert neighbour.syn(neighbour.host_ip, any_port) == "answered"
    # ... and never through 127.0.0.1 sent to the host's MAC
    assert neighbour.syn("127.0.0.1", lo_port) == "silent"
    assert neighbour.syn("127.0.0.1", any_port) == "silent"
    assert not [c for c in _conntrack_from(neighbour.ip) if "dst=127." in c]
