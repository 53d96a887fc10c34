#!/usr/bin/env python3
"""Pull of a 5-layer, 100 MB image from a loopback registry, cold, side by side (issue 14);
then the push of version 2 after version 1: the bytes sent must equal its new layer.

The image: five layers of 20 MB (uncompressed) each, half random bytes and half
text-like data, gzip-compressed (about 12 MB per layer on the wire), as an OCI layout,
pushed once into Debian's ``docker-registry`` on a free loopback port.

Contenders, each cold (a fresh store or destination every run, removed after its clock
stops), round-robin, the median of ``--runs``:

- ``pycompose image pull``: manifest, config and layer blobs fetched (sha256 checked,
  synced, renamed into the store), the image registered; the layers are unpacked when
  first used (engine/images/unpacking.py), so this is skopeo's work. It runs in the state
  root's warm worker (pycompose/cli/worker.py), as docker pull runs in a warm dockerd;
  the store is emptied after each run, so every pull is cold.
- ``pycompose, no worker yet``: the same, as the first command of a fresh state root
  (no worker: this process imports trio and httpx itself).
- ``pycompose pull + unpack``: the same with ``PullRequest(unpack=True)``, what
  ``container run``'s implicit pull does: every layer also unpacked through the store's
  safe unpacker (its tar checked against the config's diff_id) as soon as its blob is
  in; docker pull's work.
- ``pycompose client, no store``: the registry client alone writing blobs to files,
  three at once (the floor of the first row: Python, trio, httpx, hashing, writes).
- ``skopeo copy docker://... oci:DIR``: Debian's skopeo, blobs to an OCI layout (it does
  not unpack: the brief's yardstick, target within 1.2x).
- ``docker pull``: dockerd 20.10 (Debian's docker.io) started here with its own data
  root, exec root and socket under the work folder, ``--iptables=false --bridge=none``
  and the registry as insecure; stopped by its PID at the end. Skipped if absent.

pycompose's own modules are byte-compiled first, as ``pip install`` leaves them: where
PYTHONDONTWRITEBYTECODE is set (as on these machines), an editable install would
otherwise compile every module from source on every run, ~20 ms that no user pays.

pycompose is measured as a user installs it (bench/installed.py: a copy in a venv of its
own, not the checkout's editable install, whose finder costs every start ~5-8 ms);
``--checkout`` measures the checkout instead.

Run as root: .venv/bin/python bench/registry_pull.py [--runs 5] [--dir /var/tmp] [--checkout]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

LAYERS = 5
LAYER_SIZE = 20 * 1000 * 1000
PYCOMPOSE = str(Path(sys.executable).with_name("pycompose"))  # installed() replaces it
PYTHON = sys.executable
DOCKER_CLI = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _text(rng: random.Random, n: int) -> bytes:
    words = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(4000)]
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choices(words, k=64)) + b"\n"
    return bytes(out[:n])


def make_layer(seed: int, size: int = LAYER_SIZE, files: int = 40) -> bytes:
    """A tar of ``files`` files: half random bytes, half text (compresses ~4:1)."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    per = size // files
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo(f"layer{seed}")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1700000000
        tar.addfile(d)
        for j in range(files):
            data = rng.randbytes(per) if j % 2 else _text(rng, per)
            ti = tarfile.TarInfo(f"layer{seed}/file{j}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_oci(out: Path, layers: list[bytes], tag: str) -> dict[str, int]:
    """An OCI layout holding one image of ``layers`` (gzip); blob sizes by digest."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}

    def put(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        sizes["sha256:" + h] = len(data)
        return "sha256:" + h

    descs, diffs = [], []
    for raw in layers:
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, 6, mtime=0)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": put(gz), "size": len(gz)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "created": "2026-12-01T00:00:00Z",
                      "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    md = put(man)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
         "size": len(man), "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return {str(d["digest"]): int(str(d["size"])) for d in descs}


class Registry:
    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        cfg = work / "registry.yml"
        cfg.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                       f"storage:\n  filesystem:\n    rootdirectory: {work / 'registry'}\n"
                       f"http:\n  addr: {self.host}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Dockerd:
    """dockerd of our own: data, exec root and socket under ``work``."""

    def __init__(self, work: Path, insecure: str) -> None:
        self.sock = work / "docker.sock"
        self.log = open(work / "dockerd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(work / "docker-data"),
             "--exec-root", str(work / "docker-exec"), "-H", f"unix://{self.sock}",
             "--pidfile", str(work / "docker.pid"), "--iptables=false", "--ip6tables=false",
             "--bridge=none", "--insecure-registry", insecure, "--storage-driver=overlay2",
             "--log-level=error"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.docker("version", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("dockerd exited; see dockerd.log")
            time.sleep(0.2)
        raise RuntimeError("dockerd did not answer")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        assert DOCKER_CLI
        return subprocess.run([DOCKER_CLI, "-H", f"unix://{self.sock}", *args],
                              capture_output=True, check=check)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def blobs_only(name: str, dest: str) -> None:
    """What skopeo does, with pycompose's client: manifest, config and layers into files
    (sha256 checked, fsynced), several at once; no unpacking. Run in a subprocess."""
    import trio

    from pycompose.engine.images import reference
    from pycompose.engine.registry import session
    from pycompose.engine.registry.auth import scope_for

    ref = reference.parse(name)
    out = Path(dest)
    out.mkdir(parents=True)

    async def main() -> None:
        async with session() as s:
            reg = s.registry(ref.domain)
            scopes = (scope_for(ref.path, "pull"),)
            m = await reg.get_manifest(ref.path, ref.tag or "latest", scopes=scopes)
            (out / m.digest[7:]).write_bytes(m.data)
            descs = [m.doc["config"], *m.doc["layers"]]
            limiter = trio.CapacityLimiter(3)

            async def one(d: dict[str, object]) -> None:
                digest, size = str(d["digest"]), int(d["size"])  # type: ignore[call-overload]
                h = hashlib.sha256()
                async with limiter:
                    with open(out / digest[7:], "wb") as f:
                        async def write(chunk: bytes) -> None:
                            h.update(chunk)
                            f.write(chunk)

                        await reg.fetch_blob(ref.path, digest, size, write, scopes=scopes,
                                             what=digest)
                        f.flush()
                        os.fsync(f.fileno())
                assert "sha256:" + h.hexdigest() == digest

            async with trio.open_nursery() as n:
                for d in descs:
                    n.start_soon(one, d)

    trio.run(main)


def pull_unpacked(name: str) -> None:
    """``pull_image(PullRequest(name, unpack=True))``: run's implicit pull. Run in a
    subprocess with its own PYCOMPOSE_ROOT."""
    from pycompose.engine.registry import PullRequest, pull_image

    pull_image(PullRequest(name, unpack=True))


def worker_pid(root: Path) -> int | None:
    try:
        return int((root / "compose-worker.lock").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_for_worker(root: Path) -> None:
    """Until the worker of ``root`` serves (its socket is there once it has preloaded)."""
    deadline = time.monotonic() + 30
    while not (root / "compose.sock").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no compose worker came up for {root}")
        time.sleep(0.05)


def stop_worker(root: Path) -> None:
    pid = worker_pid(root)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def run_quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    r = subprocess.run(cmd, capture_output=True, env=env)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout.decode()}{r.stderr.decode()}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/var/tmp", help="work folder (stores, registry)")
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--checkout", action="store_true",
                    help="measure the checkout's editable install, not an installed copy")
    ap.add_argument("--blobs-only", nargs=2, metavar=("NAME", "DEST"), help=argparse.SUPPRESS)
    ap.add_argument("--pull-unpacked", metavar="NAME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.blobs_only:
        blobs_only(*args.blobs_only)
        return 0
    if args.pull_unpacked:
        pull_unpacked(args.pull_unpacked)
        return 0
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    import compileall

    repo = Path(__file__).resolve().parent.parent
    for d in ("pycompose", "engine", "compose", "netplug"):
        compileall.compile_dir(repo / d, quiet=1)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="pc-bench-reg-") as w:
        work = Path(w)
        if not args.checkout:  # pycompose as a user installs it (bench/installed.py)
            global PYCOMPOSE, PYTHON
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from installed import installed

            PYCOMPOSE = str(installed(work))
            PYTHON = str(Path(PYCOMPOSE).with_name("python"))
        print("making the image (5 layers x 20 MB) ...", flush=True)
        layers = [make_layer(i) for i in range(LAYERS)]
        v1 = work / "oci-v1"
        sizes = write_oci(v1, layers, "v1")
        wire = sum(sizes.values())
        reg = Registry(work)
        dockerd: Dockerd | None = None
        try:
            name = f"{reg.host}/bench/img:v1"
            run_quiet(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{v1}:v1",
                       f"docker://{name}"])
            env = {**os.environ, "PYCOMPOSE_CONFIG": str(work / "none.json"),
                   "DOCKER_CONFIG": str(work / "docker-config")}
            n = [0]

            def fresh(prefix: str) -> Path:
                n[0] += 1
                return work / f"{prefix}{n[0]}"

            # pycompose's warm worker (pycompose/cli/worker.py: image pull runs in a fork
            # of a process that has imported trio and httpx), as docker pull has its warm
            # dockerd; the store it pulls into is emptied after each run (cold: no blob,
            # no layer, no record of the image)
            warm_root = work / "pc-warm-root"
            warm_root.mkdir(mode=0o700)
            warm_env = {**env, "PYCOMPOSE_ROOT": str(warm_root)}
            run_quiet([PYCOMPOSE, "image", "pull", "-q", name], env=warm_env)  # starts it
            wait_for_worker(warm_root)
            shutil.rmtree(warm_root / "images")

            # each contender returns its clean-up, run after the clock stops
            def pycompose() -> Callable[[], None]:
                run_quiet([PYCOMPOSE, "image", "pull", "-q", name], env=warm_env)
                return lambda: shutil.rmtree(warm_root / "images")

            def pycompose_first() -> Callable[[], None]:
                root = fresh("pc-root")
                run_quiet([PYCOMPOSE, "image", "pull", "-q", name],
                          env={**env, "PYCOMPOSE_ROOT": str(root)})
                return lambda: shutil.rmtree(root)

            def pycompose_unpacked() -> Callable[[], None]:
                root = fresh("pc-root")
                run_quiet([PYTHON, __file__, "--pull-unpacked", name],
                          env={**env, "PYCOMPOSE_ROOT": str(root)})
                return lambda: shutil.rmtree(root)

            def skopeo() -> Callable[[], None]:
                dest = fresh("oci-out")
                run_quiet(["skopeo", "copy", "-q", "--src-tls-verify=false",
                           f"docker://{name}", f"oci:{dest}:v1"])
                return lambda: shutil.rmtree(dest)

            def client_only() -> Callable[[], None]:
                dest = fresh("pc-blobs")
                run_quiet([PYTHON, __file__, "--blobs-only", name, str(dest)],
                          env=env)
                return lambda: shutil.rmtree(dest)

            contenders: dict[str, Callable[[], Callable[[], None]]] = {
                "pycompose image pull": pycompose,
                "pycompose, no worker yet": pycompose_first,
                "pycompose pull + unpack": pycompose_unpacked,
                "pycompose client, no store": client_only,
                "skopeo copy (no unpack)": skopeo}
            if not args.no_docker and shutil.which("dockerd") and DOCKER_CLI:
                try:
                    dockerd = Dockerd(work, reg.host)
                except RuntimeError as e:
                    print(f"docker pull skipped: {e}")
            if dockerd is not None:
                d = dockerd

                def docker() -> Callable[[], None]:
                    d.docker("pull", "-q", name)

                    def rmi() -> None:
                        d.docker("rmi", "-f", name)

                    return rmi

                contenders["docker pull (dockerd 20.10)"] = docker
            samples: dict[str, list[float]] = {k: [] for k in contenders}
            for fn in contenders.values():  # a warm-up each: page cache, binaries
                fn()()
            for _ in range(args.runs):
                for k, fn in contenders.items():
                    subprocess.run(["sync"], check=False)
                    t0 = time.perf_counter()
                    clean = fn()
                    samples[k].append(time.perf_counter() - t0)
                    clean()
            print(f"\ncold pull of {LAYERS} layers, {LAYERS * LAYER_SIZE / 1e6:.0f} MB "
                  f"unpacked, {wire / 1e6:.1f} MB on the wire, median (and best) of "
                  f"{args.runs}; load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} cores:")
            base = statistics.median(samples["skopeo copy (no unpack)"])
            best = min(samples["skopeo copy (no unpack)"])
            dk = samples.get("docker pull (dockerd 20.10)")
            for k, s in samples.items():
                med = statistics.median(s)
                vs_docker = f" {med / statistics.median(dk):5.2f}x docker" if dk else ""
                print(f"  {k:<30} {med:6.3f} s {med / base:5.2f}x skopeo{vs_docker}   "
                      f"(best {min(s):.3f} s {min(s) / best:5.2f}x)   "
                      f"{wire / med / 1e6:4.0f} MB/s")

            # push of v2 after v1: only the new layer goes up
            print("\npush of v2 (v1 + one new 20 MB layer) after v1:")
            root = work / "pc-push"
            penv = {**env, "PYCOMPOSE_ROOT": str(root)}
            run_quiet([PYCOMPOSE, "image", "pull", "-q", name], env=penv)
            # v2 = v1 + a new layer, made on this machine (loaded from an OCI archive):
            # the registry has never seen its new layer
            v2 = work / "oci-v2"
            new = make_layer(99)
            sizes2 = write_oci(v2, [*layers, new], "v2")
            new_digest = next(d for d in sizes2 if d not in sizes)
            archive = work / "v2.tar"
            with tarfile.open(archive, "w") as t:
                for p in sorted(v2.rglob("*")):
                    t.add(p, arcname=str(p.relative_to(v2)), recursive=False)
            loaded = subprocess.run([PYCOMPOSE, "image", "load", "-i", str(archive)],
                                    env=penv, capture_output=True, text=True, check=True)
            v2_id = loaded.stdout.split()[-1]
            run_quiet([PYCOMPOSE, "image", "tag", name, f"{reg.host}/bench/app:v1"], env=penv)
            run_quiet([PYCOMPOSE, "image", "tag", v2_id, f"{reg.host}/bench/app:v2"], env=penv)
            os.environ.update(penv)
            from pycompose.engine.registry import PushRequest, push_image

            # v1 first (its layers are mounted from bench/img), then v2
            r1 = push_image(PushRequest(f"{reg.host}/bench/app:v1"), root=root).images[0]
            t0 = time.perf_counter()
            r2 = push_image(PushRequest(f"{reg.host}/bench/app:v2"), root=root).images[0]
            dt = time.perf_counter() - t0
            print(f"  v1: {r1.layers} layers, {r1.layers_existing} existed, "
                  f"{r1.layers_mounted} mounted, {r1.bytes_sent} bytes sent")
            print(f"  v2: {r2.layers} layers, {r2.layers_existing} existed, "
                  f"{r2.layers_mounted} mounted, {r2.layers_uploaded} uploaded, "
                  f"{r2.bytes_sent} layer bytes sent "
                  f"(+{r2.config_sent} config) in {dt:.2f} s")
            print(f"  new layer's blob: {sizes2[new_digest]} bytes -> "
                  f"{'equal' if r2.bytes_sent == sizes2[new_digest] else 'DIFFERENT'}")
        finally:
            stop_worker(work / "pc-warm-root")
            if dockerd is not None:
                dockerd.stop()
            reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
