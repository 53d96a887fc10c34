"""The seam to netplug: a plain ``run`` joins docker's default bridge (a way out through
NAT, the host's resolver), ``-p`` publishes on it, ``--network NAME`` joins a user
network whose containers find each other by name, ``--network none`` has ``lo`` only."""

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING

from pctest.cli import PYCOMPOSE

if TYPE_CHECKING:
    from conftest import Engine



def _host_nameservers() -> list[str]:
    with open("/etc/resolv.conf") as f:
        return [ln.split()[1] for ln in f if ln.startswith("nameserver") and len(ln.split()) > 1]


def test_a_plain_run_joins_the_default_bridge(engine: Engine) -> None:
    """docker's default: eth0 on ``bridge`` with a default route, lo up, and the
    host's resolver in resolv.conf (reached through the NAT)."""
    out = engine.ok("run", "--rm", "busybox", "sh", "-c",
                    "ls /sys/class/net; ip route; grep nameserver /etc/resolv.conf; "
                    "ip -o link show lo")
    assert out.split("\n")[:2] == ["eth0", "lo"], out
    assert "default via 172." in out or "default via 192.168." in out, out
    for ns in _host_nameservers():
        if not ns.startswith("127."):
            assert f"nameserver {ns}" in out
    assert ",UP" in out.rsplit("\n", 2)[-2], out
    engine.ok("run", "-d", "--name", "plain", "busybox", "sleep", "30")
    nets = engine.ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "plain")
    assert '"bridge"' in nets
    assert engine.ok("inspect", "-f", "{{.HostConfig.NetworkMode}}", "plain").strip() \
        == "bridge"


def test_network_none_has_lo_up_and_nothing_else(engine: Engine) -> None:
    out = engine.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                    "ls /sys/class/net; ip -o link show lo; ip route | wc -l; "
                    "nc -l -p 4000 -e echo pong & sleep 0.2; nc 127.0.0.1 4000")
    lines = out.split("\n")
    assert lines[0] == "lo", out
    assert ",UP" in lines[1] and lines[2] == "0", out
    assert "pong" in out


