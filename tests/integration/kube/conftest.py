"""``kube play`` on the real engine: a folder for the manifests, the busybox image in
the test's own state root; teardown plays ``--down``, stops the supervisor and proves
nothing is left."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.cli import run


class Play:
    def __init__(self, root: Path, folder: Path, name: str) -> None:
        self.root = root
        self.folder = folder
        self.name = name  # the project name (-p), unique per test
        self.files: list[Path] = []

    def write(self, text: str, file: str = "app.yaml") -> Path:
        path = self.folder / file
        path.write_text(text)
        if path not in self.files:
            self.files.append(path)
        return path

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run(["-p", self.name, "kube", *args], cwd=self.folder, timeout=timeout)

    def ok(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        r = self(*args, timeout=timeout)
        assert r.returncode == 0, f"kube {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r

    def container(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(["container", *args], timeout=timeout)

    def exec(self, container: str, script: str) -> str:
        r = self.container("exec", container, "sh", "-c", script)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def inspect(self, container: str, template: str) -> str:
        r = self.container("inspect", "-f", template, container)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def wait_health(self, container: str, want: str = "healthy", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.inspect(container, "{{.State.Health.Status}}")
            if status == want:
                return
            time.sleep(0.2)
        raise AssertionError(f"{container} is {status}, not {want}")


def _supervisor_pid(root: Path) -> int | None:
    try:
        pid = int((root / "supervisor.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


@pytest.fixture
def play(no_leaks: Path, busybox_tar: Path, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Play]:
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    r = run(["image", "import", str(busybox_tar), "busybox:latest"])
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "manifests"
    folder.mkdir()
    p = Play(no_leaks, folder, f"k{uuid.uuid4().hex[:8]}")
    yield p
    for path in p.files:
        p("play", "--down", "--force", "-t", "1", str(path))
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    if _supervisor_pid(no_leaks):
        from pycompose.engine import client

        try:
            client.request(no_leaks, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        deadline = time.monotonic() + 10
        while _supervisor_pid(no_leaks) and time.monotonic() < deadline:
            time.sleep(0.02)
    if (no_leaks / "networks").exists():
        from pycompose.netplug import Networks

        Networks(no_leaks).cleanup_all()
