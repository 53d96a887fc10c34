"""The supervisor's side of its socket's framing: one JSON object per SOCK_SEQPACKET
packet, file descriptors beside it (SCM_RIGHTS). The blocking client's side is
engine/client.py.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import trio

from pycompose.util import fdpass

MAX_MSG = 1 << 20


class Conn:
    """One client's connection."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    async def send(self, msg: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(msg).encode()
        with contextlib.suppress(OSError, trio.ClosedResourceError):
            if fds:
                await self.sock.sendmsg([data], fdpass.rights(fds))
            else:
                await self.sock.send(data)

    async def recv(self) -> tuple[dict[str, Any] | None, list[int]]:
        """The next message, or None at EOF."""
        try:
            data, anc, _f, _a = await self.sock.recvmsg(MAX_MSG, fdpass.space(16))
        except OSError:
            return None, []
        return fdpass.packet(data, anc)
