"""What the service keeps between requests, as docker's daemon keeps it in memory: exec
instances (created, started once, inspected for their exit code), the attach streams
waiting for their container's next start, and the ends of a process's stdio a relay
carries. The :class:`~.context.Context` holds them; exec.py, attach.py and relay.py
work on them.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import trio

from ..engine.api import ExecRequest, aio


@dataclass
class Ends:
    """The relay's side of a process's stdio: what to read its output from (fd,
    stream number), where to write the client's bytes. The fds are the relay's."""

    outputs: list[tuple[int, int]] = field(default_factory=list)
    stdin: int | None = None  # a pipe's write end
    terminal: int | None = None  # a terminal's master, written from a thread
    shared_terminal: bool = False  # the master is the keeper's too: never make it O_NONBLOCK
    #: the client's bytes that came before the process started, and whether its
    #: input had ended already
    early: bytes = b""
    early_eof: bool = False

    def close(self) -> None:
        for fd in [f for f, _ in self.outputs] + [self.stdin, self.terminal]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.outputs, self.stdin, self.terminal = [], None, None


@dataclass
class Attacher:
    """An attach stream waiting for its container's next start."""

    cid: str
    stdin: bool
    stdout: bool
    stderr: bool
    keys: bytes
    started: trio.Event = field(default_factory=trio.Event)
    session: aio.Session | None = None
    ends: Ends | None = None
    follow: bool = False  # another attacher took the process: follow its log instead
    gone: bool = False


@dataclass
class ExecInstance:
    id: str
    container: str
    req: ExecRequest
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    keys: bytes
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    ended_at: float = 0.0
    terminal: int | None = field(default=None, repr=False)

    def doc(self) -> dict[str, Any]:
        cmd = list(self.req.cmd)
        return {"CanRemove": False, "ContainerID": self.container,
                "DetachKeys": "", "ExitCode": self.exit_code, "ID": self.id,
                "OpenStderr": self.attach_stderr, "OpenStdin": self.attach_stdin,
                "OpenStdout": self.attach_stdout, "Running": self.running,
                "Pid": self.pid,
                "ProcessConfig": {"arguments": cmd[1:], "entrypoint": cmd[0] if cmd else "",
                                  "privileged": self.req.privileged, "tty": self.req.tty,
                                  "user": self.req.user}}

    def finish(self, code: int | None) -> None:
        self.running = False
        self.exit_code = code
        self.ended_at = time.monotonic()
        self.terminal = None
