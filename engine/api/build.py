"""Builds, for front ends: a Dockerfile and a context into an image (``engine/build``).

::

    from pycompose.engine.api.build import BuildRequest, build, events
    result = build(BuildRequest(context=Path("."), tags=["app"]), emit=render)

``emit`` gets the typed progress events of :mod:`.events` (``StepStarted``,
``StepOutput``, ``StepCached``, ``StepDone``, ``StepFailed``, ``Note``, ``Finished``);
the builder never prints.
"""

from __future__ import annotations

import os

from ..build import BuildRequest, BuildResult, Emit, Event, Secret, build, events

__all__ = ["BuildRequest", "BuildResult", "Emit", "Event", "Secret", "build", "cache_usage",
           "events", "host_platform_name", "prune_cache"]


def host_platform_name() -> str:
    """``linux/amd64``: the only platform this builder makes images for."""
    from ..build.plan import host_platform

    p = host_platform()
    return f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant") else "")


def cache_usage(root: object = None) -> tuple[int, int]:
    """(records, bytes) of the build cache: its layer records and cache mounts, and the
    disk the layers only it keeps and the cache mounts use (all reclaimable)."""
    from pathlib import Path

    from pycompose.util.paths import state_root

    from ..build import cache as C
    from ..images import ImageStore

    base = Path(str(root)) if root is not None else state_root()
    store = ImageStore(base)
    used = {c for im in store.images() for c in im.chain_ids}
    chains: set[str] = set()
    records = 0
    for name, rec in store.holds():
        if name.startswith(C.PREFIX) or (rec.get("data") or {}).get("build"):
            records += 1
            chains.update(str(c) for c in rec.get("chains") or [])
    size = sum(store.layer_size(c) for c in chains - used)
    mounts = base / "build" / "cache"
    if mounts.is_dir():
        for d in mounts.iterdir():
            if d.is_dir() and not d.name.startswith("."):
                records += 1
                for dirpath, _dirs, files in os.walk(d):
                    for f in files:
                        try:
                            size += os.lstat(os.path.join(dirpath, f)).st_size
                        except OSError:
                            continue
    return records, size


def prune_cache(root: object = None) -> tuple[int, int]:
    """Drop the build cache (layer records, RUN images, cache mounts) and collect what
    no image uses any more; (records released, cache mounts removed)."""
    from pathlib import Path

    from pycompose.util.paths import state_root

    from ..build.cache import prune
    from ..build.workspace import prune_cache_mounts
    from ..images import ImageStore
    from ..images.gc import gc

    base = Path(str(root)) if root is not None else state_root()
    store = ImageStore(base)
    n = prune(store)
    gc(store)
    return n, prune_cache_mounts(base)
