"""The seam to netplug: ``-p`` publishes on docker's default bridge, ``--network NAME``
joins a user network whose containers find each other by name; without either the
container has only ``lo``."""

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine



def test_no_network_means_lo_only(engine: Engine) -> None:
    out = engine.ok("run", "--rm", "busybox", "ls", "/sys/class/net")
    assert out.split() == ["lo"]


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
