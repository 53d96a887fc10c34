"""``container run --network NAME --ip ADDR --network-alias NAME``: the address is the
one asked for and the alias resolves for other containers on the network."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine


def test_static_ip_and_alias(engine: Engine) -> None:
    engine.cli("network", "create", "--subnet", "172.31.78.0/24", "flagnet")
    try:
        engine.ok("run", "-d", "--name", "srv", "--network", "flagnet",
                  "--ip", "172.31.78.50", "--network-alias", "backend", "busybox",
                  "sh", "-c", "while true; do echo up | nc -l -p 7000; done")
        assert engine.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}",
                         "srv").strip() == "172.31.78.50"
        out = engine.ok("run", "--rm", "--network", "flagnet", "busybox",
                        "sh", "-c", "nc -w 3 backend 7000")
        assert out.strip() == "up"
    finally:
        engine("rm", "-f", "srv")
        engine.cli("network", "rm", "flagnet")


def test_ip_needs_a_user_network(engine: Engine) -> None:
    r = engine("run", "--rm", "--ip", "10.1.2.3", "busybox", "true")
    assert r.returncode == 125
    assert "--ip and --network-alias need a user-defined network" in r.stderr
    assert "Traceback" not in r.stderr


def test_default_bridge_goes_when_the_supervisor_leaves_with_nothing_held(
        engine: Engine) -> None:
    import subprocess
    import time

    from pycompose.engine import client
    from pycompose.util.paths import root_id

    engine.ok("run", "--rm", "-p", "127.0.0.1::80", "busybox", "true")
    netns = f"pc-{root_id(engine.root)}-standalone"
    assert netns in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                   text=True).stdout
    client.request(engine.root, {"op": "shutdown"}, start=False)
    deadline = time.monotonic() + 10
    while engine.supervisor_pid() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                       text=True).stdout
    assert engine.cli("network", "ls", "--format", "{{.Name}}").stdout.split() == []


def test_network_container_shares_names_and_dns(engine: Engine) -> None:
    """``--network container:X`` resolves what X resolves: X's /etc/hosts and
    resolv.conf (the network's DNS server), as docker shares them."""
    engine.cli("network", "create", "sharednet")
    try:
        engine.ok("run", "-d", "--name", "holder", "--network", "sharednet", "busybox",
                  "sleep", "300")
        engine.ok("run", "-d", "--name", "peer", "--network", "sharednet",
                  "--network-alias", "backend", "busybox",
                  "sh", "-c", "while true; do echo up | nc -l -p 7000; done")
        out = engine.ok("run", "--rm", "--network", "container:holder", "busybox",
                        "sh", "-c", "cat /etc/resolv.conf; nc -w 3 backend 7000")
        assert out.strip().endswith("up"), out
        assert engine.ok("exec", "holder", "cat", "/etc/resolv.conf") in out
    finally:
        engine("rm", "-f", "holder", "peer")
        engine.cli("network", "rm", "sharednet")
