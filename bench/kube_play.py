#!/usr/bin/env python3
"""``pycompose kube play`` and ``kube play --down`` of one pod (an init container and
two containers sharing localhost), next to ``podman kube play`` / ``podman kube down``
of the same file when podman is installed (Debian's ``podman``). Medians of each step
and the ratio to podman, in one run, round-robin (a shared 2-core VM is noisy).

Run as root: .venv/bin/python bench/kube_play.py [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.cli import PYCOMPOSE
from pctest.images import make_busybox_rootfs_tar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import podman as podman_peer

IMAGE = "localhost/bench-busybox:latest"
POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: bench}}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - {{name: prep, image: {IMAGE}, command: ["true"]}}
  containers:
  - name: server
    image: {IMAGE}
    command: [sh, -c, "while true; do echo hi | nc -l -p 7000; done"]
  - name: client
    image: {IMAGE}
    command: [sleep, "300"]
"""


def sh(*args: str) -> None:
    r = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{r.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--with-podman", action="store_true",
                    help="also time podman, on storage and a network config of the "
                         "bench's own (peers.py; its CNI leaves bridges and iptables-nft "
                         "tables on the host)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-kube-"))
    os.environ["PYCOMPOSE_ROOT"] = str(work / "state")
    os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "30"
    peers = contextlib.ExitStack()  # podman on storage of the bench's own (peers.py)
    pm = peers.enter_context(podman_peer(work)) if a.with_podman else None
    try:
        tar = make_busybox_rootfs_tar(work / "bb.tar")
        sh(PYCOMPOSE, "image", "import", str(tar), IMAGE)
        pod = work / "pod.yaml"
        pod.write_text(POD)
        steps: dict[str, dict[str, list[str]]] = {
            "pycompose": {"play": [PYCOMPOSE, "-p", "bench", "kube", "play", str(pod)],
                          "down": [PYCOMPOSE, "-p", "bench", "kube", "play", "--down",
                                   str(pod)]}}
        if pm is not None:
            os.environ.update(pm.env)  # for sh() and the round-robin below
            sh(*pm.cmd("import", str(tar), IMAGE))
            steps["podman"] = {"play": pm.cmd("kube", "play", str(pod)),
                               "down": pm.cmd("kube", "down", str(pod))}
        samples = {(who, step): [] for who in steps for step in ("play", "down")}
        for who, cmds in list(steps.items()):  # warm: caches, supervisor, pause images
            try:
                sh(*cmds["play"])
                sh(*cmds["down"])
            except SystemExit as e:
                if who == "pycompose":
                    raise
                # (on these machines root lacks CAP_SYS_RESOURCE, and podman's crun
                # fails to raise RLIMIT_NOFILE/NPROC for every container)
                print(f"{who} left out: {str(e).strip().splitlines()[-1]}")
                del steps[who]
                samples = {k: v for k, v in samples.items() if k[0] != who}
        for _ in range(a.runs):
            for who, cmds in steps.items():
                for step in ("play", "down"):
                    t0 = time.perf_counter()
                    sh(*cmds[step])
                    samples[(who, step)].append(time.perf_counter() - t0)
        print(f"kube play / down of a pod (1 init + 2 containers), median of {a.runs}")
        print(f"{'':<12}{'play ms':>10}{'down ms':>10}{'total':>10}{'vs podman':>11}")
        med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
        base = med.get(("podman", "play"), 0) + med.get(("podman", "down"), 0)
        for who in steps:
            total = med[(who, "play")] + med[(who, "down")]
            ratio = f"{total / base:.2f}x" if base else "-"
            print(f"{who:<12}{med[(who, 'play')]:>10.0f}{med[(who, 'down')]:>10.0f}"
                  f"{total:>10.0f}{ratio:>11}")
        if not a.with_podman:
            print("(podman left out: --with-podman to time it, where it can run)")
    finally:
        subprocess.run([PYCOMPOSE, "-p", "bench", "kube", "play", "--down", "--force",
                        str(work / "pod.yaml")], capture_output=True)
        if pm is not None:
            subprocess.run(pm.cmd("kube", "down", str(work / "pod.yaml")), env=pm.env,
                           capture_output=True)
        peers.close()  # podman system reset of its storage (its kube network too)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
