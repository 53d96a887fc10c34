"""The Docker Engine API service as the tests drive it: ``pycompose system service`` on a
socket of the test's own, and the clients users point at it -- the docker CLI (each one
this machine has), docker-py, raw HTTP for the requests no client sends.

The service runs as a child of the test (started and stopped by its pid); the
``engine`` fixture under it gives the state root with busybox imported and removes
every container and the supervisor before ``no_leaks`` looks.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pctest.cli import PYCOMPOSE
from pctest.engine import Engine

#: the docker CLIs a machine may have: Debian's (docker.io, 20.10) and a 28.x
DOCKER_CLIS = [p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(p)]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Service:
    def __init__(self, engine: Engine, sock: Path, proc: subprocess.Popen[bytes],
                 config_dir: Path, log: Path) -> None:
        self.engine = engine
        self.root = engine.root
        self.sock = sock
        self.proc = proc
        self.host = f"unix://{sock}"
        self.config_dir = config_dir
        self.log = log

    # -- the docker CLI ----------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir),
                    DOCKER_CLI_HINTS="false", DOCKER_BUILDKIT="0")

    def docker(self, *args: str, cli: str = "", input: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli or DOCKER_CLIS[-1], *args], env=self.env(), input=input,
                              capture_output=True, text=True, timeout=timeout)

    def docker_ok(self, *args: str, cli: str = "", input: str | None = None) -> str:
        r = self.docker(*args, cli=cli, input=input)
        assert r.returncode == 0, f"docker {' '.join(args)}: {r.stderr}"
        return r.stdout

    # -- docker-py ---------------------------------------------------------------------
    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, timeout=60)

    # -- raw HTTP ----------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | str | Any = None,
                headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        conn = UnixHTTPConnection(str(self.sock))
        try:
            data: bytes | None
            if body is None or isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            h = {"Content-Type": "application/json"} if data is not None else {}
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""


def start_service(engine: Engine, args: Sequence[str] = ("--time", "0"),
                  env: dict[str, str] | None = None) -> Service:
    base = Path(tempfile.mkdtemp(prefix="pcapi-", dir="/tmp"))  # a unix path is short
    sock = base / "run" / "docker.sock"
    config = base / "docker-config"
    config.mkdir()
    log = base / "service.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([PYCOMPOSE, "system", "service", *args, f"unix://{sock}"],
                                stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))
    svc = Service(engine, sock, proc, config, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the service exited: {svc.log_text()}")
        with contextlib.suppress(OSError):
            status, _, _ = svc.request("GET", "/_ping")
            if status == 200:
                return svc
        time.sleep(0.02)
    stop_service(svc)
    raise AssertionError(f"the service did not answer: {svc.log_text()}")


def stop_service(svc: Service) -> None:
    if svc.proc.poll() is None:
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(15)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait(5)
    shutil.rmtree(svc.sock.parent.parent, ignore_errors=True)


@pytest.fixture
def api(engine: Engine) -> Iterator[Service]:
    svc = start_service(engine)
    try:
        yield svc
    finally:
        alive = svc.alive()
        stop_service(svc)
        assert alive, f"the service died during the test:\n{svc.log_text()}"
        assert "Traceback" not in svc.log_text(), svc.log_text()
