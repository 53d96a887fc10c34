#!/usr/bin/env python3
"""``up -d`` then ``down`` of 1, 10 and 30 services, a 5-chain of ``service_healthy``
with 1 s intervals, and the client's peak RSS during ``up``: pycompose, docker-compose
(Debian's 1.29 on its dockerd 20.10) and podman-compose (PyPI) on podman 4.3, the same
busybox image in all three, medians in one run, with ratios.

The peers are installed and started here, and nothing of theirs is left to others:

- Debian's ``docker.io`` and ``docker-compose`` (apt, with service starts refused while
  it installs: no dockerd of the system's is started); this bench's dockerd runs in the
  background with ``--iptables=false`` (the host's FORWARD policy is left alone), its
  own ``--data-root``/``--exec-root``/socket/pid file under ``--work`` and its own
  address pools, and is stopped by its pid at the end;
- podman from Debian, ``podman-compose`` from PyPI in a venv under ``--work``; podman
  keeps its storage and network configuration under ``--work`` too (its
  ``CONTAINERS_STORAGE_CONF``/``CONTAINERS_CONF``).

pycompose runs as installed (bench/installed.py: a copy in a venv of its own; the
checkout's editable finder costs every start ~5-8 ms), ``--checkout`` runs the checkout.

pycompose's rows "the engine stopped first" time the first command after its
supervisor (and its warm worker) left idle, which the peers' daemons never do.

Run as root: ``.venv/bin/python bench/compose_vs_peers.py [--runs 3] [--only pycompose]
[--baseline OTHER/.venv/bin/pycompose] [--checkout] [--no-cold]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import podman

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYCOMPOSE = str(Path(sys.executable).with_name("pycompose"))
IMAGE = "pcbench/busybox:1"


def sh(cmd: list[str], *, env: dict[str, str] | None = None, check: bool = True,
       timeout: float = 600, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


# -- compose files --------------------------------------------------------------------
def services(n: int) -> str:
    out = ["services:"]
    for i in range(n):
        out += [f"  s{i}:", f"    image: {IMAGE}", "    command: [sleep, '600']",
                "    stop_signal: SIGKILL"]
    return "\n".join(out) + "\n"


def chain(n: int = 5) -> str:
    out = ["services:"]
    for i in range(n):
        out += [f"  c{i}:", f"    image: {IMAGE}", "    command: [sleep, '600']",
                "    stop_signal: SIGKILL",
                "    healthcheck: {test: [CMD, 'true'], interval: 1s, timeout: 5s, "
                "retries: 30}"]
        if i:
            out += [f"    depends_on: {{c{i - 1}: {{condition: service_healthy}}}}"]
    return "\n".join(out) + "\n"


# -- the three -----------------------------------------------------------------------
class Tool:
    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = dict(os.environ)

    def up(self, folder: Path, project: str) -> list[str]:
        raise NotImplementedError

    def down(self, folder: Path, project: str) -> list[str]:
        raise NotImplementedError

    def setup(self, busybox_tar: Path) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


class Pycompose(Tool):
    """This checkout's pycompose; with ``bin``, another one (``--baseline``: the same
    bench, in the same run, of another checkout's venv, e.g. main's), with a state root
    of its own."""

    name = "pycompose"

    def __init__(self, work: Path, bin: str = PYCOMPOSE, name: str = "pycompose") -> None:
        super().__init__(work)
        self.bin, self.name = bin, name
        self.root = work / ("pycompose-root" if name == "pycompose" else "pycompose-baseline-root")

    def setup(self, busybox_tar: Path) -> None:
        self.env.update(PYCOMPOSE_ROOT=str(self.root), PYCOMPOSE_WORKER="1")
        sh([self.bin, "image", "import", str(busybox_tar), IMAGE], env=self.env)

    def up(self, folder: Path, project: str) -> list[str]:
        return [self.bin, "-p", project, "--progress", "plain", "up", "-d"]

    def down(self, folder: Path, project: str) -> list[str]:
        return [self.bin, "-p", project, "--progress", "plain", "down", "-t", "0"]

    def worker_child_memory(self) -> Callable[[], dict[str, int]]:
        """A sampler of the forked command's memory in the worker (peak RSS, and the
        pages it does not share with the worker: what the command itself costs)."""
        peak = {"hwm_kb": 0, "private_kb": 0}
        stop = threading.Event()

        def worker_pid() -> int | None:
            try:
                return int((self.root / "compose-worker.lock").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None

        def sample() -> None:
            pid = worker_pid()
            while not stop.is_set():
                if pid is None:
                    pid = worker_pid()
                kids: list[str] = []
                with contextlib.suppress(OSError):
                    for t in os.listdir(f"/proc/{pid}/task"):
                        kids += Path(f"/proc/{pid}/task/{t}/children").read_text().split()
                for k in kids:
                    with contextlib.suppress(OSError, ValueError):
                        for line in Path(f"/proc/{k}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                peak["hwm_kb"] = max(peak["hwm_kb"], int(line.split()[1]))
                        priv = 0
                        for line in Path(f"/proc/{k}/smaps_rollup").read_text().splitlines():
                            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                                priv += int(line.split()[1])
                        peak["private_kb"] = max(peak["private_kb"], priv)
                time.sleep(0.005)
        th = threading.Thread(target=sample, daemon=True)
        th.start()

        def done() -> dict[str, int]:
            stop.set()
            th.join()
            return peak
        return done


class DockerCompose(Tool):
    name = "docker-compose"

    def setup(self, busybox_tar: Path) -> None:
        ensure_apt(["docker.io", "docker-compose"])
        d = self.work / "docker"
        d.mkdir(parents=True, exist_ok=True)
        self.sock = d / "docker.sock"
        self.pidfile = d / "docker.pid"
        self.log = open(d / "dockerd.log", "w")  # noqa: SIM115 - closed in teardown
        self.proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-masq=false", "--data-root", str(d / "data"),
             "--exec-root", str(d / "exec"), "-H", f"unix://{self.sock}",
             "--pidfile", str(self.pidfile), "--bip", "10.212.0.1/24",
             "--default-address-pool", "base=10.213.0.0/16,size=24"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        self.env["DOCKER_HOST"] = f"unix://{self.sock}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sh(["docker", "info"], env=self.env, check=False).returncode == 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited; see {d / 'dockerd.log'}")
            time.sleep(0.5)
        else:
            raise RuntimeError("dockerd did not answer within 60 s")
        sh(["docker", "import", str(busybox_tar), IMAGE], env=self.env)

    def up(self, folder: Path, project: str) -> list[str]:
        return ["docker-compose", "-p", project, "up", "-d"]

    def down(self, folder: Path, project: str) -> list[str]:
        return ["docker-compose", "-p", project, "down", "-t", "0"]

    def teardown(self) -> None:
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(Exception):
            self.log.close()


class PodmanCompose(Tool):
    name = "podman-compose"

    def setup(self, busybox_tar: Path) -> None:
        ensure_apt(["podman"])
        venv = self.work / "peers-venv"
        if not (venv / "bin" / "podman-compose").exists():
            sh([sys.executable, "-m", "venv", str(venv)])
            sh([str(venv / "bin" / "pip"), "install", "-q", "podman-compose"])
        self.bin = str(venv / "bin" / "podman-compose")
        # storage, network config, runtime and rlimits of the bench's own (peers.py)
        self.peers = contextlib.ExitStack()
        pm = self.peers.enter_context(podman(self.work))
        if pm is None:
            raise RuntimeError("podman is not installed")
        self.env.update(pm.env)
        sh(["podman", "import", str(busybox_tar), IMAGE], env=self.env)

    def up(self, folder: Path, project: str) -> list[str]:
        return [self.bin, "-p", project, "up", "-d"]

    def down(self, folder: Path, project: str) -> list[str]:
        return [self.bin, "-p", project, "down", "-t", "0"]

    def teardown(self) -> None:
        self.peers.close()  # podman system reset of its storage, what it left unmounted


def ensure_apt(packages: list[str]) -> None:
    missing = [p for p in packages
               if "ok installed" not in sh(["dpkg-query", "-W", "-f=${Status}", p],
                                           check=False).stdout]
    if not missing:
        return
    policy = Path("/usr/sbin/policy-rc.d")
    made = not policy.exists()
    if made:  # no service of these packages is started on the system while installing
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env,
           timeout=1800)
    finally:
        if made:
            policy.unlink()


# -- measuring ------------------------------------------------------------------------
def timed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
          ) -> tuple[float, int]:
    """(seconds, peak RSS in KiB of the command itself) via GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], cwd=cwd,
                           env=env, text=True, capture_output=True, timeout=timeout)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} in {cwd} failed ({r.returncode}):\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        rss = int((tf.read().strip().splitlines() or ["0"])[-1])
    return dt, rss


