"""The start-up protocol between the caller and the processes that make a container.

One ``SOCK_SEQPACKET`` socketpair, one marshalled dict per packet (file descriptors
ride along with SCM_RIGHTS)::

    caller                         launcher (python -S)          container PID 1
      | spawn, spec on a pipe ------>|
      |                              | join cgroups, unshare,
      |                              | fork ---------------------->| mounts, pivot_root,
      |<-------------- {"t":"pid"} --| exit                        | masks, user, cwd, PATH,
      |                                                            | seccomp filter built
      |<----------------------------------- {"t":"ready"} [+ pty] -|
      |   (caller may attach networks now)                         |
      |-- {"t":"start"} ------------------------------------------>| drop caps, seccomp,
      |<---------------------------------------- EOF on execve ----| execve
      |                                                            |
      |<------------------ {"t":"error","step":..,"errno":..} -----| (any step) exit

The socket is close-on-exec in PID 1, so a successful ``execve`` shows as EOF; an
error packet instead names the failing step and carries docker's exit code. If the
caller goes away before "start", PID 1 reads EOF and exits without running anything.

This module is imported by the launcher, so it imports only cheap built-in modules.
"""

from __future__ import annotations

import _socket
import errno as _errno
import marshal
import os
import struct

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ms
if TYPE_CHECKING:
    from typing import Any

MAX_PACKET = 1 << 16

#: docker's exit codes: the runtime itself failed / the command cannot be executed /
#: the command was not found.
EXIT_SETUP = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


def exit_code_for(step: str, err: int) -> int:
    """The exit status docker gives a failure in ``step`` with errno ``err``: only the
    final exec distinguishes 127 (not found) and 126 (found, not runnable)."""
    if step != "exec":
        return EXIT_SETUP
    if err == _errno.ENOENT:
        return EXIT_NOT_FOUND
    if err in (_errno.EACCES, _errno.ENOEXEC, _errno.EISDIR, _errno.EPERM,
               _errno.ETXTBSY, _errno.ENOTDIR, _errno.ELOOP):
        return EXIT_CANNOT_EXECUTE
    return EXIT_SETUP


def send(sock: _socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> None:
    """One packet: ``msg`` marshalled (both ends run the same interpreter), fds as
    SCM_RIGHTS."""
    data = marshal.dumps(msg)
    anc = []
    if fds:
        anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]
    sock.sendmsg([data], anc)


def recv(sock: _socket.socket, max_fds: int = 4) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the fds it carried (up to ``max_fds``); (None, []) at EOF."""
    data, anc, _flags, _addr = sock.recvmsg(MAX_PACKET, _socket.CMSG_SPACE(4 * max_fds))
    fds: list[int] = []
    for level, kind, payload in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(payload) // 4
            fds.extend(struct.unpack(f"{n}i", payload[: 4 * n]))
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return marshal.loads(data), fds


def error_message(step: str, err: int, detail: str = "") -> dict[str, Any]:
    """The packet a failing step sends: ``detail`` is the human part."""
    return {"t": "error", "step": step, "errno": err, "detail": detail,
            "code": exit_code_for(step, err)}


def describe(msg: dict[str, Any]) -> str:
    """One line for the user: the step, then what went wrong."""
    detail = msg.get("detail") or ""
    if not detail and msg.get("errno"):
        detail = os.strerror(msg["errno"])
    return f"{msg.get('step', 'container set-up')}: {detail}" if detail else str(msg.get("step"))


class StepError(Exception):
    """A set-up step failed: raised in the launcher or PID 1, sent as an error packet."""

    def __init__(self, step: str, err: int, detail: str = "") -> None:
        super().__init__(f"{step}: {detail or os.strerror(err)}")
        self.step = step
        self.errno = err
        self.detail = detail or os.strerror(err)

    def message(self) -> dict[str, Any]:
        return error_message(self.step, self.errno, self.detail)
