#!/usr/bin/env python3
"""A soak of logging under load: one container printing as fast as it can, a few that
keep exiting and coming back (``--restart always``, healthchecks every second, and a
``container restart`` from here now and then), for a few minutes. Every few seconds it
samples the supervisor's and the log keeper's RSS and open fds, and the disk the logs
take. What must hold: RSS and fds flat (no leak per restart, per healthcheck, per
rotation), and the disk bounded by the rotation (max-file x max-size per container),
however much is written.

Run as root: .venv/bin/python bench/logs_soak.py [--minutes 3] [--restarting 3]
    [--max-size 20m --max-file 5]   (the default rotation; smaller to rotate faster)
    [--compress]
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


def pid_of(lock: Path) -> int | None:
    try:
        pid = int(lock.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def rss_kib(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds(pid: int | None) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd")) if pid else 0
    except OSError:
        return 0


def log_bytes(root: Path) -> tuple[int, int]:
    """(bytes of log files on disk, how many files)."""
    total = n = 0
    for dirpath, _dirs, names in os.walk(root / "containers"):
        for name in names:
            if "json.log" in name or name.startswith("container.log"):
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
                    n += 1
                except OSError:
                    pass
    return total, n


def cli(*args: str, check: bool = True) -> str:
    r = subprocess.run([PYCOMPOSE, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode:
        raise SystemExit(f"pycompose {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--restarting", type=int, default=3)
    ap.add_argument("--max-size", default="20m")
    ap.add_argument("--max-file", default="5")
    ap.add_argument("--compress", action="store_true", help="compress rotated files")
    ap.add_argument("--keep", action="store_true", help="keep the state root (and its "
                    "supervisor.log) for a look afterwards")
    ap.add_argument("--every", type=float, default=10, help="seconds between samples")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-soak-"))
    root = work / "state"
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    os.environ["PYCOMPOSE_SUPERVISOR_IDLE"] = "10"
    from pycompose.engine.logs.config import parse, parse_size

    opts = ["--log-opt", f"max-size={a.max_size}", "--log-opt", f"max-file={a.max_file}",
            "--log-opt", f"compress={'true' if a.compress else 'false'}"]
    per_container = int(a.max_file) * parse_size(a.max_size)
    parse(None, {"max-size": a.max_size, "max-file": a.max_file,
                 "compress": "true" if a.compress else "false"})  # refuse bad flags now
    try:
        tar = make_busybox_rootfs_tar(work / "bb.tar")
        cli("image", "import", str(tar), "busybox:latest")
        cli("container", "run", "-d", "--name", "chatty", *opts, "busybox", "sh", "-c",
            "yes 'a line of log output from a chatty service, as fast as it can go'")
        names = [f"flappy{i}" for i in range(a.restarting)]
        for n in names:
            cli("container", "run", "-d", "--name", n, "--restart", "always", *opts,
                "--health-cmd", "test -e /tmp/up", "--health-interval", "1s", "busybox",
                "sh", "-c", "touch /tmp/up; i=0; while [ $i -lt 30 ]; do echo $i; "
                "i=$((i+1)); sleep 0.1; done; echo bye >&2; exit 1")
        sup0 = pid_of(root / "supervisor.lock")
        print(f"soak: 1 chatty + {a.restarting} restarting containers for {a.minutes:g} min, "
              f"rotation {a.max_size} x {a.max_file} (bound {per_container * 4 / 1e6:.0f} MB "
              "of logs for the 4)")
        print(f"{'t (s)':>6} {'sup RSS MiB':>11} {'sup fds':>7} {'keeper RSS':>10} "
              f"{'keeper fds':>10} {'logs MB':>8} {'files':>5} {'restarts':>8}")
        t0 = time.monotonic()
        samples = []
        next_restart = 15.0
        turn = 0
        while (t := time.monotonic() - t0) < a.minutes * 60:
            sup, keeper = pid_of(root / "supervisor.lock"), pid_of(root / "logs.lock")
            used, nfiles = log_bytes(root)
            restarts = sum(int(cli("container", "inspect", "-f", "{{.RestartCount}}", n)
                               .strip() or 0) for n in names)
            row = (t, rss_kib(sup) / 1024, fds(sup), rss_kib(keeper) / 1024, fds(keeper),
                   used / 1e6, nfiles, restarts)
            samples.append(row)
            print(f"{row[0]:6.0f} {row[1]:11.1f} {row[2]:7d} {row[3]:10.1f} {row[4]:10d} "
                  f"{row[5]:8.1f} {row[6]:5d} {row[7]:8d}", flush=True)
            while time.monotonic() - t0 < min(t + a.every, a.minutes * 60):
                if time.monotonic() - t0 >= next_restart:
                    cli("container", "restart", "-t", "1", names[turn % len(names)],
                        check=False)
                    turn += 1
                    next_restart += 15
                time.sleep(0.5)
        sup1 = pid_of(root / "supervisor.lock")
        first, last = samples[min(2, len(samples) - 1)], samples[-1]  # after warm-up
        peak_disk = max(s[5] for s in samples)
        print(f"supervisor: {'the same process' if sup0 == sup1 else 'RESTARTED'}; RSS "
              f"{first[1]:.1f} -> {last[1]:.1f} MiB, fds {first[2]} -> {last[2]}")
        print(f"keeper: RSS {first[3]:.1f} -> {last[3]:.1f} MiB, fds {first[4]} -> {last[4]}")
        print(f"logs on disk: peak {peak_disk:.1f} MB (bound {per_container * 4 / 1e6:.0f} MB "
              f"plus one entry per file); {turn} restarts asked, {last[7]} by the policy")
    finally:
        ids = cli("container", "ls", "-aq", check=False).split()
        if ids:
            cli("container", "rm", "-f", *ids, check=False)
        from pycompose.engine import client

        try:
            client.request(root, {"op": "shutdown"}, start=False)
        except Exception as e:  # already gone: nothing to stop
            print(f"(shutdown: {e})", file=sys.stderr)
        time.sleep(1)
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