def test_a_plain_run_reaches_the_outside_world_through_nat(engine: Engine) -> None:
    """Another machine, simulated by a namespace of the test's own on a veth of the
    host's: a plain ``run`` connects to it, masqueraded as the host."""
    import socket
    import subprocess

    from pycompose.netplug.nsutil import in_netns
    from pycompose.util.paths import root_id

    rid = root_id(engine.root)
    lan, host_end = f"lan-{rid}", f"lan{rid}"
    a, b = int(rid[:2], 16), int(rid[2:4], 16) & 0xFC
    net = f"10.{200 + a % 50}.{b}"
    subprocess.run(["ip", "netns", "add", lan], check=True)
    try:
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                        "netns", lan], check=True)
        subprocess.run(["ip", "addr", "add", f"{net}.1/30", "dev", host_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "up"], check=True)
        for cmd in (["addr", "add", f"{net}.2/30", "dev", "eth0"], ["link", "set", "eth0", "up"],
                    ["link", "set", "lo", "up"], ["route", "add", "default", "via", f"{net}.1"]):
            subprocess.run(["ip", "-n", lan, *cmd], check=True)
        with in_netns(lan):  # a socket stays in the namespace it was made in
            srv = socket.socket()
        srv.bind((f"{net}.2", 0))
        srv.listen(1)
        srv.settimeout(20)
        port = srv.getsockname()[1]
        with srv:
            r = subprocess.Popen([PYCOMPOSE, "container", "run",
                                  "--rm", "busybox", "sh", "-c",
                                  f"echo hi | nc -w 5 {net}.2 {port}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            conn, peer = srv.accept()
            with conn:
                assert conn.recv(10) == b"hi\n"
            assert r.wait(30) == 0, r.stderr.read() if r.stderr else ""
            for f in (r.stdout, r.stderr):
                if f:
                    f.close()
        assert peer[0] == f"{net}.1"  # the host's address: masqueraded
    finally:
        subprocess.run(["ip", "link", "del", host_end], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", lan], check=False)


def test_published_port_reaches_the_container(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox",
              "httpd", "-f", "-p", "80", "-h", "/var/www")
    mapping = engine.ok("port", "web").strip()
    assert mapping.startswith("80/tcp -> 127.0.0.1:")
    port = int(mapping.rsplit(":", 1)[1])
    body = b""
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            import time

            time.sleep(0.05)
    assert body == b"hello from busybox\n"
    assert f"127.0.0.1:{port}->80/tcp" in engine.ok("ls")


def test_containers_on_a_user_network_resolve_each_other(engine: Engine) -> None:
    assert engine.cli("network", "create", "appnet").returncode == 0
    engine.ok("run", "-d", "--name", "srv", "--network", "appnet", "busybox",
              "httpd", "-f", "-p", "80", "-h", "/var/www")
    r = engine("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
               "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc srv 80 | tail -n 1")
    assert r.stdout == "hello from busybox\n", r.stderr
    engine.ok("rm", "-f", "srv")
    assert engine.cli("network", "rm", "appnet").returncode == 0


def test_etc_files_take_add_host_and_dns(engine: Engine) -> None:
    out = engine.ok("run", "--rm", "--add-host", "db.local:10.1.2.3", "--dns", "10.9.9.9",
                    "--dns-search", "corp.example", "busybox", "sh", "-c",
                    "grep db.local /etc/hosts; cat /etc/resolv.conf")
    assert "10.1.2.3\tdb.local" in out
    assert "nameserver 10.9.9.9" in out and "search corp.example" in out


def test_compose_style_networks_with_aliases(engine: Engine) -> None:
    from pycompose.engine.api import CreateRequest, Endpoint
    from pycompose.engine.api import Engine as Face

    assert engine.cli("network", "create", "svcnet").returncode == 0
    face = Face(engine.root)
    cid = face.create(CreateRequest(
        image="busybox", name="proj-db-1", command=["httpd", "-f", "-p", "80", "-h", "/var/www"],
        endpoints=[Endpoint("svcnet", ["db"])]))
    face.start(cid)
    r = engine("run", "--rm", "--network", "svcnet", "busybox", "sh", "-c",
               "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc db 80 | tail -n 1")
    assert r.stdout == "hello from busybox\n", r.stderr
    engine.ok("rm", "-f", "proj-db-1")
    assert engine.cli("network", "rm", "svcnet").returncode == 0


def test_removing_a_container_whose_namespace_another_holds_frees_its_address(
        engine: Engine) -> None:
    """``--network container:A`` keeps A's namespace, and with it A's link, after A is
    removed: the link is deleted with A, or the address the network gives the next
    container would answer in two places."""
    assert engine.cli("network", "create", "--subnet", "10.124.250.0/29",
                      "sharenet").returncode == 0
    engine.ok("run", "-d", "--name", "a", "--network", "sharenet", "busybox", "sleep", "300")
    ip = engine.ok("inspect", "-f", "{{.NetworkSettings.Networks.sharenet.IPAddress}}",
                   "a").strip()
    engine.ok("run", "-d", "--name", "b", "--network", "container:a", "busybox",
              "sleep", "300")
    assert ip in engine.ok("exec", "b", "ip", "-4", "-o", "addr")
    engine.ok("rm", "-f", "a")
    assert ip not in engine.ok("exec", "b", "ip", "-4", "-o", "addr")
    engine.ok("rm", "-f", "b")
    assert engine.cli("network", "rm", "sharenet").returncode == 0


def test_network_connect_is_kept_in_the_record_as_docker_keeps_it(engine: Engine) -> None:
    """``network connect`` of the CLI went around the engine: inspect did not show it
    and a restart lost it; a stopped container was refused. Now: docker's behaviour."""
    assert engine.cli("network", "create", "--subnet", "10.124.251.0/29",
                      "joinnet").returncode == 0
    engine.ok("create", "--name", "late", "busybox", "sleep", "300")
    r = engine.cli("network", "connect", "nosuchnet", "late")
    assert r.returncode == 1 and "network nosuchnet not found" in r.stderr
    r = engine.cli("network", "connect", "--alias", "lately", "joinnet", "late")
    assert r.returncode == 0, r.stderr
    engine.ok("start", "late")
    assert "joinnet" in engine.ok("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                  "late")
    engine.ok("restart", "-t", "0", "late")
    assert "10.124.251." in engine.ok("exec", "late", "ip", "-4", "-o", "addr")
    assert engine.cli("network", "disconnect", "joinnet", "late").returncode == 0
    assert "10.124.251." not in engine.ok("exec", "late", "ip", "-4", "-o", "addr")
    engine.ok("rm", "-f", "late")
    assert engine.cli("network", "rm", "joinnet").returncode == 0
