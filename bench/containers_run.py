#!/usr/bin/env python3
"""``pycompose container run --rm busybox true`` end to end, as a user types it (the
CLI process, the thin client, a warm supervisor, the runtime), next to ``runc run`` and
``crun run`` on the same busybox rootfs and the bare ``unshare ... chroot`` floor, and
``podman run --rm`` when podman is installed. Medians and ratios to runc, in one run.

Run as root: .venv/bin/python bench/containers_run.py [--runs N]
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


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: page cache, pyc files, the supervisor
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


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
        rows: list[tuple[str, float]] = [("unshare+chroot (floor)", median_ms(
            lambda: sh("unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork",
                       "chroot", str(rootfs), "/bin/true"), a.runs))]
        bundle = oci_bundle(work, rootfs)
        for tool in ("runc", "crun"):
            if shutil.which(tool):
                try:
                    rows.append((f"{tool} run", median_ms(lambda t=tool: sh(  # type: ignore[misc]
                        t, "run", "--bundle", str(bundle), f"bench-{t}-{os.getpid()}"), a.runs)))
                except subprocess.CalledProcessError as e:
                    print(f"{tool} could not run here: {e.stderr.decode().strip()}",
                          file=sys.stderr)
        if shutil.which("podman"):
            rows.append(("podman run --rm", median_ms(lambda: sh(
                "podman", "run", "--rm", "--rootfs", str(rootfs), "true"), a.runs)))
        rows.append(("pycompose container run --rm", median_ms(lambda: sh(
            PYCOMPOSE, "container", "run", "--rm", "busybox", "true"), a.runs)))
        rows.append(("pycompose --version (CLI floor)", median_ms(lambda: sh(
            PYCOMPOSE, "--version"), a.runs)))
        runc = dict(rows).get("runc run")
        print(f"run --rm busybox true, median of {a.runs} (ms); ratio to runc")
        for name, ms in rows:
            ratio = f"{ms / runc:5.2f}x" if runc else "  n/a"
            print(f"  {name:34} {ms:8.1f}  {ratio}")
        print("(docker and podman measured on these machines: ~370 ms, DESIGN.md)")
    finally:
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
