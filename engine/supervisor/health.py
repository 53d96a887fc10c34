"""Healthchecks, as docker runs them: the image's (or ``--health-*``) test is exec'd in
the running container every Interval; Retries failures in a row make it unhealthy; a
failure during StartPeriod does not count. The result lives in the record's
``State.Health`` (Status starting|healthy|unhealthy, FailingStreak, the last 5 Log
entries), where ``ls``, ``inspect`` and compose's ``service_healthy`` read it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio

from ..api.requests import ExecRequest
from ..containers import Record
from ..errors import EngineError, NotFound
from ..record import now_iso

log = logging.getLogger("pycompose.supervisor")


class Process(Protocol):
    """An exec'd process, as the holder gives it back (``holder.Live``)."""

    pid: int
    code: int | None
    done: trio.Event


#: exec a probe in the container: (request, (stdin, stdout, stderr)) -> its process
Exec = Callable[[ExecRequest, tuple[int | None, int | None, int | None]], Awaitable[Process]]
#: apply a change to the container's record (the store's atomic update)
Update = Callable[[Callable[[Record], None]], object]

NS = 1_000_000_000
DEFAULTS = {"Interval": 30 * NS, "Timeout": 30 * NS, "StartPeriod": 0, "Retries": 3}
MAX_LOG = 5
MAX_OUTPUT = 4096


def test_command(hc: dict[str, Any] | None) -> list[str] | None:
    """The argv of a Healthcheck's Test, None when there is none (or NONE)."""
    if not hc:
        return None
    test = list(hc.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return test[1:] or None
    return test  # docker accepts a bare list as CMD


def settings(hc: dict[str, Any]) -> dict[str, float]:
    """Seconds (Interval, Timeout, StartPeriod) and Retries, docker's defaults for 0."""
    out: dict[str, float] = {}
    for k, d in DEFAULTS.items():
        v = int(hc.get(k) or 0) or d
        out[k] = v if k == "Retries" else v / NS
    return out


def record_result(rec: Record, code: int, output: str, start: str, in_start_period: bool,
                  retries: int) -> None:
    """Apply one probe's result to ``rec['State']['Health']`` (docker's rules)."""
    h = rec["State"].setdefault("Health", {"Status": "starting", "FailingStreak": 0,
                                           "Log": []})
    entry = {"Start": start, "End": now_iso(), "ExitCode": code,
             "Output": output[:MAX_OUTPUT]}
    h["Log"] = [*(h.get("Log") or [])[-(MAX_LOG - 1):], entry]
    if code == 0:
        h["Status"], h["FailingStreak"] = "healthy", 0
    elif not (in_start_period and h["Status"] == "starting"):
        h["FailingStreak"] = int(h.get("FailingStreak", 0)) + 1
        if h["FailingStreak"] >= retries:
            h["Status"] = "unhealthy"


def _interval(s: dict[str, float], hc: dict[str, Any], in_start: bool) -> float:
    """The pause before the next probe: StartInterval during the start period when
    it is set (docker 25's ``--health-start-interval``), else Interval."""
    start_interval = int(hc.get("StartInterval") or 0) / NS
    return start_interval if in_start and start_interval > 0 else s["Interval"]


#: is the container paused (frozen: a probe would hang in it)
Paused = Callable[[], bool]
#: told of each change of health status, with the record after it
Changed = Callable[[str, Record], None]


async def run_checks(done: trio.Event, exec_: Exec, update: Update, argv: list[str],
                     hc: dict[str, Any], paused: Paused | None = None,
                     changed: Changed | None = None) -> None:
    """Probe a container until ``done`` (its exit): ``exec_`` runs the test in it,
    ``update`` records each result. The first probe runs at once when it starts (so
    that a dependant waiting for ``service_healthy`` waits for the service, not for an
    interval), then every interval; none while ``paused``. Each change of status is
    told to ``changed`` (the supervisor's ``health_status: ...`` event, which waiters
    wake on)."""
    s = settings(hc)
    started = trio.current_time()
    update(lambda r: r["State"].update(
        Health={"Status": "starting", "FailingStreak": 0, "Log": []}))
    first = True
    status = "starting"
    while not done.is_set():
        in_start = trio.current_time() - started < s["StartPeriod"]
        if not first:
            with trio.move_on_after(_interval(s, hc, in_start)):
                await done.wait()
        first = False
        if done.is_set():
            return
        if paused is not None and paused():
            continue
        start = now_iso()
        code, output = await _probe(exec_, argv, s["Timeout"])
        if done.is_set():
            return
        in_start = trio.current_time() - started < s["StartPeriod"]
        def apply(r: Record, c: int = code, o: str = output, st: str = start,
                  i: bool = in_start) -> None:
            record_result(r, c, o, st, i, int(s["Retries"]))
        try:
            rec = update(apply)
        except NotFound:
            return
        if changed is not None and isinstance(rec, dict):
            now = str((rec["State"].get("Health") or {}).get("Status") or "starting")
            if now != status:
                status = now
                changed(now, rec)


async def _probe(exec_: Exec, argv: list[str], timeout: float) -> tuple[int, str]:
    """Exec the test with its output captured; (exit code, output). A timeout kills it
    and counts as a failure (docker: exit -1)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ex = await exec_(ExecRequest(cmd=argv), (null, w, w))
    except EngineError as e:
        os.close(r)
        return 1, str(e)
    except Exception as e:  # a probe never takes the supervisor down: it failed
        log.warning("healthcheck probe: %s: %s", type(e).__name__, e)
        os.close(r)
        return 1, f"{type(e).__name__}: {e}"
    finally:
        os.close(w)
        os.close(null)
    chunks: list[bytes] = []
    async with trio.lowlevel.FdStream(r) as stream:
        with trio.move_on_after(timeout) as scope:
            while sum(map(len, chunks)) < MAX_OUTPUT:
                data = await stream.receive_some(MAX_OUTPUT)
                if not data:
                    break
                chunks.append(data)
            await ex.done.wait()
    output = b"".join(chunks).decode("utf-8", "replace")
    if scope.cancelled_caught:
        with contextlib.suppress(ProcessLookupError):
            os.kill(ex.pid, 9)
        return -1, f"Health check exceeded timeout ({timeout:g}s)"
    return (ex.code if ex.code is not None else 1), output
