#!/usr/bin/env python3
"""``docker run --rm busybox true`` through pycompose's Docker API socket (issue 12),
next to the same docker CLI against a dockerd of the bench's own (bench/peers.py: its
data-root, exec-root and socket under the work folder, ``--iptables=false``, its own
bridge, stopped by its pid) with the same image imported, and next to ``pycompose
container run --rm busybox true``. Medians of ``--runs``, round-robin, ratios to dockerd
in one run.

What the docker CLI does for ``run --rm`` is the same against either daemon: ``/_ping``,
``POST /containers/create``, ``POST /containers/{id}/attach`` (stdout, stderr),
``POST /containers/{id}/wait?condition=removed``, ``POST /containers/{id}/start``, then
it waits for the wait's answer. ``docker version`` (the CLI's start and two requests) is
measured against each as the floor of the client.

Each docker CLI this machine has is measured (the 28.x in /usr/local/bin and Debian's
20.10 in /usr/bin); ``--cli`` picks one.

Run as root: .venv/bin/python bench/dockerapi_run.py [--runs N] [--network none]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pctest.cli import PYCOMPOSE
from pctest.images import make_busybox_rootfs_tar
from peers import dockerd

REPO = Path(__file__).resolve().parents[1]
CLIS = [p for p in ("/usr/local/bin/docker", "/usr/bin/docker") if os.path.exists(p)]


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


def sh(*args: str, env: dict[str, str] | None = None) -> None:
    r = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    if r.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): "
                         f"{r.stderr.decode(errors='replace').strip()}")


class PycomposeService:
    """``pycompose system service --time 0 unix://...`` as a child, stopped by its pid."""

    def __init__(self, work: Path) -> None:
        self.sock = work / "api" / "docker.sock"
        self.log = work / "service.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [PYCOMPOSE, "system", "service", "--time", "0", f"unix://{self.sock}"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the service exited: {self.log.read_text()}")
            if self.sock.exists() and subprocess.run(
                    [CLIS[0], "-H", f"unix://{self.sock}", "version"],
                    capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"the service did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--cli", choices=CLIS, action="append",
                    help="the docker CLI(s) to measure (default: each one there is)")
    ap.add_argument("--network", default="", help="e.g. none (default: docker's bridge)")
    ap.add_argument("--no-dockerd", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    if not CLIS:
        print("no docker CLI here (apt-get install docker.io)", file=sys.stderr)
        return 2
    clis = a.cli or CLIS
    net = ["--network", a.network] if a.network else []
    work = Path(tempfile.mkdtemp(prefix="pc-bench-api-", dir="/tmp"))
    root = work / "state"
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "60"
    denv = dict(os.environ, DOCKER_CONFIG=str(work / "docker-config"),
                DOCKER_CLI_HINTS="false")
    svc: PycomposeService | None = None
    try:
        tar = make_busybox_rootfs_tar(work / "bb.tar")
        sh(PYCOMPOSE, "image", "import", str(tar), "busybox:latest")
        # An installed package has its bytecode compiled; a PYTHONDONTWRITEBYTECODE
        # environment would otherwise make every start compile pycompose's modules again.
        sh(sys.executable, "-m", "compileall", "-q",
           *(str(REPO / d) for d in ("pycompose", "engine", "compose", "netplug",
                                     "dockerapi")))
        svc = PycomposeService(work)
        fns: dict[str, Callable[[], object]] = {}
        short = {"/usr/local/bin/docker": "docker", "/usr/bin/docker": "docker.io"}
        for cli in clis:
            host = ["-H", f"unix://{svc.sock}"]
            fns[f"{short[cli]} run --rm -> pycompose"] = (
                lambda c=cli, h=host: sh(c, *h, "run", "--rm", *net, "busybox", "true",
                                         env=denv))
        fns["pycompose container run --rm"] = lambda: sh(
            PYCOMPOSE, "container", "run", "--rm", *net, "busybox", "true")
        for cli in clis:
            host = ["-H", f"unix://{svc.sock}"]
            fns[f"{short[cli]} version -> pycompose"] = (
                lambda c=cli, h=host: sh(c, *h, "version", env=denv))
        fns["pycompose --version (CLI floor)"] = lambda: sh(PYCOMPOSE, "--version")
        with dockerd(work) if not a.no_dockerd else _none() as docker:
            if docker is not None:
                docker.docker("import", str(tar), "busybox:latest")
                for cli in clis:
                    host = ["-H", f"unix://{docker.sock}"]
                    fns[f"{short[cli]} run --rm -> dockerd"] = (
                        lambda c=cli, h=host: sh(c, *h, "run", "--rm", *net, "busybox",
                                                 "true", env=denv))
                    fns[f"{short[cli]} version -> dockerd"] = (
                        lambda c=cli, h=host: sh(c, *h, "version", env=denv))
            load = os.getloadavg()[0]
            rows = medians_ms(fns, a.runs)
        print(f"run --rm busybox true{' --network ' + a.network if a.network else ''}, "
              f"median of {a.runs} (ms), round-robin; load average {load:.1f} on "
              f"{os.cpu_count()} cpus at the start")
        order = [f"{short[c]} run --rm -> {d}" for c in clis for d in ("pycompose", "dockerd")]
        order += ["pycompose container run --rm"]
        order += [f"{short[c]} version -> {d}" for c in clis for d in ("pycompose", "dockerd")]
        order += ["pycompose --version (CLI floor)"]
        for name in order:
            if name not in rows:
                continue
            ms = rows[name]
            peer = None
            for cli in clis:
                s = short[cli]
                if name.startswith(f"{s} ") and name.endswith("-> pycompose"):
                    peer = rows.get(name.replace("-> pycompose", "-> dockerd"))
            first = short[clis[0]]
            if name == "pycompose container run --rm":
                peer = rows.get(f"{first} run --rm -> dockerd")
            ratio = f"{ms / peer:5.2f}x dockerd" if peer else ""
            print(f"  {name:36} {ms:8.1f}  {ratio}")
    finally:
        if svc is not None:
            svc.stop()
        from pycompose.engine import client

        try:
            client.request(root, {"op": "shutdown"}, start=False)
        except Exception as e:  # nothing to shut down is fine
            print(f"(supervisor shutdown: {e})", file=sys.stderr)
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)
    return 0


class _none:
    def __enter__(self) -> None:
        print("dockerd: skipped (--no-dockerd)")

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
