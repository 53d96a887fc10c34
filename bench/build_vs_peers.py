#!/usr/bin/env python3
"""Building one Dockerfile with pycompose, ``buildah bud`` (Debian's buildah) and, where
dockerd can be started here, ``docker build`` (BuildKit), side by side in one run.

The Dockerfile has 10 instructions: a Debian base made by ``image bootstrap`` (cached),
``apt-get install`` of a small package, a COPY of a 50 MB tree (500 files), two more
RUNs and config steps. Three timings per builder:

- cold: ``--no-cache`` (every RUN and COPY done again; base image and mirror warm);
- warm: a no-change rebuild (every step from the cache);
- one-file: one copied file changed (its COPY and the steps after it run again);

plus the no-change rebuild of a 10-step busybox Dockerfile (target under 0.3 s).
Medians over ``--runs`` rounds, round-robin so that each builder sees the same load;
ratios are peer / pycompose (above 1: pycompose is faster).

Each peer gets storage of its own under a temporary folder: buildah ``--root``/
``--runroot``; dockerd (``--data-root``, ``--exec-root``, its socket and pidfile there,
``--iptables=false`` so that the host's FORWARD policy is left alone, ``--bridge=none``)
started and stopped by its PID by this script. The peers' RUN steps use
``--network host`` (without iptables dockerd has no NAT, and buildah here has no CNI
config); pycompose's use its own NAT bridge, the harder path.

pycompose is measured as a user installs it (bench/installed.py: a copy in a venv of its
own, not the checkout's editable install, whose finder costs every start ~5-8 ms); its
builds after the first run in the state root's warm worker (pycompose/cli/worker.py),
as docker's run in dockerd. ``--checkout`` measures the checkout's install instead.

Run as root: .venv/bin/python bench/build_vs_peers.py [--runs N] [--no-docker]
[--no-buildah] [--checkout]. Install the peers with ``apt-get install buildah docker.io``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pctest.cli import PYCOMPOSE  # noqa: F401 - replaced by installed() unless --checkout
from pctest.images import make_busybox_rootfs_tar

CACHE = os.environ.get("PYCOMPOSE_TEST_CACHE", "/var/cache/pycompose-tests")

DOCKERFILE = """\
FROM {base}
ENV APP=/app
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends tree \\
    && rm -rf /var/lib/apt/lists/*
COPY data/ /app/data/
RUN tree -d /app | tail -1 > /app/tree.txt
RUN echo built > /app/built && du -s /app/data > /app/size
LABEL bench=pycompose
USER nobody
CMD ["tree", "-L", "1", "/app"]
"""

SMALL = """\
FROM busybox
ENV A=1
WORKDIR /w
COPY f1 /w/
RUN echo one > /w/one
COPY f2 /w/
RUN echo two > /w/two
LABEL x=y
USER app
CMD ["cat", "/w/one"]
"""


def sh(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
       quiet: bool = True) -> None:
    p = subprocess.run(list(args), stdin=subprocess.DEVNULL, cwd=cwd,
                       env={**os.environ, **(env or {})},
                       stdout=subprocess.DEVNULL if quiet else None,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")


def make_tree(root: Path, files: int = 500, size: int = 100_000) -> None:
    """50 MB in 500 files of incompressible bytes, in 10 folders."""
    for i in range(files):
        d = root / f"d{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(os.urandom(size))


class Dockerd:
    """A dockerd of this benchmark's own, started and stopped by PID."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.sock = work / "docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        if shutil.which("dockerd") is None:
            return False
        for d in ("data", "exec"):
            (self.work / d).mkdir(parents=True, exist_ok=True)
        log = open(self.work / "dockerd.log", "wb")  # noqa: SIM115 - kept for the daemon
        self.proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-masq=false", "--bridge=none",
             "--data-root", str(self.work / "data"), "--exec-root", str(self.work / "exec"),
             "--pidfile", str(self.work / "dockerd.pid"), "-H", f"unix://{self.sock}",
             "--storage-driver", "overlay2"], stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = subprocess.run(self.cli("version"), capture_output=True)
            if r.returncode == 0:
                return True
            time.sleep(0.3)
        return False

    def cli(self, *args: str) -> list[str]:
        exe = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
        return [exe, "-H", f"unix://{self.sock}", *args]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # dockerd leaves its mounts (overlay, netns) when killed: detach what is ours
        subprocess.run(["sh", "-c", f"grep -o ' {self.work}[^ ]*' /proc/self/mountinfo | "
                        "sort -r | xargs -r -n1 umount -l"], capture_output=True)


def timeit(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def rounds(builders: dict[str, dict[str, Callable[[], object]]], scenario: str, runs: int,
           prepare: Callable[[], None] | None = None) -> dict[str, float]:
    samples: dict[str, list[float]] = {b: [] for b in builders}
    for _ in range(runs):
        for name, ops in builders.items():
            if prepare is not None:
                prepare()
            samples[name].append(timeit(ops[scenario]))
    return {b: statistics.median(v) for b, v in samples.items()}


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pycompose-bench-build-"))
    try:
        yield d
    finally:
        subprocess.run(["sh", "-c", f"grep -o ' {d}[^ ]*' /proc/self/mountinfo | sort -r | "
                        "xargs -r -n1 umount -l"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--no-buildah", action="store_true")
    ap.add_argument("--checkout", action="store_true",
                    help="measure the checkout's editable install, not an installed copy")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    with workdir() as work:
        if not a.checkout:  # pycompose as a user installs it (bench/installed.py)
            global PYCOMPOSE
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from installed import installed

            PYCOMPOSE = str(installed(work))
        root = work / "state"
        os.environ["PYCOMPOSE_ROOT"] = str(root)
        os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "60"
        print("preparing: debian base (image bootstrap, cached), a 50 MB tree ...",
              file=sys.stderr)
        # an installed package has its bytecode compiled; a PYTHONDONTWRITEBYTECODE
        # environment would otherwise make every CLI start compile pycompose again
        repo = Path(__file__).resolve().parents[1]
        sh(sys.executable, "-m", "compileall", "-q",
           *(str(repo / d) for d in ("pycompose", "engine", "compose", "netplug")))
        sh(PYCOMPOSE, "image", "bootstrap", "debian:bookworm", "--suite", "bookworm", "-q",
           env={"PYCOMPOSE_BOOTSTRAP_CACHE": CACHE})
        sh(PYCOMPOSE, "image", "save", "debian:bookworm", "-o", str(work / "debian.tar"))
        ctx = work / "ctx"
        make_tree(ctx / "data")
        small = work / "small"
        small.mkdir()
        (small / "f1").write_text("1\n")
        (small / "f2").write_text("2\n")
        (small / "Dockerfile").write_text(SMALL)
        bb = make_busybox_rootfs_tar(work / "busybox.tar")
        sh(PYCOMPOSE, "image", "import", str(bb), "busybox:latest", "-c", 'CMD ["sh"]')
        changed = ctx / "data" / "d0" / "f0.bin"

        def touch_one() -> None:
            changed.write_bytes(os.urandom(100_000))

        builders: dict[str, dict[str, Callable[[], object]]] = {}
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base="debian:bookworm"))

        def pc(*extra: str) -> Callable[[], None]:
            return lambda: sh(PYCOMPOSE, "image", "build", "-q", "-t", "bench:pc", *extra,
                              str(ctx))
        builders["pycompose"] = {"cold": pc("--no-cache"), "warm": pc(), "one-file": pc(),
                                 "small-warm": lambda: sh(PYCOMPOSE, "image", "build", "-q",
                                                          "-t", "small", str(small))}
        dockerd = Dockerd(work / "docker")
        if not a.no_buildah and shutil.which("buildah"):
            broot = ["--root", str(work / "buildah" / "root"),
                     "--runroot", str(work / "buildah" / "run"),
                     "--storage-driver", "overlay"]
            sh("buildah", *broot, "pull", "-q", f"docker-archive:{work / 'debian.tar'}")
            # Debian's crun refuses this machine's hybrid cgroups; runc works
            runc = shutil.which("runc") or "runc"
            bctx = work / "bctx"
            shutil.copytree(ctx, bctx, symlinks=True)
            (bctx / "Dockerfile").write_text(DOCKERFILE.format(
                base="localhost/debian:bookworm"))

            def bd(*extra: str) -> Callable[[], None]:
                return lambda: sh("buildah", *broot, "bud", "-q", "--layers", "--runtime", runc,
                                  "--network", "host", "-t", "bench:buildah", *extra,
                                  str(bctx))
            builders["buildah"] = {"cold": bd("--no-cache"), "warm": bd(), "one-file": bd()}
            builders["buildah"]["touch"] = lambda: (bctx / "data" / "d0" / "f0.bin"
                                                    ).write_bytes(os.urandom(100_000))
        if not a.no_docker and dockerd.start():
            # docker 20.10 cannot read zstd layers (image bootstrap's): import the rootfs
            from pycompose.engine.images import ImageStore

            img = ImageStore(root).resolve("debian:bookworm")
            (layer,) = img.layers
            plain = work / "debian-rootfs.tar"
            sh("tar", "-C", str(ImageStore(root).layer_dir(layer.chain_id) / "diff"),
               "--numeric-owner", "--xattrs", "-cf", str(plain), ".")
            sh(*dockerd.cli("import", "-c", 'CMD ["bash"]', str(plain), "debian:bookworm"))
            dctx = work / "dctx"
            shutil.copytree(ctx, dctx, symlinks=True)
            denv = {"DOCKER_BUILDKIT": "1"}

            def dk(*extra: str) -> Callable[[], None]:
                return lambda: sh(*dockerd.cli("build", "-q", "--network", "host", "-t",
                                               "bench:docker", *extra, str(dctx)), env=denv)
            builders["docker"] = {"cold": dk("--no-cache"), "warm": dk(), "one-file": dk()}
            builders["docker"]["touch"] = lambda: (dctx / "data" / "d0" / "f0.bin"
                                                   ).write_bytes(os.urandom(100_000))
        elif not a.no_docker:
            print("docker: dockerd could not be started here (see its log); skipped",
                  file=sys.stderr)
        try:
            for ops in builders.values():  # one warm-up build each (mirror, page cache)
                ops["cold"]()
            builders["pycompose"]["small-warm"]()
            results: dict[str, dict[str, float]] = {}
            results["cold"] = rounds(builders, "cold", a.runs)
            results["warm"] = rounds(builders, "warm", a.runs)

            def prepare_all() -> None:
                touch_one()
                for ops in builders.values():
                    if "touch" in ops:
                        ops["touch"]()
            samples: dict[str, list[float]] = {b: [] for b in builders}
            for _ in range(a.runs):
                prepare_all()
                for name, ops in builders.items():
                    samples[name].append(timeit(ops["one-file"]))
            results["one-file"] = {b: statistics.median(v) for b, v in samples.items()}
            small_warm = statistics.median(timeit(builders["pycompose"]["small-warm"])
                                           for _ in range(max(5, a.runs)))
        finally:
            dockerd.stop()
        print(f"\nbuild of a 10-step Dockerfile (debian + apt-get install + 50 MB COPY), "
              f"median of {a.runs}")
        names = list(builders)
        print(f"{'scenario':<10}" + "".join(f"{n:>12}" for n in names) +
              "".join(f"{n + '/pc':>14}" for n in names if n != "pycompose"))
        for scen, row in results.items():
            line = f"{scen:<10}" + "".join(f"{row[n]:>11.3f}s" for n in names)
            line += "".join(f"{row[n] / row['pycompose']:>13.2f}x" for n in names
                            if n != "pycompose")
            print(line)
        print(f"\nno-change rebuild of a 10-step busybox Dockerfile: {small_warm:.3f}s "
              "(target < 0.3 s)")
        with contextlib.suppress(Exception):
            from pycompose.engine import client

            client.request(root, {"op": "shutdown"}, start=False)
            time.sleep(0.5)
        with contextlib.suppress(Exception):
            from pycompose.netplug import Networks

            Networks(root).cleanup_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
