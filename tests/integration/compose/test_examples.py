"""The example stacks of ``examples/compose-files/`` brought up as a user would:
the healthcheck chain, the develop.watch one, and the web app with PostgreSQL, Redis
and a worker (slow: its image is made with debootstrap, cached after the first time)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from pctest.cli import PYCOMPOSE, run
from pctest.stack import Stack
from pctest.web import free_port, http_get

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "compose-files"
CACHE = os.environ.get("PYCOMPOSE_TEST_CACHE", "/var/cache/pycompose-tests")


def copy_example(name: str, stack: Stack) -> None:
    shutil.copytree(EXAMPLES / name, stack.folder, dirs_exist_ok=True)


def _iso(ts: str) -> float:
    from pycompose.engine.api import parse_iso

    return parse_iso(ts)


def test_healthchain_starts_each_service_once_its_dependency_is_healthy(
        stack: Stack) -> None:
    copy_example("healthchain", stack)
    r = stack("up", "-d", timeout=120)
    assert r.returncode == 0, r.stderr
    order = ["db", "migrate", "api", "worker", "front"]
    recs = {s: json.loads(run(["container", "inspect", f"{stack.name}-{s}-1"]).stdout)[0]
            for s in order}
    for dep, svc in itertools.pairwise(order):
        health = recs[dep]["State"]["Health"]
        first_ok = min(_iso(e["End"]) for e in health["Log"] if e["ExitCode"] == 0)
        assert _iso(recs[svc]["State"]["StartedAt"]) >= first_ok, (dep, svc)
    assert all(row["Health"] == "healthy" for row in stack.ps())


def test_watch_syncs_a_changed_file_into_the_container(stack: Stack) -> None:
    copy_example("watch", stack)
    port = free_port()
    env = dict(os.environ, WEB_PORT=str(port))
    proc = subprocess.Popen([PYCOMPOSE, "-p", stack.name, "watch"], cwd=stack.folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 90
        seen = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "Watch enabled" in line or not line:
                break
        assert any("Watch enabled" in s for s in seen), "".join(seen)
        assert "first version" in http_get(port, "/index.html")  # initial_sync
        (stack.folder / "site" / "index.html").write_text("<h1>the second version</h1>\n")
        (stack.folder / "site" / "scratch.tmp").write_text("ignored\n")
        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline:
            body = http_get(port, "/index.html")
            if "second version" in body:
                break
            time.sleep(0.2)
        assert "second version" in body
        r = stack.exec("web", "ls", "/var/www")
        assert "scratch.tmp" not in r.stdout  # ignore: patterns are honoured
        (stack.folder / "config" / "site.conf").write_text("mode=2\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = stack.exec("web", "cat", "/etc/site/site.conf")
            if r.stdout.strip() == "mode=2":
                break
            time.sleep(0.2)
        assert r.stdout.strip() == "mode=2"
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("debootstrap") is None and
                    not os.path.exists("/usr/sbin/debootstrap"),
                    reason="debootstrap is not installed (scripts/setup installs it)")
def test_webapp_with_postgres_redis_and_a_worker(stack: Stack) -> None:
    """The README's stack: built from its Dockerfile, up, answering through its
    published port with data that went through the database and the worker."""
    # the base image from Debian's mirror (cached), then up builds the app's image
    r = run(["image", "bootstrap", "debian:bookworm", "--suite", "bookworm", "-q"],
            env={"PYCOMPOSE_BOOTSTRAP_CACHE": CACHE}, timeout=1800)
    assert r.returncode == 0, r.stderr
    copy_example("webapp-db", stack)
    port = free_port()
    r = stack("up", "-d", "--wait", "--wait-timeout", "240", timeout=1800,
              env={"WEB_PORT": str(port)})
    assert r.returncode == 0, r.stderr
    first = json.loads(http_get(port, "/").split("\r\n\r\n", 1)[1])
    second = json.loads(http_get(port, "/").split("\r\n\r\n", 1)[1])
    assert second["visits"] == first["visits"] + 1  # through the database
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker consumed the queue
        now = json.loads(http_get(port, "/").split("\r\n\r\n", 1)[1])
        if now["jobs_done"] >= 2:
            break
        time.sleep(0.5)
    assert now["jobs_done"] >= 2 and now["worker"]
    logs = stack.ok("logs", "worker")
    assert "did visit" in logs
    # the data lives in the volume: a new db container finds it
    stack.ok("up", "-d", "--wait", "--force-recreate", "db", timeout=300)
    again = json.loads(http_get(port, "/", timeout=60).split("\r\n\r\n", 1)[1])
    assert again["visits"] > now["visits"]
    stack.ok("down", "-v")
