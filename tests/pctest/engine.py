"""The container engine as the tests drive it: a state root with the busybox image
imported, a CLI runner, and a teardown that removes every container and stops the
supervisor before ``no_leaks`` looks for leftovers. Shared by the folders that run
containers (``containers/``, ``security/``): their conftest imports the fixture."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pctest.cli import run


def lock_pid(root: Path, lock: str = "supervisor.lock") -> int | None:
    """The pid a process of ``root`` wrote in its lock file (the supervisor's, the log
    keeper's ``logs.lock``), if that process is alive."""
    try:
        pid = int((root / lock).read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_supervisors(root: Path, timeout: float = 20) -> None:
    """Ask every supervisor of ``root`` to shut down (one a racing client started late
    too) until neither it nor its log keeper is left."""
    from pycompose.engine import client

    deadline = time.monotonic() + timeout
    while (lock_pid(root) or lock_pid(root, "logs.lock")) and time.monotonic() < deadline:
        if lock_pid(root):
            with contextlib.suppress(Exception):
                client.request(root, {"op": "shutdown"}, start=False)
        time.sleep(0.05)


class Engine:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, timeout: float = 60,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(["container", *args], timeout=timeout, input=input)

    def ok(self, *args: str, timeout: float = 60) -> str:
        r = self(*args, timeout=timeout)
        assert r.returncode == 0, f"pycompose container {' '.join(args)}: {r.stderr}"
        return r.stdout

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(list(args))

    def supervisor_pid(self) -> int | None:
        return lock_pid(self.root)

    def wait_for(self, ref: str, status: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self("inspect", "-f", "{{.State.Status}}", ref)
            if r.returncode == 0 and r.stdout.strip() == status:
                return
            time.sleep(0.05)
        raise AssertionError(f"{ref} did not reach {status}")


@pytest.fixture
def engine(no_leaks: Path, busybox_tar: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PYCOMPOSE_SUPERVISOR_IDLE", "20")
    r = run(["image", "import", str(busybox_tar), "busybox:latest"])
    assert r.returncode == 0, r.stderr
    e = Engine(no_leaks)
    yield e
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    if ids:
        run(["container", "rm", "-f", "-v", *ids])
    pid = e.supervisor_pid()
    if pid:
        from pycompose.engine import client

        try:
            client.request(no_leaks, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        deadline = time.monotonic() + 10
        while e.supervisor_pid() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert e.supervisor_pid() is None, "the supervisor did not exit"
    if (no_leaks / "networks").exists():  # the default bridge outlives containers
        from pycompose.netplug import Networks

        Networks(no_leaks).cleanup_all()
