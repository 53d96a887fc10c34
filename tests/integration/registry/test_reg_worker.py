"""``image pull`` and ``image push`` run in the state root's warm worker
(pycompose/cli/worker.py), as compose commands do: the first one of a root runs in its
own process and starts the worker; the next ones are served by it, with the caller's
output, exit status and messages; light commands (``image ls``) never start one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.cli import run
from pctest.registry import RegistryServer, ok
from pctest.stack import stop_worker, worker_pid


@pytest.fixture
def worker_on(no_leaks: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PYCOMPOSE_WORKER", "1")
    monkeypatch.setenv("PYCOMPOSE_WORKER_IDLE", "30")
    yield no_leaks
    stop_worker(no_leaks)


def test_image_pull_and_push_are_served_by_the_warm_worker(
        worker_on: Path, busybox_tar: Path, registry: RegistryServer, tmp_path: Path) -> None:
    root = worker_on
    root.mkdir(mode=0o700, exist_ok=True)
    name = f"{registry.host}/team/busybox:1.0"
    ok(["image", "import", str(busybox_tar), name, "-c", 'CMD ["sh"]'])
    ok(["image", "ls"])
    assert worker_pid(root) is None, "a light command started a worker"

    ok(["image", "push", name])  # the first heavy command: runs here, starts the worker
    sock = root / "compose.sock"
    deadline = time.monotonic() + 60
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = worker_pid(root)
    assert pid is not None and sock.exists()
    ok(["image", "rm", name])

    # This process cannot import httpx: the pull works only because the worker, which
    # imported it at start, runs it.
    broken = tmp_path / "no-httpx"
    broken.mkdir()
    (broken / "httpx.py").write_text("raise ImportError('httpx is not here')\n")
    no_httpx = {"PYTHONPATH": str(broken)}
    out = ok(["image", "pull", name], env=no_httpx)
    assert out.splitlines()[-2:] == [f"Status: Downloaded newer image for {name}", name]
    out = ok(["image", "push", name], env=no_httpx)
    assert "1 already in the registry" in out.splitlines()[-1]
    # its errors and exit codes are the command's own
    r = run(["image", "pull", f"{registry.host}/team/busybox:nope"], env=no_httpx)
    assert r.returncode == 1 and "nope" in r.stderr and "Traceback" not in r.stderr
    assert worker_pid(root) == pid  # the same worker served them all

    # without the worker the same process fails to import httpx (the test can fail)
    r = run(["image", "pull", name], env={**no_httpx, "PYCOMPOSE_WORKER": "0"})
    assert r.returncode != 0
