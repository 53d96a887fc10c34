"""The supervisor's side of its socket's framing: one JSON object per SOCK_SEQPACKET
packet, file descriptors beside it (SCM_RIGHTS). The blocking client's side is
engine/client.py.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket as pysocket
from typing import Any

import trio

MAX_MSG = 1 << 20


class Conn:
    """One client's connection."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    async def send(self, msg: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(msg).encode()
        with contextlib.suppress(OSError, trio.ClosedResourceError):
            if fds:
                anc = [(pysocket.SOL_SOCKET, pysocket.SCM_RIGHTS,
                        array.array("i", fds).tobytes())]
                await self.sock.sendmsg([data], anc)
            else:
                await self.sock.send(data)

    async def recv(self) -> tuple[dict[str, Any] | None, list[int]]:
        """The next message, or None at EOF."""
        fds = array.array("i")
        try:
            data, anc, _f, _a = await self.sock.recvmsg(MAX_MSG, pysocket.CMSG_SPACE(16 * 4))
        except OSError:
            return None, []
        for level, typ, payload in anc:
            if level == pysocket.SOL_SOCKET and typ == pysocket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:
            for fd in fds:
                os.close(fd)
            return None, []
        return json.loads(data), list(fds)
