"""A healthcheck probe that cannot even start is a failed probe, never a supervisor
crash (a launcher that dies as its container exits gave ConnectionResetError, which
took every container's supervisor down under load)."""

from __future__ import annotations

from typing import Any

import trio

from pycompose.engine.errors import Conflict
from pycompose.engine.supervisor import health


async def test_an_exec_that_breaks_is_a_failed_probe() -> None:
    async def broken(req: Any, stdio: Any) -> Any:
        raise ConnectionResetError(104, "Connection reset by peer")

    code, output = await health._probe(broken, ["true"], 1.0)
    assert code == 1 and "Connection reset by peer" in output


async def test_a_container_that_stopped_is_a_failed_probe() -> None:
    async def gone(req: Any, stdio: Any) -> Any:
        raise Conflict("container 0123 is not running")

    assert await health._probe(gone, ["true"], 1.0) == (1, "container 0123 is not running")


async def test_checks_go_on_after_a_broken_probe(autojump_clock: Any) -> None:
    calls: list[int] = []
    changes: list[Any] = []

    async def broken(req: Any, stdio: Any) -> Any:
        calls.append(1)
        raise OSError(9, "Bad file descriptor")

    done = trio.Event()
    async with trio.open_nursery() as n:
        n.start_soon(health.run_checks, done, broken, changes.append, ["true"],
                     {"Interval": 10**9, "Retries": 2})
        await trio.sleep(3.5)
        done.set()
    # the first probe at once, then every interval; the first change: "starting"
    assert len(calls) == 4 and len(changes) == 5
