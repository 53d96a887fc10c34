"""Fixtures of the registry tests: a real docker-registry on a free loopback port
(plain, htpasswd Basic, or behind a token server), docker's and pycompose's config files
of the test's own, the busybox image in the test's store, and a teardown that stops
the supervisor when a test ran containers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest import registry as R
from pctest.cli import run
from pctest.registry import USERS


@pytest.fixture(autouse=True)
def _configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the machine's ~/.docker or /etc/pycompose."""
    if not R.available():
        pytest.skip("docker-registry is not installed (scripts/setup installs it)")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("PYCOMPOSE_CONFIG", str(tmp_path / "pycompose-config.json"))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[R.RegistryServer]:
    reg = R.RegistryServer(tmp_path / "registry").start()
    yield reg
    reg.stop()


@pytest.fixture
def basic_registry(tmp_path: Path) -> Iterator[R.RegistryServer]:
    pw = R.htpasswd_file(tmp_path / "htpasswd", USERS)
    reg = R.RegistryServer(tmp_path / "registry-basic", auth=("htpasswd", str(pw))).start()
    yield reg
    reg.stop()


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[R.TokenServer]:
    ts = R.TokenServer(tmp_path / "tokens", USERS)
    yield ts
    ts.close()


@pytest.fixture
def token_registry(tmp_path: Path, token_server: R.TokenServer
                   ) -> Iterator[R.RegistryServer]:
    reg = R.RegistryServer(tmp_path / "registry-token",
                           auth=token_server.registry_auth()).start()
    yield reg
    reg.stop()


@pytest.fixture
def busybox(no_leaks: Path, busybox_tar: Path) -> Path:
    """The test's store holds busybox:latest; returns the state root."""
    r = run(["image", "import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]'])
    assert r.returncode == 0, r.stderr
    return no_leaks


@pytest.fixture
def containers(no_leaks: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """For tests that run containers: at the end remove them and stop the supervisor
    (before no_leaks looks)."""
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    yield no_leaks
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    try:
        pid = int((no_leaks / "supervisor.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        pid = 0
    if pid:
        from pycompose.engine import client

        try:
            client.request(no_leaks, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
    if (no_leaks / "networks").exists():
        from pycompose.netplug import Networks

        Networks(no_leaks).cleanup_all()


@pytest.fixture
def stack(busybox: Path, containers: Path, tmp_path: Path) -> Iterator[object]:
    """A compose project folder (a unique name) on the test's store with busybox in it;
    taken down at the end."""
    import uuid

    from pctest.stack import Stack

    folder = tmp_path / "project"
    folder.mkdir()
    s = Stack(containers, folder, f"t{uuid.uuid4().hex[:8]}")
    yield s
    if (folder / "compose.yaml").exists():
        s("down", "-v", "-t", "1")
