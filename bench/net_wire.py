#!/usr/bin/env python3
"""Wiring one container into a network (``Networks.attach``: a veth pair, the bridge
port, the address, MAC and default route) and unwiring it (``detach``). Target: under
20 ms per container. Also the one-off costs: a project's first network (namespace,
uplink, bridge, nft rules) and ``cleanup_project``.

"Containers" are named network namespaces made before the clock starts (the runtime
makes the real ones). pyroute2 is imported before timing (the supervisor imports it
once).

Run as root: .venv/bin/python bench/net_wire.py [--containers 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ms(samples: list[float]) -> str:
    s = sorted(samples)
    return (f"median {1000 * statistics.median(s):6.2f} ms   p90 "
            f"{1000 * s[int(0.9 * (len(s) - 1))]:6.2f} ms   max {1000 * s[-1]:6.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--containers", type=int, default=50)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 2
    root = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    import pyroute2  # noqa: F401  (paid once by the supervisor, not per container)

    from pycompose.netplug import Networks
    from pycompose.util.paths import root_id

    nets = Networks(root)
    names = [f"pcbench-{root_id(root)}-{i}" for i in range(a.containers)]
    try:
        for n in names:
            subprocess.run(["ip", "netns", "add", n], check=True)
        t0 = time.perf_counter()
        nets.ensure("wire_default", project="wire")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        nets.ensure("wire_default", project="wire")
        again = time.perf_counter() - t0
        attach, detach = [], []
        for i, n in enumerate(names):
            t0 = time.perf_counter()
            nets.attach("wire_default", f"{i:064d}", f"/run/netns/{n}", aliases=["svc"])
            attach.append(time.perf_counter() - t0)
        for i in range(len(names)):
            t0 = time.perf_counter()
            nets.detach("wire_default", f"{i:064d}")
            detach.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        nets.cleanup_project("wire")
        cleanup = time.perf_counter() - t0
        print(f"{a.containers} containers, {os.cpu_count()} cores")
        print(f"  attach (wire one container)   {ms(attach)}")
        print(f"  detach                        {ms(detach)}")
        print(f"  first network of a project    {1000 * first:6.1f} ms (netns, uplink, "
              "bridge, nft)")
        print(f"  ensure again (idempotent)     {1000 * again:6.1f} ms")
        print(f"  cleanup_project               {1000 * cleanup:6.1f} ms")
    finally:
        nets.cleanup_all()
        for n in names:
            subprocess.run(["ip", "netns", "del", n], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
