"""Which state root each root id names, so that a root's kernel objects outlive it
in no case.

Kernel objects are named by a root's six-hex id (``pycompose/<id>/<cid>`` cgroups,
``pc-<id>-...`` namespaces, ``pc<id>...`` links, ``pycompose_<id>`` nft tables). The
supervisor of a root removes them when its containers go, and a new supervisor what a
killed one left; but when a root is deleted after its supervisor died (a CI workspace
or a test's folder removed, ``rm -rf`` of a state root after a crash), no supervisor
comes for it again, and the id alone does not say whose objects they were. Each
supervisor notes its root here (``/run/pycompose/roots/<id>``: the root's path; /run is
a tmpfs, gone with the kernel objects at reboot), and at its start sweeps the objects
of noted roots whose folder no longer exists. Root only: a rootless root has no
machine-wide cgroups or namespaces to leave.

Standard library only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .fs import atomic_write
from .paths import root_id

REGISTRY = Path("/run/pycompose/roots")


def note(root: Path, registry: Path = REGISTRY) -> None:
    """Remember which path ``root``'s id names (idempotent, a stat when noted)."""
    if os.geteuid() != 0:
        return
    path = str(root.absolute())
    entry = registry / root_id(root)
    with contextlib.suppress(OSError):
        if entry.read_text() == path:
            return
    atomic_write(entry, path.encode(), sync=False, sync_new=False)  # /run: a tmpfs


def vanished(registry: Path = REGISTRY) -> list[str]:
    """The ids of noted roots whose folder is gone."""
    try:
        names = sorted(os.listdir(registry))
    except FileNotFoundError:
        return []
    gone = []
    for rid in names:
        if rid.startswith("."):
            continue
        try:
            path = (registry / rid).read_text()
        except OSError:
            continue
        if path and not os.path.isdir(path):
            gone.append(rid)
    return gone


def forget(rid: str, registry: Path = REGISTRY) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(registry / rid)
