"""Fixtures of the build tests: a state root with busybox imported, a folder to build
in, a runner for ``pycompose image build``, and a teardown that removes containers, stops
the supervisor and the default bridge before ``no_leaks`` looks for leftovers.

The Debian image (``debian_image``) comes from ``image bootstrap``, whose debootstrap run
is cached across test runs in /var/cache/pycompose-tests (PYCOMPOSE_TEST_CACHE)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.cli import run

CACHE = os.environ.get("PYCOMPOSE_TEST_CACHE", "/var/cache/pycompose-tests")


class Builder:
    """A build folder and the CLI pointed at the test's state root."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.folder = folder

    def write(self, name: str, text: str | bytes, mode: int | None = None) -> Path:
        p = self.folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def dockerfile(self, text: str, name: str = "Dockerfile") -> None:
        self.write(name, text)

    def build(self, *args: str, input: str | None = None, timeout: float = 180,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(["image", "build", "--progress", "plain", *args], cwd=self.folder,
                   input=input, timeout=timeout, env=env)

    def ok(self, *args: str, context: str = ".",
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
        r = self.build(*args, context, timeout=timeout)
        assert r.returncode == 0, f"build failed:\n{r.stdout}\n{r.stderr}"
        return r

    def run(self, *args: str, timeout: float = 60) -> str:
        r = run(["container", "run", "--rm", *args], timeout=timeout)
        assert r.returncode == 0, f"run {args}: {r.stdout}\n{r.stderr}"
        return r.stdout

    def cli(self, *args: str, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(list(args), cwd=self.folder, timeout=timeout, input=input)


def _supervisor_pid(root: Path) -> int | None:
    try:
        pid = int((root / "supervisor.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def teardown_root(root: Path) -> None:
    """Remove every container, stop the supervisor, drop the default bridge."""
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    if _supervisor_pid(root):
        from pycompose.engine import client

        try:
            client.request(root, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        deadline = time.monotonic() + 10
        while _supervisor_pid(root) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _supervisor_pid(root) is None, "the supervisor did not exit"
    if (root / "networks").exists():
        from pycompose.netplug import Networks

        Networks(root).cleanup_all()


@pytest.fixture
def builder(no_leaks: Path, busybox_tar: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Builder]:
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    r = run(["image", "import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]'])
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "ctx"
    folder.mkdir()
    b = Builder(no_leaks, folder)
    yield b
    teardown_root(no_leaks)


@pytest.fixture
def debian_image(builder: Builder) -> str:
    """``debian:bookworm`` made by ``image bootstrap`` (cached between runs)."""
    if shutil.which("debootstrap") is None and not os.path.exists("/usr/sbin/debootstrap"):
        pytest.skip("debootstrap is not installed (scripts/setup installs it)")
    r = run(["image", "bootstrap", "debian:bookworm", "--suite", "bookworm", "-q"],
            env={"PYCOMPOSE_BOOTSTRAP_CACHE": CACHE}, timeout=900)
    assert r.returncode == 0, r.stderr
    return "debian:bookworm"
