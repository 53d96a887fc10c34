"""docker's own Compose against the service: a two-service stack (a web server with a
published port, a client on the project network with a named volume) brought up,
listed, reached, recreated after an edit and taken down, with each Compose this machine
has: Debian's docker-compose 1.29 (docker-py underneath) and, where its plugin is
installed, ``docker compose`` v2. (v2 is in neither Debian 12, PyPI nor npm; on a
machine without it that case is skipped, and says so.)"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.dockerapi import DOCKER_CLIS

if TYPE_CHECKING:
    from conftest import Service

STACK = """\
version: "3.8"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports: ["127.0.0.1::8080"]
    init: true
  client:
    image: busybox
    command: ["sh", "-c", "echo {mark} >> /data/log; trap 'exit 0' TERM; sleep 300 & wait"]
    depends_on: [web]
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""

PROJECT = "pcstack"


def _v2() -> list[str] | None:
    for cli in DOCKER_CLIS:
        r = subprocess.run([cli, "compose", "version"], capture_output=True, text=True)
        if r.returncode == 0 and " v2." in r.stdout:
            return [cli, "compose"]
    return None


V1 = ["/usr/bin/docker-compose"] if os.path.exists("/usr/bin/docker-compose") else None
V2 = _v2()
composes = pytest.mark.parametrize("compose", [
    pytest.param(V1, id="v1", marks=pytest.mark.skipif(
        V1 is None, reason="Debian's docker-compose is not installed")),
    pytest.param(V2, id="v2", marks=pytest.mark.skipif(
        V2 is None, reason="no docker compose v2 plugin on this machine")),
])


def _get(url: str, timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bytes(urllib.request.urlopen(url, timeout=2).read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
@composes
def test_a_two_service_stack_up_ps_exec_recreate_down(api: Service, tmp_path: Path,
                                                     compose: list[str]) -> None:
    file = tmp_path / "docker-compose.yml"
    file.write_text(STACK.format(mark="first"))

    def dc(*args: str) -> str:
        r = subprocess.run([*compose, "-p", PROJECT, "-f", str(file), *args],
                           cwd=tmp_path, env=api.env(), capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"compose {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def containers() -> dict[str, tuple[str, str]]:
        """service -> (id, status), from docker ps by compose's labels."""
        out = api.docker_ok("ps", "-a", "--no-trunc", "--filter",
                            f"label=com.docker.compose.project={PROJECT}", "--format",
                            '{{.Label "com.docker.compose.service"}} {{.ID}} {{.Status}}')
        rows = [ln.split(" ", 2) for ln in out.splitlines()]
        return {svc: (cid, status) for svc, cid, status in rows}

    dc("up", "-d")
    first = containers()
    assert set(first) == {"web", "client"}
    assert all(status.startswith("Up") for _, status in first.values()), first
    listed = dc("ps")
    for cid, _ in first.values():
        name = api.docker_ok("inspect", "-f", "{{.Name}}", cid).strip().lstrip("/")
        row = next((ln for ln in listed.splitlines() if name in ln), "")
        assert "Up" in row, listed

    port = dc("port", "web", "8080").strip().rsplit(":", 1)[1]
    assert _get(f"http://127.0.0.1:{port}/") == b"hello from busybox\n"
    # the client reaches the web server by its service name on the project's network
    out = dc("exec", "-T", "client", "sh", "-c",
             "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 8080")
    assert "hello from busybox" in out

    # an edit recreates the client alone; its named volume comes along
    file.write_text(STACK.format(mark="second"))
    dc("up", "-d")
    second = containers()
    assert second["web"][0] == first["web"][0]
    assert second["client"][0] != first["client"][0]
    assert second["client"][1].startswith("Up")
    deadline = time.monotonic() + 10
    while (log := dc("exec", "-T", "client", "cat", "/data/log")) != "first\nsecond\n":
        assert time.monotonic() < deadline, log
        time.sleep(0.1)

    dc("down", "-v")
    assert containers() == {}
    nets = api.docker_ok("network", "ls", "--format", "{{.Name}}").split()
    assert f"{PROJECT}_default" not in nets
    assert f"{PROJECT}_data" not in api.docker_ok("volume", "ls", "-q").split()