def case(tool: Tool, text: str, label: str, runs: int, results: dict[str, dict[str, float]],
         rss: dict[str, dict[str, float]]) -> None:
    folder = tool.work / "projects" / f"{tool.name}-{label}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(text)
    project = f"pcb{label.replace(' ', '')}"
    samples, ups, rss_samples = [], [], []
    child: list[dict[str, int]] = []
    # one round first, not counted: every tool's daemon, caches and (for pycompose)
    # the warm worker are then as a user's second command finds them
    timed(tool.up(folder, project + "w"), folder, tool.env)
    timed(tool.down(folder, project + "w"), folder, tool.env)
    for _ in range(runs):
        sampler = tool.worker_child_memory() if isinstance(tool, Pycompose) else None
        t_up, r_up = timed(tool.up(folder, project), folder, tool.env)
        if sampler is not None:
            child.append(sampler())
        t_down, _ = timed(tool.down(folder, project), folder, tool.env)
        samples.append(t_up + t_down)
        ups.append(t_up)
        rss_samples.append(r_up)
    results.setdefault(label, {})[tool.name] = statistics.median(samples)
    results.setdefault(f"{label} (up alone)", {})[tool.name] = statistics.median(ups)
    rss.setdefault(label, {})[tool.name] = max(rss_samples) / 1024
    if child:
        rss.setdefault(f"{label}: pycompose's command in the worker, peak RSS", {})[
            tool.name] = max(c["hwm_kb"] for c in child) / 1024
        rss.setdefault(f"{label}: ... of which its own (unshared) pages", {})[
            tool.name] = max(c["private_kb"] for c in child) / 1024


