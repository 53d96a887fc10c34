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
    _wait_for_a_spare(engine)
    client.request(engine.root, {"op": "shutdown"}, start=False)
    deadline = time.monotonic() + 10
    while engine.supervisor_pid() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert netns not in left
    assert f"pc-{root_id(engine.root)}-sp-" not in left  # nor a prepared namespace
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


def _spares(engine: Engine) -> list[str]:
    from pycompose.netplug.names import spare_netns_prefix
    from pycompose.netplug.nsutil import list_netns
    from pycompose.util.paths import root_id

    return list_netns(spare_netns_prefix(root_id(engine.root)))


def _wait_for_a_spare(engine: Engine) -> list[str]:
    import time

    deadline = time.monotonic() + 10
    while not (names := _spares(engine)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert names, "no network namespace was prepared for the next container"
    return names


def test_plain_runs_take_namespaces_prepared_ahead(engine: Engine) -> None:
    """After a plain run, the next container's network namespace waits, wired; each
    run takes one (its address is the container's, shown nowhere else) and the
    supervisor prepares the next."""
    engine.ok("run", "--rm", "busybox", "true")
    first = _wait_for_a_spare(engine)
    ips = set()
    for i in range(3):
        engine.ok("run", "-d", "--name", f"p{i}", "busybox", "sleep", "30")
        ip = engine.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", f"p{i}").strip()
        out = engine.ok("exec", f"p{i}", "ip", "-o", "-4", "addr", "show", "eth0")
        assert f" {ip}/" in out
        ips.add(ip)
        _wait_for_a_spare(engine)
    assert len(ips) == 3 and first[0] not in _spares(engine)
    import json

    shown = json.loads(engine.cli("network", "inspect", "bridge").stdout)[0]["Containers"]
    assert sorted(c["Name"] for c in shown.values()) == ["p0", "p1", "p2"]  # nobody else
    r = engine("run", "--rm", "busybox", "ping", "-c", "1", "-W", "2", ips.pop())
    assert r.returncode == 0, r.stdout + r.stderr  # containers on the bridge meet


def test_a_killed_supervisor_leaves_no_prepared_namespace(engine: Engine) -> None:
    import os
    import signal

    engine.ok("run", "--rm", "busybox", "true")
    old = _wait_for_a_spare(engine)
    pid = engine.supervisor_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    engine.ok("run", "--rm", "busybox", "true")  # a new supervisor
    assert not set(old) & set(_spares(engine))
