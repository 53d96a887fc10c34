#!/usr/bin/env python3
"""``pycompose container run --rm busybox true`` end to end, as a user types it (the
CLI process, the thin client, a warm supervisor, the runtime), with docker's default
bridge (what a plain ``run`` gets) and with ``--network none``, next to ``runc run``
and ``crun run`` on the same busybox rootfs, the bare ``unshare ... chroot`` floor,
``docker run --rm`` (a dockerd of the bench's own, its own bridge: bench/peers.py) and
``podman run --rm`` when they are installed. Medians and ratios to runc, in one run.

Run as root: .venv/bin/python bench/containers_run.py [--runs N] [--baseline OTHER/pycompose]
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
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.cli import PYCOMPOSE
from pctest.images import make_busybox_rootfs_tar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import dockerd, podman


def medians_ms(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Round-robin, so that every contender sees the same machine load (a shared
    2-core VM is noisy); each is warmed once (page cache, the supervisor)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) * 1000 for name, v in samples.items()}


def sh(*args: str, **kw: object) -> None:
    subprocess.run(list(args), check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def oci_bundle(work: Path, rootfs: Path) -> Path:
    bundle = work / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"].update(terminal=False, args=["true"], env=["PATH=/bin"])
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--baseline", metavar="PYCOMPOSE",
                    help="another pycompose's binary (e.g. main's .venv/bin/pycompose), "
                         "measured in the same round-robin with a state root of its own")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    root = work / "state"
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "30"
    try:
        tar = make_busybox_rootfs_tar(work / "bb.tar")
        rootfs = work / "rootfs"
        rootfs.mkdir()
        with tarfile.open(tar) as t:
            t.extractall(rootfs, filter="fully_trusted")
        sh(PYCOMPOSE, "image", "import", str(tar), "busybox:latest")
        # An installed package has its bytecode compiled; a PYTHONDONTWRITEBYTECODE
        # environment would otherwise make every CLI and launcher start compile
        # pycompose's modules again (~10 ms that no user pays).
        sh(sys.executable, "-m", "compileall", "-q",
           str(Path(__file__).resolve().parents[1] / "pycompose"),
           *(str(Path(__file__).resolve().parents[1] / d)
             for d in ("engine", "compose", "netplug")))
        fns: dict[str, Callable[[], object]] = {
            "unshare+chroot (floor)": lambda: sh(
                "unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork",
                "chroot", str(rootfs), "/bin/true")}
        bundle = oci_bundle(work, rootfs)
        for tool in ("runc", "crun"):
            if shutil.which(tool):
                def run_it(t: str = tool) -> None:
                    sh(t, "run", "--bundle", str(bundle), f"bench-{t}-{os.getpid()}")
                try:
                    run_it()
                    fns[f"{tool} run"] = run_it
                except subprocess.CalledProcessError as e:
                    print(f"{tool} could not run here: {e.stderr.decode().strip()}",
                          file=sys.stderr)
        def peer(name: str, fn: Callable[[], object]) -> None:
            """Measured if it runs here at all; else one line saying why not."""
            try:
                fn()
                fns[name] = fn
            except subprocess.CalledProcessError as e:
                err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
                print(f"{name}: could not run here: {err[-1] if err else e}", file=sys.stderr)

        fns["pycompose run --rm (bridge)"] = lambda: sh(
            PYCOMPOSE, "container", "run", "--rm", "busybox", "true")
        fns["pycompose run --rm --network none"] = lambda: sh(
            PYCOMPOSE, "container", "run", "--rm", "--network", "none", "busybox", "true")
        fns["pycompose --version (CLI floor)"] = lambda: sh(PYCOMPOSE, "--version")
        base_root = work / "baseline-state"
        if a.baseline:
            benv = dict(os.environ, PYCOMPOSE_ROOT=str(base_root))
            sh(a.baseline, "image", "import", str(tar), "busybox:latest", env=benv)
            fns["baseline run --rm (bridge)"] = lambda: sh(
                a.baseline, "container", "run", "--rm", "busybox", "true", env=benv)
        with dockerd(work) as docker, podman(work) as pm:
            if pm is not None:
                peer("podman run --rm", lambda: sh(
                    *pm.cmd("run", "--rm", "--rootfs", str(rootfs), "true"), env=pm.env))
            if docker is not None:
                docker.docker("import", str(tar), "busybox:latest")
                peer("docker run --rm (bridge)", lambda: sh(
                    *docker.cmd("run", "--rm", "busybox", "true")))
                peer("docker run --rm --network none", lambda: sh(
                    *docker.cmd("run", "--rm", "--network", "none", "busybox", "true")))
            load = os.getloadavg()[0]
            rows = list(medians_ms(fns, a.runs).items())
        runc = dict(rows).get("runc run")
        print(f"run --rm busybox true, median of {a.runs} (ms); ratio to runc (round-robin; "
              f"load average {load:.1f} on {os.cpu_count()} cpus at the start)")
        for name, ms in rows:
            ratio = f"{ms / runc:5.2f}x" if runc else "  n/a"
            print(f"  {name:36} {ms:8.1f}  {ratio}")
    finally:
        from pycompose.engine import client

        for r in (root, work / "baseline-state"):
            try:
                client.request(r, {"op": "shutdown"}, start=False)
            except Exception:
                pass
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
