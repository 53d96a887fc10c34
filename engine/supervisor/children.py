"""The supervisor's children as processes: waiting for one to exit, and reaping the
zombies that are no one's.

The supervisor is the child subreaper of what it starts, so a launcher that died early,
or any process re-parented to it, becomes its zombie. Left unreaped, one can even keep
a container's PID 1 from exiting: the kernel waits for every process of the pid
namespace to be reaped. The holder knows which children are its containers' and
execs'; the others are reaped here.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import trio

from . import rt


def reap_zombies(known: set[int]) -> None:
    """Reap every zombie child of this process whose pid is not in ``known``."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return
    for tid in tasks:
        try:
            children = Path(f"/proc/{me}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for c in children:
            pid = int(c)
            if pid in known:
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_bytes()
            except OSError:
                continue
            if stat[stat.rindex(b")") + 2:][:1] == b"Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)


#: how long SIGCHLDs gather into one reap: each reap reads every thread's children
#: and each child's stat, and a down of 30 containers sent 30 signals in 0.1 s
GATHER = 0.02


async def on_sigchld(reap: Callable[[], None]) -> None:
    """Call ``reap`` after a SIGCHLD (those of the next ``GATHER`` seconds with it), and
    every few seconds in case one was missed; until cancelled."""
    with trio.open_signal_receiver(signal.SIGCHLD) as signals:
        while True:
            with trio.move_on_after(3):
                async for _ in signals:
                    reap()
                    await trio.sleep(GATHER)  # the signals meanwhile: one more reap
            reap()


async def exited(pid: int) -> None:
    """Until process ``pid`` has exited (its pidfd turns readable); at once if it is
    already gone."""
    pfd = rt.pidfd(pid)
    if pfd is None:
        return
    try:
        await trio.lowlevel.wait_readable(pfd)
    finally:
        os.close(pfd)
