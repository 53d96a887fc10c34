"""The launcher's entry point: ``python -S -s -m pycompose.engine.runtime.warm CTRL_FD``.

Interpreter start-up and the launcher's imports cost ~15-20 ms, more than the rest of
a container's set-up; so the launcher is started *before* its job is known and waits
here, fully imported, on CTRL_FD (one end of a ``SOCK_SEQPACKET`` socketpair). A
long-lived caller (the supervisor) keeps one such spare ready, and a container start
skips the interpreter entirely; other callers start one and hand it the job at once.

One packet arrives, then this process becomes child.py's launcher::

    {"mode": "create"|"exec", "stdio": [k0, k1, k2]}  + fds [sock, job, *stdio]

``sock`` and ``job`` are what child.main takes (protocol.py draws that conversation);
each ``k`` says what the launcher's fd 0/1/2 becomes: "keep" (what it was started
with: /dev/null for 0 and 1, the caller's stderr for 2), "null", or "fd" (the next
fd in the packet). EOF instead of a packet (the caller dropped its spare, or died)
ends this process having done nothing.

Like child.py, this imports only cheap built-in modules.
"""

from __future__ import annotations

import _socket
import os
import sys

from . import child, protocol

#: sock, job and three stdio fds, with room to spare.
_MAX_FDS = 8


def receive(ctrl: _socket.socket) -> tuple[dict[str, object] | None, list[int]]:
    """The job packet and its fds; (None, []) at EOF."""
    return protocol.recv(ctrl, _MAX_FDS)


def main(argv: list[str]) -> int:
    ctrl = _socket.socket(fileno=int(argv[0]))
    try:
        msg, fds = receive(ctrl)
    except (OSError, ValueError, EOFError):
        return 0
    finally:
        ctrl.close()
    if msg is None:
        return 0
    sock_fd, job_fd, *rest = fds
    kinds = msg["stdio"]
    assert isinstance(kinds, list)
    for target, kind in enumerate(kinds):
        if kind == "fd":
            fd = rest.pop(0)
        elif kind == "null":
            fd = os.open(os.devnull, os.O_RDWR)
        else:
            continue
        os.dup2(fd, target)  # inheritable: the container's process gets it
        os.close(fd)
    return child.main([str(msg["mode"]), str(sock_fd), str(job_fd)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
