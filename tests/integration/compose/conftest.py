"""A project folder with the busybox image imported into the test's own state root;
teardown takes the project down, stops the supervisor and proves nothing is left."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.cli import run
from pctest.stack import Stack


def _supervisor_pid(root: Path) -> int | None:
    try:
        pid = int((root / "supervisor.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_worker(root: Path) -> None:
    """End the compose worker of ``root`` (it would linger for a minute)."""
    import signal

    try:
        pid = int((root / "compose-worker.lock").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


@pytest.fixture
def stack(no_leaks: Path, busybox_tar: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    monkeypatch.setenv("PYCOMPOSE_WORKER", "1")  # compose commands through the warm worker
    r = run(["image", "import", str(busybox_tar), "busybox:latest"])
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "project"
    folder.mkdir()
    s = Stack(no_leaks, folder, f"t{uuid.uuid4().hex[:8]}")
    yield s
    if (folder / "compose.yaml").exists():
        s("down", "-v", "-t", "1")
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    stop_worker(no_leaks)
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
