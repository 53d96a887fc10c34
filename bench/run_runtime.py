#!/usr/bin/env python3
"""``run --rm IMAGE true`` for the runtime alone: pycompose's create+start+wait+destroy
next to ``runc run`` and ``crun run`` on the same busybox rootfs (Debian's runc and
crun, default ``runc spec`` config), and the bare ``unshare ... chroot`` floor; the
medians and the ratios, in one run. Then the memory that detached containers cost:
30 ``sleep`` containers, and every process that is not a container's own.

Run as root: .venv/bin/python bench/run_runtime.py [--runs N] [--detached N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.images import make_busybox_rootfs_tar

from pycompose.engine.runtime import (
    ContainerSpec,
    Process,
    Rootfs,
    create,
    destroy,
    run,
)
from pycompose.engine.runtime.container import cgroup_of


def medians_ms(fns: dict[str, Any], runs: int) -> dict[str, float]:
    """Round-robin, so that every contender sees the same machine load (a shared
    2-core VM is noisy); each is warmed once (pyc files, page cache)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) * 1000 for name, v in samples.items()}


def spec_for(work: Path, rootfs: Path, overlay: bool, n: int, args: list[str]) -> ContainerSpec:
    cid = f"bench{n}"
    if overlay:
        layer = work / "layers" / cid
        shutil.rmtree(layer, ignore_errors=True)
        (layer / "u").mkdir(parents=True)
        (layer / "w").mkdir()
        rf: Rootfs | str = Rootfs([str(rootfs)], str(layer / "u"), str(layer / "w"))
    else:
        rf = str(rootfs)
    return ContainerSpec(id=cid, root=str(work / "state" / "containers" / cid), rootfs=rf,
                         process=Process(args=args, env=["PATH=/bin"]), hostname=cid)


def ours(work: Path, rootfs: Path, overlay: bool) -> None:
    spec = spec_for(work, rootfs, overlay, 0, ["true"])
    c = run(spec)
    assert c.wait() == 0
    destroy(spec)


def oci_bundle(work: Path, rootfs: Path) -> Path:
    bundle = work / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["process"]["env"] = ["PATH=/bin"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


def oci_run(tool: str, bundle: Path) -> None:
    subprocess.run([tool, "run", "--bundle", str(bundle), f"bench-{tool}-{os.getpid()}"],
                   check=True, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)


def floor(rootfs: Path) -> None:
    subprocess.run(["unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork",
                    "chroot", str(rootfs), "/bin/true"], check=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def detached(work: Path, rootfs: Path, count: int) -> None:
    specs = [spec_for(work, rootfs, True, 100 + i, ["sleep", "600"]) for i in range(count)]
    t0 = time.perf_counter()
    containers = [run(s) for s in specs]
    took = time.perf_counter() - t0
    try:
        procs = [p for s in specs for p in cgroup_of(s).pids()]
        own = {c.pid for c in containers}
        extra = [p for p in procs if p not in own]
        print(f"\n{count} detached containers started in {took:.2f} s "
              f"({took / count * 1000:.0f} ms each, sequentially)")
        print(f"processes in their cgroups: {len(procs)} (the containers' own: {len(own)}); "
              f"processes pycompose's runtime keeps per container: {len(extra) / count:.0f}")
        print(f"RSS of the containers' own processes (busybox sleep): "
              f"{sum(rss_kib(p) for p in own) / count:.0f} KiB each; the runtime adds "
              f"{sum(rss_kib(p) for p in extra) / count:.0f} KiB per container "
              "(the holder of c.pid is the caller: the supervisor, shared by all)")
    finally:
        for s in specs:
            destroy(s)
        for c in containers:
            c.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--detached", type=int, default=30)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    os.environ["PYCOMPOSE_ROOT"] = str(work / "state")
    try:
        rootfs = work / "rootfs"
        rootfs.mkdir()
        with tarfile.open(make_busybox_rootfs_tar(work / "bb.tar")) as tar:
            tar.extractall(rootfs, filter="fully_trusted")
        bundle = oci_bundle(work, rootfs)
        fns: dict[str, Any] = {"unshare+chroot (floor)": lambda: floor(rootfs)}
        for tool in ("runc", "crun"):
            if not shutil.which(tool):
                continue
            try:
                oci_run(tool, bundle)
                fns[f"{tool} run"] = lambda t=tool: oci_run(t, bundle)
            except subprocess.CalledProcessError as e:
                # crun 1.8 refuses v1-hybrid hosts: "cgroups in hybrid mode not supported"
                print(f"{tool} cannot run here: {e.stderr.decode().strip()}")
        fns["pycompose runtime, plain dir"] = lambda: ours(work, rootfs, False)
        fns["pycompose runtime, overlay"] = lambda: ours(work, rootfs, True)
        rows = list(medians_ms(fns, a.runs).items())
        runc = dict(rows).get("runc run")
        print(f"run --rm busybox true, median of {a.runs} (ms); ratio to runc")
        for name, ms in rows:
            ratio = f"{ms / runc:5.2f}x" if runc else "  n/a"
            print(f"  {name:32} {ms:8.1f}  {ratio}")
        spec = spec_for(work, rootfs, True, 1, ["true"])
        t0 = time.perf_counter()
        c = create(spec)
        t1 = time.perf_counter()
        c.start()
        t2 = time.perf_counter()
        c.wait()
        t3 = time.perf_counter()
        destroy(spec)
        t4 = time.perf_counter()
        print(f"one overlay run: create {1000 * (t1 - t0):.1f} ms, start {1000 * (t2 - t1):.1f}, "
              f"wait {1000 * (t3 - t2):.1f}, destroy {1000 * (t4 - t3):.1f}")
        if a.detached:
            detached(work, rootfs, a.detached)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
