"""Attached sessions through the face: ``run`` without ``-d``, ``start -a``, ``exec``.

The thin client relays the session itself (``engine/client.py``): a terminal's pty
master is handed over by the supervisor and relayed directly (raw mode, SIGWINCH ->
resize, ctrl-p ctrl-q detaches); a non-terminal session gives the supervisor the
caller's own stdin/stdout/stderr, so no byte goes through it. Standard library only.
"""

from __future__ import annotations

from pycompose.util.plain import to_plain

from .. import client
from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from .requests import CreateRequest, ExecRequest

__all__ = ["exec_", "run", "start", "terminal_size"]

terminal_size = client.terminal_size


def run(root: Path, req: CreateRequest, *, detach: bool, interactive: bool,
        sig_proxy: bool = True) -> tuple[str, int]:
    """Create and start a container; attached unless ``detach``: (id, exit code)."""
    import os

    if not detach and req.tty and interactive and not os.isatty(0):
        raise InvalidArgument("the input device is not a TTY")
    msg = {"op": "run", "request": to_plain(req), "attach": not detach, "tty": req.tty,
           "interactive": interactive, "console_size": client.terminal_size()}
    with client.connect(root) as conn:
        conn.send(msg, [0, 1, 2] if not detach and not req.tty else [])
        reply, _ = conn.recv()
        cid = str(reply["id"])
        if detach:
            return cid, 0
        return cid, client.attach_session(root, conn, cid, tty=req.tty, stdin=interactive,
                                          sig_proxy=sig_proxy)


def start(root: Path, ref: str, *, tty: bool, interactive: bool) -> int:
    """``start -a``: start a container and follow it; its exit code."""
    with client.connect(root) as conn:
        conn.send({"op": "start", "id": ref, "attach": True, "tty": tty,
                   "interactive": interactive, "console_size": client.terminal_size()},
                  [] if tty else [0, 1, 2])
        reply, _ = conn.recv()
        return client.attach_session(root, conn, reply["id"], tty=tty, stdin=interactive)


def exec_(root: Path, ref: str, req: ExecRequest) -> int:
    """Run a process in a running container; attached unless ``req.detach``: its exit
    code (0 when detached)."""
    import os

    if req.tty and req.interactive and not os.isatty(0):
        raise InvalidArgument("the input device is not a TTY")
    with client.connect(root) as conn:
        conn.send({"op": "exec", "id": ref, "request": to_plain(req)},
                  [] if req.tty or req.detach else [0, 1, 2])
        reply, _ = conn.recv()
        if req.detach:
            return 0
        return client.attach_session(root, conn, reply["id"], tty=req.tty,
                                     stdin=req.interactive)
