#!/usr/bin/env python3
"""``container cp`` of a directory tree into and out of a running container (every
entry made by ``*at()`` calls on confined directory fds, engine/confined), next to
``podman cp`` on the same busybox image and tree, and, in this process (no CLI start),
the confined copy beside the unconfined floor (``shutil.copytree`` into the
container's /proc/PID/root: what pycompose did before, and what let a container's
symlinks reach the host). Medians and ratios, in one run.

Run as root: .venv/bin/python bench/cp.py [--runs N] [--files N]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.cli import PYCOMPOSE
from pctest.images import make_busybox_rootfs_tar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import podman as podman_peer


def medians_ms(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Round-robin, so that every contender sees the same machine load; each is
    warmed once."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}


def make_tree(top: Path, files: int) -> Path:
    """``files`` files of 4 KiB in directories of 50, with a few symlinks."""
    src = top / "tree"
    for i in range(files):
        d = src / f"d{i // 50:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(os.urandom(4096))
    for i in range(0, files // 50, 5):
        os.symlink(f"../d{i:03d}", src / f"l{i:03d}")
    return src


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, check=False)
    if r.returncode:
        raise SystemExit(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    top = Path(tempfile.mkdtemp(prefix="bench-cp-"))
    env = dict(os.environ, PYCOMPOSE_ROOT=str(top / "root"))
    peers = contextlib.ExitStack()
    pm = peers.enter_context(podman_peer(top))
    try:
        tar = make_busybox_rootfs_tar(top / "busybox.tar")
        src = make_tree(top, args.files)
        sh(PYCOMPOSE, "image", "import", str(tar), "bench-busybox:1", env=env)
        sh(PYCOMPOSE, "container", "run", "-d", "--name", "cpb", "bench-busybox:1",
           "sleep", "3600", env=env)
        pid = json.loads(sh(PYCOMPOSE, "container", "inspect", "cpb", env=env))[0][
            "State"]["Pid"]
        out = top / "out"
        n = itertools.count()
        from pycompose.engine.containers import ContainerStore, copy_to

        def fresh(p: Path) -> Path:
            shutil.rmtree(p, ignore_errors=True)
            return p

        fns: dict[str, Callable[[], object]] = {
            "pycompose cp in": lambda: sh(PYCOMPOSE, "container", "cp", str(src),
                                          "cpb:/tmp/in", env=env),
            "pycompose cp out": lambda: sh(PYCOMPOSE, "container", "cp", "cpb:/tmp/in",
                                           str(fresh(out)), env=env),
            "confined, in-process": lambda: copy_to(
                ContainerStore(top / "root").get("cpb"), str(src), f"/tmp/c{next(n)}"),
            "copytree (unconfined)": lambda: shutil.copytree(
                src, f"/proc/{pid}/root/tmp/raw{next(n)}", symlinks=True),
        }
        if pm is not None:  # its own storage, runc and rlimits it may set (peers.py)
            sh(*pm.cmd("import", str(tar), "bench-busybox:1"), env=pm.env)
            sh(*pm.cmd("run", "-d", "--name", "bench-cpb", "--network", "none",
                       "bench-busybox:1", "sleep", "3600"), env=pm.env)
            fns["podman cp in"] = lambda: sh(*pm.cmd("cp", str(src), "bench-cpb:/tmp/in"),
                                             env=pm.env)
            fns["podman cp out"] = lambda: sh(*pm.cmd("cp", "bench-cpb:/tmp/in",
                                                      str(fresh(out))), env=pm.env)
        results = medians_ms(fns, args.runs)
        base = results["pycompose cp in"]
        print(f"{args.files} files of 4 KiB, median of {args.runs} runs")
        for name, ms in results.items():
            print(f"  {name:24s} {ms:8.1f} ms   x{ms / base:.2f}")
    finally:
        subprocess.run([PYCOMPOSE, "container", "rm", "-f", "cpb"], env=env,
                       capture_output=True, check=False)
        from pycompose.engine import client

        try:  # the supervisor of the bench's root leaves now, not after its idle time
            client.request(top / "root", {"op": "shutdown"}, start=False)
        except Exception as e:
            print(f"(supervisor shutdown: {e})", file=sys.stderr)
        peers.close()  # podman's storage reset, its mounts gone
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
