#!/usr/bin/env python3
"""The kernel's floor under ``up -d`` + ``down`` of N services on this machine: what the
kernel operations one container needs cost at the least, done for N containers at once,
with no engine around them (bench/compose_vs_peers.py measures the engines).

Per container, in a forked process (as a launcher would), with ctypes and no exec:

- a cgroup in every v1 hierarchy pycompose uses (or the one v2 group), joined;
- ``unshare`` of mount, UTS, IPC, network and PID namespaces, and a fork into the new
  PID namespace (the container's PID 1);
- there: the mounts made private, an overlay mount of a small lower dir (busybox);
  then PID 1 waits, as a detached container does;

then, for all N at once, one ``ip -batch`` that makes a veth pair per container with
its inner end moved into the container's network namespace (the least an attachment
costs: one netlink conversation, no per-container process); and the removal: SIGKILL
to every PID 1 (their namespaces, overlay mount and inner veth end go with them),
``waitpid``, the cgroups' ``rmdir``, the work dirs.

Prints wall time per phase and in all, and the CPU seconds spent (this process and its
children), medians of ``--runs``, for each ``--sizes``. The issue's target is 30
services in at most 1.5x the time of 1: if the 30-container floor alone is past half
the 1-service time of pycompose, the target cannot be met on this machine.

Run as root: ``.venv/bin/python bench/compose_floor.py [--sizes 1,10,30] [--runs 5]``.
Everything it makes is named ``pcfloor-<pid>-...`` and removed at the end.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWNET, CLONE_NEWPID = 0x40000000, 0x20000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_SET_CHILD_SUBREAPER = 36

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def hierarchies() -> list[Path]:
    """One mountpoint per cgroup hierarchy with controllers (v1), or the v2 root."""
    out, seen = [], set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fstype, _src, opts = post.split()[:3]
        mnt = Path(pre.split()[4])
        if fstype == "cgroup2" and str(mnt) == "/sys/fs/cgroup":
            return [mnt]
        if fstype == "cgroup":
            ctrls = frozenset(o for o in opts.split(",") if o in {
                "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio"})
            if ctrls and ctrls not in seen:
                seen.add(ctrls)
                out.append(mnt)
    return out


def container(i: int, tag: str, work: Path, lower: Path, cgroups: list[Path],
              report: int) -> None:
    """In the forked launcher: cgroups, namespaces, PID 1, overlay; PID 1's pid is
    written to ``report`` once its mount is made. Never returns."""
    try:
        for h in cgroups:
            g = h / tag / str(i)
            g.mkdir()
            if (h / "cpuset.cpus").exists():  # v1 cpuset: empty until copied
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (g / f).write_text((h / tag / f).read_text())
            (g / "cgroup.procs").write_text(str(os.getpid()))
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
                            | CLONE_NEWPID), "unshare")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # PID 1 of the new namespace
            os.close(r)
            os.close(report)  # or the bench would never see the report's end
            _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make private")
            d = work / str(i)
            opts = f"lowerdir={lower},upperdir={d}/upper,workdir={d}/work".encode()
            _check(libc.mount(b"overlay", str(d / "merged").encode(), b"overlay", 0, opts),
                   "overlay")
            os.write(w, b"x")
            os.close(w)
            signal.pause()
            os._exit(0)
        os.close(w)
        os.read(r, 1)  # PID 1 is set up
        os.write(report, f"{pid}\n".encode())
        os._exit(0)  # PID 1 goes to the bench (a child subreaper), as to a supervisor
    except BaseException as e:
        os.write(2, f"container {i}: {e}\n".encode())
        os._exit(1)


_RUNS = [0]


def one_run(n: int, work: Path, lower: Path, cgroups: list[Path]) -> dict[str, float]:
    tag = f"pcfloor-{os.getpid()}"
    for k in range(n):
        for sub in ("upper", "work", "merged"):
            (work / str(k) / sub).mkdir(parents=True, exist_ok=True)
    for h in cgroups:  # the parent group (as pycompose/<root id> is, made once)
        (h / tag).mkdir(exist_ok=True)
        if (h / "cpuset.cpus").exists():
            for f in ("cpuset.cpus", "cpuset.mems"):
                (h / tag / f).write_text((h / f).read_text())
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rc0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r, w = os.pipe()
    launchers = []
    for k in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            container(k, tag, work, lower, cgroups, w)
        launchers.append(pid)
    os.close(w)
    pid1s: list[int] = []
    try:
        for pid in launchers:
            _, status = os.waitpid(pid, 0)
            if status:
                raise RuntimeError("a launcher failed (see above)")
        with os.fdopen(r) as f:
            pid1s = [int(x) for x in f.read().split()]
        t1 = time.perf_counter()
        # host ends named by this process and this run: a killed namespace's veth goes
        # a moment later (the kernel cleans namespaces up in the background), so the
        # next run's names must differ (at most 15 characters)
        _RUNS[0] += 1
        host = f"pf{os.getpid()}{_RUNS[0]}"
        batch = "".join(f"link add {host}-{k} type veth peer name eth0 netns {p}\n"
                        f"link set {host}-{k} up\n" for k, p in enumerate(pid1s))
        r_ip = subprocess.run(["ip", "-batch", "-"], input=batch, text=True,
                              capture_output=True)
        if r_ip.returncode:
            raise RuntimeError(f"ip -batch failed: {r_ip.stderr.strip()}")
        t2 = time.perf_counter()
    finally:  # the removal, also after a failure: nothing of this run is left
        for p in pid1s:
            os.kill(p, signal.SIGKILL)
        for p in pid1s:
            os.waitpid(p, 0)
        for h in cgroups:
            for k in range(n):
                for _ in range(100):  # a killed group empties a moment after its last exit
                    try:
                        (h / tag / str(k)).rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.001)
        t3 = time.perf_counter()
        for h in cgroups:
            try:
                (h / tag).rmdir()
            except OSError as e:
                print(f"left {h / tag}: {e}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    rc1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(b, f) - getattr(a, f) for a, b in ((ru0, ru1), (rc0, rc1))
              for f in ("ru_utime", "ru_stime"))
    # the veth's host ends went with the namespaces; ip's own CPU is in RUSAGE_CHILDREN
    return {"namespaces+cgroups+overlay": t1 - t0, "veth pairs": t2 - t1,
            "removal": t3 - t2, "total": t3 - t0, "cpu (s)": cpu}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,30")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default=f"/tmp/pcfloor-{os.getpid()}")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    base = Path(args.work)
    lower = base / "lower"
    (lower / "bin").mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/sh"
    shutil.copy(busybox, lower / "bin" / "busybox")
    cgroups = hierarchies()
    rows: dict[int, dict[str, float]] = {}
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            samples = [one_run(n, base / "c", lower, cgroups) for _ in range(args.runs)]
            rows[n] = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load = os.getloadavg()[0]
    keys = list(next(iter(rows.values())))
    print(f"## kernel floor of N containers at once, medians of {args.runs} "
          f"({os.cpu_count()} cores, load average {load:.1f}, {len(cgroups)} cgroup "
          f"hierarchies)\n")
    print("| N | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for n, row in rows.items():
        print(f"| {n} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
