"""The log keeper and the supervisor's link to it, without containers: pipes handed
over are logged and relayed; a keeper that dies is replaced and given the same pipes;
a new link (a supervisor that crashed and came back) takes up the keeper's sessions."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import trio

from pycompose.engine.logs import config
from pycompose.engine.supervisor.logs import LogService


def lines(path: Path) -> list[str]:
    return [json.loads(x)["log"] for x in path.read_text().splitlines()]


async def wait_for(cond: object, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not (callable(cond) and cond()):
            await trio.sleep(0.02)


async def test_a_pipe_is_logged_relayed_and_drained(no_leaks: Path) -> None:
    log = no_leaks / "c" / "c-json.log"
    async with trio.open_nursery() as n:
        svc = LogService(no_leaks)
        await svc.start(n)
        r, w = os.pipe()
        fr, fw = os.pipe()  # an attached client's stdout
        h = svc.add("c" * 64, log, config.parse(None), [(r, "stdout")], [fw])
        os.close(fw)
        os.write(w, b"one\ntwo\n")
        await wait_for(lambda: log.exists() and len(lines(log)) == 2)
        assert os.read(fr, 100) == b"one\ntwo\n"
        svc.unforward(h)
        os.write(w, b"three")
        os.close(w)
        await svc.drained(h, 5)
        assert h.done.is_set()
        assert lines(log) == ["one\n", "two\n", "three"]
        rest = b""
        while chunk := os.read(fr, 100):  # EOF: the keeper let go of the client's end
            rest += chunk
        assert rest in (b"", b"three")  # "three" may have come before the unforward
        os.close(fr)
        await svc.close()
        n.cancel_scope.cancel()


async def test_a_killed_keeper_is_replaced_and_given_the_same_pipe(no_leaks: Path) -> None:
    log = no_leaks / "c" / "c-json.log"
    async with trio.open_nursery() as n:
        svc = LogService(no_leaks)
        await svc.start(n)
        r, w = os.pipe()
        h = svc.add("c" * 64, log, config.parse(None), [(r, "stdout")])
        os.write(w, b"before\n")
        await wait_for(lambda: log.exists() and lines(log) == ["before\n"])
        old = int((no_leaks / "logs.lock").read_text())
        os.kill(old, signal.SIGKILL)
        os.write(w, b"during\n")  # no keeper now: it waits in the pipe, no EPIPE
        await wait_for(lambda: svc.keeper_pid not in (None, old))
        os.write(w, b"after\n")
        os.close(w)
        await svc.drained(h, 5)
        assert lines(log) == ["before\n", "during\n", "after\n"]
        await svc.close()
        n.cancel_scope.cancel()
    with trio.fail_after(5):  # the first keeper was our child: nothing of it is left
        while True:
            try:
                os.waitpid(old, os.WNOHANG)
            except ChildProcessError:
                break
            await trio.sleep(0.02)


async def test_a_new_link_takes_up_what_the_keeper_holds(no_leaks: Path) -> None:
    log = no_leaks / "c" / "c-json.log"
    cid = "c" * 64
    r, w = os.pipe()
    async with trio.open_nursery() as n:
        first = LogService(no_leaks)
        await first.start(n)
        first.add(cid, log, config.parse(None), [(r, "stdout")])
        os.write(w, b"one\n")
        await wait_for(lambda: log.exists() and lines(log) == ["one\n"])
        n.cancel_scope.cancel()  # the supervisor "dies": its link goes, its copies too
    first._disconnect()
    for h in list(first.held.values()):
        h.close()
    os.write(w, b"two\n")  # the keeper alone holds the pipe now
    await wait_for(lambda: lines(log) == ["one\n", "two\n"])
    async with trio.open_nursery() as n:
        second = LogService(no_leaks)
        await second.start(n)
        h = second.adopted(cid)
        assert h is not None and h.streams == ["stdout"] and len(h.sources) == 1
        os.write(w, b"three\n")
        os.close(w)
        await second.drained(h, 5)
        assert lines(log) == ["one\n", "two\n", "three\n"]
        await second.close()
        n.cancel_scope.cancel()
