"""Fixtures for netplug's kernel tests: a Networks on the test's own state root, and
"containers" that are plain named network namespaces (the runtime's containers plug in
the same way: netplug only needs a path to a network namespace)."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pycompose.netplug import Networks
from pycompose.util.paths import root_id

_seq = itertools.count()


@pytest.fixture
def nets(no_leaks: Path) -> Iterator[Networks]:
    n = Networks(no_leaks)
    yield n
    n.cleanup_all()


@pytest.fixture
def make_ctr(no_leaks: Path) -> Iterator[Callable[[], str]]:
    """Make a 'container' network namespace; returns its name (/run/netns/NAME)."""
    made: list[str] = []
    rid = root_id(no_leaks)

    def make() -> str:
        name = f"pctest-{rid}-{next(_seq)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False)


def in_ns(ns: str, *cmd: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=timeout)


def can_connect(ns: str | None, ip: str, port: int, timeout: float = 2) -> bool:
    """A TCP connect from inside ``ns`` (None: the host)."""
    code = (f"import socket; s=socket.create_connection(({ip!r},{port}),timeout={timeout});"
            "print(s.recv(100).decode())")
    cmd = ["python3", "-c", code]
    r = subprocess.run(["ip", "netns", "exec", ns, *cmd] if ns else cmd,
                       capture_output=True, text=True, timeout=timeout + 5)
    return r.returncode == 0 and "hello" in r.stdout


SERVER = """
import socket, sys, threading
port = int(sys.argv[1])
tag = sys.argv[2].encode() if len(sys.argv) > 2 else b""
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", port)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
def udp():
    while True:
        data, addr = u.recvfrom(2048); u.sendto(b"hello " + data + tag, addr)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, _ = t.accept(); c.sendall(b"hello tcp\\n"); c.close()
"""


@pytest.fixture
def serve(no_leaks: Path) -> Iterator[Callable[..., None]]:
    """Start a TCP+UDP 'hello' server on PORT inside a namespace (None: the host); UDP
    replies end with TAG."""
    procs: list[subprocess.Popen[str]] = []

    def start(ns: str | None, port: int, tag: str = "") -> None:
        cmd = ["python3", "-c", SERVER, str(port), tag]
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd] if ns else cmd,
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"

    yield start
    for p in procs:
        p.kill()
        p.wait()
