"""Helpers of netplug's kernel tests (a module of its own: every test folder has a
``conftest`` and ``from conftest import`` could find another folder's)."""

from __future__ import annotations

import subprocess
import sys


def in_ns(ns: str, *cmd: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=timeout)


def can_connect(ns: str | None, ip: str, port: int, timeout: float = 2) -> bool:
    """A TCP connect from inside ``ns`` (None: the host)."""
    code = (f"import socket; s=socket.create_connection(({ip!r},{port}),timeout={timeout});"
            "print(s.recv(100).decode())")
    cmd = [sys.executable, "-I", "-c", code]
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