def _stop_pid_in(lock: Path, timeout: float = 20) -> None:
    """SIGTERM the process whose pid ``lock`` holds (this bench's own supervisor or
    worker, of this bench's state root), and wait until it is gone."""
    try:
        pid = int(lock.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def cold_case(tool: Pycompose, n: int, runs: int, results: dict[str, dict[str, float]]
              ) -> None:
    """``up -d`` + ``down`` of ``n`` services with pycompose's supervisor, and then also
    its warm worker, stopped first: the first command after they left idle (the
    peers' daemons never leave, so the row is pycompose's alone)."""
    folder = tool.work / "projects" / f"{tool.name}-cold{n}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(services(n))
    for label, locks in ((f"{n} services, the engine stopped first", ["supervisor.lock"]),
                         (f"{n} services, the engine and the worker stopped first",
                          ["supervisor.lock", "compose-worker.lock"])):
        samples = []
        for _ in range(runs):
            for lock in locks:
                _stop_pid_in(tool.root / lock)
            t_up, _ = timed(tool.up(folder, "pcbcold"), folder, tool.env)
            t_down, _ = timed(tool.down(folder, "pcbcold"), folder, tool.env)
            samples.append(t_up + t_down)
        results.setdefault(label, {})[tool.name] = statistics.median(samples)


def table(rows: dict[str, dict[str, float]], names: list[str], unit: str) -> str:
    head = f"| | {' | '.join(names)} | {' | '.join(f'{n} / pycompose' for n in names[1:])} |"
    out = [head, "|" + "---|" * (1 + 2 * len(names) - 1)]
    for label, vals in rows.items():
        cells = [f"{vals[n]:.2f} {unit}" if n in vals else "-" for n in names]
        base = vals.get("pycompose")
        ratios = [f"{vals[n] / base:.1f}x" if base and n in vals else "-" for n in names[1:]]
        out.append(f"| {label} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", action="append", default=[],
                    choices=["pycompose", "docker-compose", "podman-compose"])
    ap.add_argument("--work", default="/tmp/pycompose-bench-peers")
    ap.add_argument("--sizes", default="1,10,30")
    ap.add_argument("--baseline", metavar="PYCOMPOSE",
                    help="another pycompose's binary (e.g. main's .venv/bin/pycompose), "
                         "measured in the same run as 'pycompose (baseline)'")
    ap.add_argument("--no-cold", dest="cold", action="store_false",
                    help="skip pycompose's rows with its supervisor (and worker) stopped "
                         "first")
    ap.add_argument("--checkout", action="store_true",
                    help="measure the checkout's editable install, not an installed copy")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "tests"))
    from pctest.images import make_busybox_rootfs_tar

    tar = make_busybox_rootfs_tar(work / "busybox.tar")
    tools: list[Tool] = [cls(work) for cls in (Pycompose, DockerCompose, PodmanCompose)
                         if not args.only or cls.name in args.only]
    if not args.checkout:  # pycompose as a user installs it (bench/installed.py)
        from installed import installed

        shutil.rmtree(work / "pycompose-installed", ignore_errors=True)  # this code's
        tools = [Pycompose(work, str(installed(work))) if isinstance(t, Pycompose) else t
                 for t in tools]
    if args.baseline:
        tools.insert(1, Pycompose(work, args.baseline, "pycompose (baseline)"))
    results: dict[str, dict[str, float]] = {}
    rss: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    try:
        for tool in tools:
            try:
                tool.setup(tar)
            except Exception as e:  # a peer that cannot run here is reported, not fatal
                print(f"{tool.name}: setup failed: {e}", file=sys.stderr)
                tool.name = f"{tool.name} (setup failed)"
                continue
            for n in (int(x) for x in args.sizes.split(",")):
                try:
                    case(tool, services(n), f"{n} service{'s' if n > 1 else ''}", args.runs,
                         results, rss)
                except Exception as e:
                    print(f"{tool.name}: {n} services: {e}", file=sys.stderr)
            try:
                case(tool, chain(), "5-chain service_healthy 1s", args.runs, results, rss)
            except Exception as e:
                print(f"{tool.name}: chain: {e}", file=sys.stderr)
            if isinstance(tool, Pycompose) and args.cold:
                try:
                    cold_case(tool, max(int(x) for x in args.sizes.split(",")), args.runs,
                              results)
                except Exception as e:
                    print(f"{tool.name}: cold: {e}", file=sys.stderr)
    finally:
        for tool in tools:
            with contextlib.suppress(Exception):
                tool.teardown()
    names = [t.name for t in tools if "failed" not in t.name]
    print(f"## up -d then down, medians of {args.runs} (load average {load:.1f} at start, "
          f"{os.cpu_count()} cores)\n")
    print(table(results, names, "s"))
    print("\n## client peak RSS during up (MiB)\n")
    print(table(rss, names, "MiB"))
    out = work / "results.json"
    out.write_text(json.dumps({"times": results, "rss_mib": rss}, indent=2))
    print(f"\n(raw: {out})")
    shutil.rmtree(work / "projects", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
