"""Relay between this process's terminal (stdin/stdout) and a container's pty master
until the process behind ``pidfd`` exits: ``run``/``exec`` of a terminal process in
the foreground, as runc does without --console-socket."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import termios
import tty


def relay(master: int, pidfd: int) -> None:
    """Copy stdin to ``master`` and ``master`` to stdout; the caller's terminal is
    raw meanwhile and restored after."""
    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    try:
        stdin_open = True
        while True:
            fds = [master, pidfd] + ([0] if stdin_open else [])
            ready, _, _ = select.select(fds, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    stdin_open = False
            if pidfd in ready and master not in ready:
                _drain(master)
                return
    finally:
        if saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _drain(master: int) -> None:
    os.set_blocking(master, False)
    with contextlib.suppress(OSError):
        while data := os.read(master, 65536):
            os.write(1, data)
