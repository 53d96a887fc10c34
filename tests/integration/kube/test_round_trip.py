"""The round trip: ``kube generate`` of an example stack, then ``kube play`` of the
result, answers as ``up`` of the same stack does (the page on the published port, the
greeter by its service name from the web container)."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pctest.cli import run

if TYPE_CHECKING:
    from conftest import Play

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "compose-files" / "greetings"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
                return data.decode().split("\r\n\r\n", 1)[-1]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def ask_greeter(container: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = run(["container", "exec", container, "sh", "-c",
                 "nc -w 2 greeter 7000 </dev/null"])
        if r.stdout.strip() or time.monotonic() > deadline:
            return r.stdout.strip()
        time.sleep(0.2)


def test_generate_then_play_answers_as_up_does(play: Play, tmp_path: Path) -> None:
    folder = tmp_path / "greetings"
    shutil.copytree(EXAMPLE, folder)
    port = free_port()
    env = {"WEB_PORT": str(port)}
    compose = ["-p", play.name]
    r = run([*compose, "up", "-d", "--wait"], cwd=folder, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    try:
        page_up = http_get(port, "/index.html")
        greeting_up = ask_greeter(f"{play.name}-web-1")
    finally:
        r = run([*compose, "down", "-t", "1"], cwd=folder, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
    assert page_up == "<h1>greetings</h1>\n"
    assert greeting_up.startswith("hello from ")

    r = run([*compose, "kube", "generate", "--expose", "loadbalancer",
             "--init-image", "busybox:latest"], cwd=folder, env=env)
    assert r.returncode == 0, r.stderr
    # nothing of this stack is lost on the way (its one host IP aside)
    assert r.stderr.strip().splitlines() == [
        "WARN: services.web.ports: host_ip 127.0.0.1 not translated: a Service answers "
        "on every node address"]
    manifests = play.write(r.stdout, "greetings.yaml")
    out = play.ok("play", str(manifests))
    assert out.stdout.split() == ["greeter-1", "web-1"]
    assert http_get(port, "/index.html") == page_up
    greeting_play = ask_greeter("web-1-web")
    assert greeting_play == "hello from greeter-1"  # a pod's host name is its name
    # the init container that waited for the healthy greeter ran and finished
    assert run(["container", "inspect", "-f", "{{.State.ExitCode}}",
                "web-1-wait-for-greeter"]).stdout.strip() == "0"
    play.ok("play", "--down", "-t", "1", str(manifests))
