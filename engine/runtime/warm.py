"""The launcher's entry point: ``python -S -s -m pycompose.engine.runtime.warm CTRL_FD
[forks]``.

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

With ``forks`` (the supervisor's one warm launcher) this process never becomes a
launcher itself: it forks one per packet, answers ``{"pid": N}`` + a pidfd of it on
CTRL_FD, and waits for the next packet. A fork of this small, imported, one-threaded
process costs well under a millisecond; a fresh interpreter and its imports cost
~22 ms of CPU, which 30 containers started at once paid 30 times on two cores. The
forked launcher is this process's child, so the kernel reaps it (SIGCHLD ignored
here); PID 1, the launcher's child, goes to the supervisor when the launcher exits
(it is the nearest child subreaper), as it does from a launcher started afresh.

Like child.py, this imports only cheap built-in modules.
"""

from __future__ import annotations

import _signal
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
    if argv[1:] == ["forks"]:
        return serve(ctrl)
    try:
        msg, fds = receive(ctrl)
    except (OSError, ValueError, EOFError):
        return 0
    finally:
        ctrl.close()
    if msg is None:
        return 0
    return become(msg, fds)


def serve(ctrl: _socket.socket) -> int:
    """The fork server: a launcher forked per packet, until EOF."""
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)  # launchers reaped by the kernel
    while True:
        try:
            msg, fds = receive(ctrl)
        except (OSError, ValueError, EOFError):
            return 0
        if msg is None:
            return 0
        try:
            pid = os.fork()
        except OSError as e:  # the caller's recv sees why, and starts a launcher itself
            for fd in fds:
                os.close(fd)
            try:
                protocol.send(ctrl, {"error": e.strerror or str(e)})
            except OSError:
                return 0
            continue
        if pid == 0:
            code = 125
            try:
                ctrl.close()
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                code = become(msg, fds)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        try:
            pidfd = [os.pidfd_open(pid)]
        except OSError:  # gone already (killed): the caller sees it has no pidfd
            pidfd = []
        try:
            protocol.send(ctrl, {"pid": pid}, pidfd)
        except OSError:  # the caller went away: so does this server
            return 0
        finally:
            for fd in pidfd:
                os.close(fd)


def become(msg: dict[str, object], fds: list[int]) -> int:
    """This process becomes child.py's launcher of the job ``msg`` announces."""
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
