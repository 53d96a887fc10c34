#!/usr/bin/env python3
"""Resident memory of everything pycompose keeps running for detached containers,
divided by their count: start N ``container run -d busybox sleep`` (30 by default),
then add up VmRSS (and PSS) of every process that carries this state root in its
environment -- the supervisor and anything else of ours -- but not the containers' own
processes (their environment is the image's). Target: under 2 MiB per container.

Run as root: .venv/bin/python bench/containers_memory.py [--count N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.cli import PYCOMPOSE
from pctest.images import make_busybox_rootfs_tar


def ours(root: Path) -> list[int]:
    mark = f"PYCOMPOSE_ROOT={root}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if mark in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def field_kib(pid: int, path: str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=30)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    root = work / "state"
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "10"
    ids: list[str] = []
    try:
        tar = make_busybox_rootfs_tar(work / "bb.tar")
        subprocess.run([PYCOMPOSE, "image", "import", str(tar), "busybox:latest"],
                       check=True, capture_output=True)
        t0 = time.perf_counter()
        for _ in range(a.count):
            ids.append(subprocess.run(
                [PYCOMPOSE, "container", "run", "-d", "busybox", "sleep", "600"],
                check=True, capture_output=True, text=True).stdout.strip())
        took = time.perf_counter() - t0
        time.sleep(1)
        pids = ours(root)
        rss = sum(field_kib(p, "status", "VmRSS:") for p in pids)
        pss = sum(field_kib(p, "smaps_rollup", "Pss:") for p in pids)
        print(f"{a.count} detached containers started in {took:.1f} s "
              f"({took / a.count * 1000:.0f} ms each, one CLI call each)")
        print(f"pycompose processes kept running: {len(pids)}")
        print(f"their RSS: {rss / 1024:.1f} MiB in all, {rss / a.count / 1024:.2f} MiB per "
              f"container; PSS {pss / a.count / 1024:.2f} MiB per container (target < 2 MiB)")
    finally:
        if ids:
            subprocess.run([PYCOMPOSE, "container", "rm", "-f", *ids], capture_output=True)
        from pycompose.engine import client

        try:
            client.request(root, {"op": "shutdown"}, start=False)
        except Exception:
            pass
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
