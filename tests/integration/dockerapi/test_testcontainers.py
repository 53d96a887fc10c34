"""testcontainers-python against the service: a container with a published port and
a wait strategy, started and stopped as a test suite would.

Its reaper (Ryuk) is an image from Docker Hub, which these machines cannot reach, so
it is turned off (``TESTCONTAINERS_RYUK_DISABLED``); the container is stopped by the
context manager, as without a reaper. These machines also have a ``/.dockerenv``
(they run in a container), which makes testcontainers connect through the container
network's gateway; a test says where the published ports are (``TC_HOST``, connection
mode ``docker_host``), as a user in a container whose engine is local does."""

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING

import pytest

tc = pytest.importorskip("testcontainers.core.container")
waits = pytest.importorskip("testcontainers.core.wait_strategies")

if TYPE_CHECKING:
    from conftest import Service


@pytest.fixture
def tc_env(api: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    monkeypatch.setenv("DOCKER_HOST", api.host)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    monkeypatch.setattr(testcontainers_config, "tc_host_override", "127.0.0.1")
    monkeypatch.setattr(testcontainers_config, "connection_mode_override",
                        ConnectionMode.docker_host)
    return api


def test_a_container_with_a_published_port_and_an_http_wait(tc_env: Service) -> None:
    box = tc.DockerContainer("busybox") \
        .with_command("sh -c 'sleep 0.5; echo ready; exec httpd -f -p 8080 -h /var/www'") \
        .with_exposed_ports(8080) \
        .waiting_for(waits.HttpWaitStrategy(8080, "/index.html").for_status_code(200))
    with box:
        host = box.get_container_host_ip()
        port = box.get_exposed_port(8080)
        body = urllib.request.urlopen(f"http://{host}:{port}/index.html", timeout=5).read()
        assert body == b"hello from busybox\n"
        assert b"ready" in box.get_logs()[0]
        cid = box.get_wrapped_container().id
    assert tc_env.docker_ok("ps", "-aq") == ""  # stopped and removed
    assert cid


def test_a_log_wait_strategy(tc_env: Service) -> None:
    box = tc.DockerContainer("busybox") \
        .with_command("sh -c 'sleep 0.3; echo database system is ready; sleep 30'") \
        .waiting_for(waits.LogMessageWaitStrategy("system is ready"))
    with box:
        out, _ = box.exec(["echo", "inside"])
        assert out == 0
