"""Prove a test left nothing behind: mounts, network namespaces, links, cgroups and
processes that carry pycompose's marks (its state root path or root id)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Snapshot:
    mounts: frozenset[str]
    netns: frozenset[str]
    links: frozenset[str]
    cgroups: frozenset[str]
    processes: frozenset[str]

    def new_since(self, before: Snapshot) -> list[str]:
        out = []
        for field in ("mounts", "netns", "links", "cgroups", "processes"):
            for item in sorted(getattr(self, field) - getattr(before, field)):
                out.append(f"{field}: {item}")
        return out


def _mounts(marks: list[str]) -> frozenset[str]:
    found = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mountpoint = fields[4]
            if any(m in line for m in marks):
                found.add(mountpoint)
    return frozenset(found)


def _netns() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/run/netns"))
    except FileNotFoundError:
        return frozenset()


def _links() -> frozenset[str]:
    r = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
    return frozenset(line.split(":")[1].strip().split("@")[0]
                     for line in r.stdout.splitlines() if ":" in line)


def _cgroups(marks: list[str]) -> frozenset[str]:
    found = set()
    base = Path("/sys/fs/cgroup")
    for dirpath, dirnames, _ in os.walk(base):
        depth = len(Path(dirpath).relative_to(base).parts)
        if depth >= 4:
            dirnames.clear()
        # cgroups are named .../pycompose/<root_id>/<id>: the root id is the mark, so
        # another test run's (or another engineer's) cgroups are not counted here
        if any(m in dirpath for m in marks):
            found.add(dirpath)
    return frozenset(found)


def _processes(marks: list[str]) -> frozenset[str]:
    found = set()
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if any(m.encode() in environ for m in marks):
            found.add(f"{pid} {cmdline.decode(errors='replace')[:80]}")
    return frozenset(found)


def snapshot(marks: list[str]) -> Snapshot:
    """What the machine holds now that carries one of ``marks`` (paths, ids).

    Network namespaces and host links are named with the state root's id (netplug's
    names.py), so only those carrying a mark count: another test run's objects, made
    at the same time under another root, are not this test's leak."""
    def marked(names: frozenset[str]) -> frozenset[str]:
        return frozenset(n for n in names if any(m in n for m in marks))

    return Snapshot(_mounts(marks), marked(_netns()), marked(_links()), _cgroups(marks),
                    _processes(marks))
