"""The implicit pull of ``container run``/``create`` (``--pull always|missing|never``),
and mirrors: with a mirror configured, the docker CLI's own examples work verbatim
for Docker Hub names (only the host port is a free one, as every test's)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from pctest.cli import run
from pctest.registry import RegistryServer, free_port, ok

from pycompose.engine.images import ImageStore


def _mirror(registry: RegistryServer) -> None:
    Path(os.environ["PYCOMPOSE_CONFIG"]).write_text(json.dumps(
        {"registry-mirrors": [f"http://{registry.host}"]}))


def test_run_pulls_a_missing_image_from_the_mirror(busybox: Path, containers: Path,
                                                   registry: RegistryServer) -> None:
    # the mirror serves Docker Hub's library/ubuntu:20.04 (here: busybox under that name)
    ok(["image", "tag", "busybox", f"{registry.host}/library/ubuntu:20.04"])
    ok(["image", "push", "-q", f"{registry.host}/library/ubuntu:20.04"])
    ok(["image", "rm", f"{registry.host}/library/ubuntu:20.04"])
    _mirror(registry)

    r = run(["container", "run", "ubuntu:20.04", "/bin/echo", "Hola mundo"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hola mundo\n"
    assert r.stderr.splitlines()[0] == "Unable to find image 'ubuntu:20.04' locally"
    assert "Status: Downloaded newer image for ubuntu:20.04" in r.stderr
    assert ImageStore(containers).resolve("docker.io/library/ubuntu:20.04")
    assert registry.requests("GET", "/v2/library/ubuntu/manifests/20.04")

    # present now: no pull, no registry request
    mark = len(registry.requests("GET"))
    r = run(["container", "run", "--rm", "ubuntu:20.04", "/bin/echo", "again"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "again\n", "")
    assert len(registry.requests("GET")) == mark

    # --pull always asks the registry each time; --pull never does not pull
    r = run(["container", "run", "--rm", "--pull", "always", "ubuntu:20.04", "true"])
    assert r.returncode == 0, r.stderr
    assert "Status: Image is up to date for ubuntu:20.04" in r.stderr
    assert len(registry.requests("GET", "/manifests/")) > 1
    r = run(["container", "create", "--pull", "never", "ubuntu:22.04", "true"])
    assert r.returncode == 125 and "ubuntu:22.04" in r.stderr
    r = run(["container", "create", "ubuntu:22.04", "true"])  # the mirror lacks it
    assert r.returncode == 125
    assert "Unable to find image 'ubuntu:22.04' locally" in r.stderr
    assert "manifest library/ubuntu:22.04: not found" in r.stderr


def test_the_docker_httpd_example_verbatim(busybox: Path, containers: Path,
                                           registry: RegistryServer) -> None:
    # an "httpd" image: busybox's httpd serving /usr/local/apache2/htdocs
    r = run(["container", "run", "--name", "mk", "busybox", "sh", "-c",
             "mkdir -p /usr/local/apache2/htdocs && "
             "echo '<h1>It works!</h1>' > /usr/local/apache2/htdocs/index.html"])
    assert r.returncode == 0, r.stderr
    ok(["container", "commit", "-c",
        'CMD ["httpd", "-f", "-p", "80", "-h", "/usr/local/apache2/htdocs"]', "mk",
        f"{registry.host}/library/httpd:latest"])
    ok(["image", "push", "-q", f"{registry.host}/library/httpd:latest"])
    ok(["container", "rm", "mk"])
    ok(["image", "rm", f"{registry.host}/library/httpd:latest"])
    _mirror(registry)

    port = free_port()
    r = run(["container", "run", "-d", "-p", f"{port}:80", "-v",
             "apache-data:/usr/local/apache2/htdocs", "httpd"])
    assert r.returncode == 0, r.stderr
    assert "Unable to find image 'httpd:latest' locally" in r.stderr
    body = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                body = resp.read().decode()
            break
        except OSError:
            time.sleep(0.1)
    assert body == "<h1>It works!</h1>\n"
    ids = run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()
    run(["container", "rm", "-f", *ids])
    ok(["volume", "rm", "apache-data"])
