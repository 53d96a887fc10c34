"""A compose project under test: its folder, name, and the CLI run in it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pctest.cli import run


class Stack:
    def __init__(self, root: Path, folder: Path, name: str) -> None:
        self.root = root
        self.folder = folder
        self.name = name

    def write(self, text: str, file: str = "compose.yaml") -> None:
        (self.folder / file).write_text(text)

    def __call__(self, *args: str, timeout: float = 90,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(["-p", self.name, *args], cwd=self.folder, timeout=timeout, env=env)

    def ok(self, *args: str, timeout: float = 90) -> str:
        r = self(*args, timeout=timeout)
        assert r.returncode == 0, f"pycompose {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def inspect(self, container: str, template: str) -> str:
        r = run(["container", "inspect", "-f", template, container])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def ps(self, *flags: str) -> list[dict[str, Any]]:
        """``ps --format json``: docker compose's NDJSON, one object per container."""
        out = self.ok("ps", *flags, "--format", "json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def exec(self, service: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return self("exec", "-T", service, *cmd)


def worker_pid(root: Path) -> int | None:
    """The pid of the compose worker serving ``root`` (pycompose/cli/worker.py), if one
    is alive."""
    import os

    try:
        pid = int((root / "compose-worker.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_worker(root: Path) -> None:
    """End the compose worker of ``root``, which would otherwise linger for a minute
    after the test; return once it is gone."""
    import os
    import signal
    import time

    pid = worker_pid(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while worker_pid(root) == pid and time.monotonic() < deadline:
        time.sleep(0.02)


def stack_fixture(root: Path, busybox_tar: Path, tmp_path: Path,
                  monkeypatch: Any) -> Iterator[Stack]:
    """A project folder with busybox imported into ``root`` (the test's own state root);
    teardown takes the project down, stops the supervisor and removes any network left,
    so that ``no_leaks`` can check for leftovers."""
    import os
    import time
    import uuid

    def supervisor_pid() -> int | None:
        try:
            pid = int((root / "supervisor.lock").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    monkeypatch.setenv("PYCOMPOSE_WORKER", "1")  # compose commands through the warm worker
    r = run(["image", "import", str(busybox_tar), "busybox:latest"])
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "project"
    folder.mkdir()
    s = Stack(root, folder, f"t{uuid.uuid4().hex[:8]}")
    yield s
    if (folder / "compose.yaml").exists():
        s("down", "-v", "-t", "1", "--remove-orphans")
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    stop_worker(root)
    if supervisor_pid():
        from pycompose.engine import client

        try:
            client.request(root, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        deadline = time.monotonic() + 10
        while supervisor_pid() and time.monotonic() < deadline:
            time.sleep(0.02)
    if (root / "networks").exists():
        from pycompose.netplug import Networks

        Networks(root).cleanup_all()
