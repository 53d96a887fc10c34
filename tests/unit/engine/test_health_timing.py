"""Healthchecks on trio's virtual clock: the first probe runs at once when the
container starts, then every interval (StartInterval during the start period), none
while paused, and each change of status is told (the event waiters wake on)."""

from __future__ import annotations

from typing import Any

import trio

from pycompose.engine.supervisor import health

NS = 1_000_000_000


class Proc:
    def __init__(self, code: int) -> None:
        self.pid = 0
        self.code = code
        self.done = trio.Event()
        self.done.set()


async def _run(hc: dict[str, Any], codes: list[int], until: float,
               paused: Any = None) -> tuple[list[float], list[str]]:
    probes: list[float] = []
    changes: list[str] = []
    record: dict[str, Any] = {"State": {}}
    done = trio.Event()

    async def exec_(req: Any, stdio: Any) -> Proc:
        import os

        probes.append(trio.current_time())
        if stdio[1] is not None:
            os.close(os.dup(stdio[1]))
        return Proc(codes[min(len(probes), len(codes)) - 1])

    def update(change: Any) -> dict[str, Any]:
        change(record)
        return record

    async with trio.open_nursery() as n:
        n.start_soon(health.run_checks, done, exec_, update, ["true"], hc, paused,
                     lambda status, rec: changes.append(status))
        await trio.sleep(until)
        done.set()
    return probes, changes


async def test_first_probe_at_once_then_every_interval(autojump_clock: Any) -> None:
    t0 = trio.current_time()
    probes, changes = await _run({"Test": ["CMD", "true"], "Interval": 1 * NS}, [0], 3.5)
    assert [round(p - t0, 3) for p in probes] == [0.0, 1.0, 2.0, 3.0]
    assert changes == ["healthy"]


async def test_start_interval_during_the_start_period(autojump_clock: Any) -> None:
    t0 = trio.current_time()
    hc = {"Test": ["CMD", "true"], "Interval": 10 * NS, "StartPeriod": 2 * NS,
          "StartInterval": NS // 2}
    probes, _ = await _run(hc, [1], 4.0)
    assert [round(p - t0, 3) for p in probes][:5] == [0.0, 0.5, 1.0, 1.5, 2.0]


async def test_unhealthy_after_retries_and_no_probe_while_paused(autojump_clock: Any) -> None:
    hc = {"Test": ["CMD", "false"], "Interval": 1 * NS, "Retries": 2}
    probes, changes = await _run(hc, [1], 2.5)
    assert changes == ["unhealthy"] and len(probes) == 3
    probes, _ = await _run(hc, [1], 2.5, paused=lambda: True)
    assert probes == []
