"""File descriptors beside a message on a unix socket (SCM_RIGHTS), for every JSON
channel of the house: the CLI to the supervisor (engine/client.py and its async twin),
the supervisor's side (supervisor/wire.py), the supervisor to the log keeper, the CLI to
the compose worker. Standard library only (the log keeper imports it, with ``-S``).
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py's enums cost the thin client ~2 ms
import os
import struct  # not array: its start-up imports collections.abc (~1.5 ms)

from pycompose.util import wirejson

TYPE_CHECKING = False  # not typing's: the thin client imports this
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    Ancillary = list[tuple[int, int, bytes]]


_INT = struct.calcsize("i")


def rights(fds: Sequence[int]) -> Ancillary:
    """The ancillary data that passes ``fds`` with a message (none for no fds)."""
    if not fds:
        return []
    return [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]


def received(anc: Iterable[tuple[int, int, bytes]]) -> list[int]:
    """The fds that came in ``recvmsg``'s ancillary data."""
    fds: list[int] = []
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(payload) // _INT
            fds += struct.unpack(f"{n}i", payload[:n * _INT])
    return fds


def space(max_fds: int) -> int:
    """The ancillary buffer ``recvmsg`` needs for up to ``max_fds`` fds."""
    return socket.CMSG_SPACE(max_fds * _INT)


def packet(data: bytes, anc: Iterable[tuple[int, int, bytes]]
           ) -> tuple[dict[str, Any] | None, list[int]]:
    """A JSON object and its fds; (None, []) at EOF (an empty packet) or for anything
    but an object, its fds closed."""
    fds = received(anc)
    msg = wirejson.loads(data) if data else None
    if not isinstance(msg, dict):
        for fd in fds:
            os.close(fd)
        return None, []
    return msg, fds
