"""Loopback helpers for tests of published ports: a free port, a plain HTTP GET."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str = "/", timeout: float = 10) -> str:
    """The whole response (headers and body) of ``GET path`` on 127.0.0.1:port, retried
    while the port does not answer yet (for up to ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
                if not data and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                return data.decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
