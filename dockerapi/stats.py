"""``GET /containers/{id}/stats``: docker's stats JSON, one-shot or streamed each second.

The face samples the container's cgroup (CPU time, memory and its limit, processes);
the host's CPU time (``system_cpu_usage``, what the docker CLI divides by) and the
container's network counters (its namespace's ``/proc/PID/net/dev``) are read here.
Without ``one-shot``, a non-streamed answer waits for a second sample, as docker's
does, so that ``precpu_stats`` gives the CLI a CPU percentage.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

import trio

from ..engine.api import Conflict
from .context import Context
from .http import ApiError, Request, Stream
from .routes import route
from .streams import json_line

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
ZERO = "0001-01-01T00:00:00Z"


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        f".{ns % 10**9:09d}Z"


def system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 10**9 // _TICKS


def net_counters(pid: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        if len(v) >= 16:
            out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2],
                         "rx_dropped": v[3], "tx_bytes": v[8], "tx_packets": v[9],
                         "tx_errors": v[10], "tx_dropped": v[11]}
    return out


def _cpu(sample: Any, system: int) -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": sample.cpu_ns, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "system_cpu_usage": system, "online_cpus": os.cpu_count() or 1,
            "throttling_data": {"periods": 0, "throttled_periods": 0,
                                "throttled_time": 0}}


def doc(rec: Any, sample: Any, system: int, prev: tuple[Any, int] | None) -> dict[str, Any]:
    limit = sample.memory_limit if 0 < sample.memory_limit < (1 << 62) else \
        _host_memory()
    return {
        "read": _rfc3339(sample.time_ns),
        "preread": _rfc3339(prev[0].time_ns) if prev else ZERO,
        "pids_stats": {"current": sample.pids},
        "blkio_stats": {"io_service_bytes_recursive": None, "io_serviced_recursive": None,
                        "io_queue_recursive": None, "io_service_time_recursive": None,
                        "io_wait_time_recursive": None, "io_merged_recursive": None,
                        "io_time_recursive": None, "sectors_recursive": None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(sample, system),
        "precpu_stats": _cpu(prev[0], prev[1]) if prev else
        {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {"usage": sample.memory, "stats": {}, "limit": limit},
        "name": "/" + rec.name, "id": rec.id,
        "networks": net_counters(rec.pid) if rec.pid else {},
    }


def _host_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def stats(ctx: Context, req: Request, id: str) -> Stream:
    sample_of = getattr(ctx.engine, "stats", None)
    if sample_of is None:
        raise ApiError(501, "stats are not available in this engine")
    rec = await ctx.call(ctx.engine.container, id)
    if not rec.status.is_active:
        raise Conflict(f"container {rec.id} is not running")
    stream = req.flag("stream", True)
    one_shot = req.flag("one-shot")

    async def take() -> tuple[Any, int]:
        return await ctx.call(sample_of, rec.id), await ctx.call(system_cpu_ns)

    first = await take()

    async def chunks() -> AsyncIterator[bytes]:
        prev: tuple[Any, int] | None = None
        cur = first
        if not stream:
            if not one_shot:
                await trio.sleep(1)
                prev, cur = cur, await take()
            yield json_line(doc(rec, cur[0], cur[1], prev))
            return
        while True:
            yield json_line(doc(rec, cur[0], cur[1], prev))
            await trio.sleep(1)
            live = await ctx.call(ctx.engine.container, rec.id)
            if not live.status.is_active:
                return
            prev, cur = cur, await take()
    return Stream(chunks(), 200, watch=True)


ROUTES = [route("GET", "/containers/{id}/stats", stats)]
