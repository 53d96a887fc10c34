"""Cleaning the image store: what killed processes left (recover) and what no image
names any more (gc).

recover() runs at the start of every write and is cheap: it removes tmp/ entries whose
flock is free (their process is dead) and, when no other writer holds the store, the
temporary files an interrupted atomic write left. gc() removes blobs, unpacked layers
and links that no image in index.json names; it holds gc.lock exclusively, so it waits
for writers and never races a half-registered image.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EngineError
from .layout import chain_id, digest_hex, link_name
from .recovery import recover, remove_tree

_remove = remove_tree

log = logging.getLogger("pycompose.images")

if TYPE_CHECKING:
    from .store import ImageStore


@dataclass
class GcResult:
    blobs: int = 0
    layers: int = 0
    reclaimed: int = 0  # bytes
    #: why layers were kept that might have gone (a record gc could not read)
    kept_in_doubt: list[str] = field(default_factory=list)


def _layers_of_containers(store: ImageStore) -> tuple[set[str], list[str]]:
    """The layer directories (chain hex) every container's overlay stacks, read from
    the records' ``LowerDir`` (the truth the kernel mounts, whatever the images say),
    and the records that could not be read: a collector in doubt keeps."""
    keep: set[str] = set()
    doubt: list[str] = []
    links = os.path.realpath(store.links)
    layers = os.path.realpath(store.layers_dir)
    for state in (store.root / "containers").glob("*/state.json"):
        try:
            with open(state) as f:
                rec = json.load(f)
            lower = str(rec["GraphDriver"]["Data"]["LowerDir"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            doubt.append(f"{state}: {e}")
            continue
        for d in lower.split(":"):
            real = os.path.realpath(d if os.path.isabs(d) else os.path.join(links, "..", d))
            parent, name = os.path.split(os.path.dirname(real) if
                                         os.path.basename(real) == "diff" else real)
            if parent == layers:
                keep.add(name)
            elif os.path.dirname(parent) == layers:
                keep.add(os.path.basename(parent))
    return keep, doubt


def _du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def gc(store: ImageStore, *, wait: bool = True) -> GcResult:
    """Remove blobs, layers and links no registered image names. ``wait=False``: do
    nothing if another process is writing (used to tidy up after a failed load)."""
    res = GcResult()
    if not store.images_dir.exists():
        return res
    store.ensure_layout()
    fd = os.open(store.images_dir / "gc.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return res
        keep_blobs: set[str] = set()
        keep_chains: set[str] = set()
        for im in store.images():
            keep_blobs.add(digest_hex(im.manifest_digest))
            keep_blobs.add(digest_hex(im.id))
            keep_blobs.update(digest_hex(ly.digest) for ly in im.layers)
            keep_chains.update(digest_hex(c) for c in im.chain_ids)
        # What a hold keeps (the build cache's layers and the images its steps run in)
        for _name, rec in store.holds():
            keep_blobs.update(digest_hex(b) for b in rec.get("blobs") or [])
            keep_chains.update(digest_hex(c) for c in rec.get("chains") or [])
        # An image removed with -f while a container uses it: its config and layers stay
        # until no container does (the container's overlay still has them as lowerdirs).
        for image_id in store.image_in_use:
            keep_blobs.add(digest_hex(image_id))
            try:
                cfg = json.loads(store.read_blob(image_id))
            except (OSError, ValueError, EngineError) as e:
                # its layers are still kept below, from the container's own record
                log.warning("gc: config of in-use image %s unreadable (%s)", image_id, e)
                continue
            chain: str | None = None
            for diff in (cfg.get("rootfs") or {}).get("diff_ids") or []:
                chain = chain_id(chain, diff)
                keep_chains.add(digest_hex(chain))
        in_use, doubt = _layers_of_containers(store)
        keep_chains |= in_use
        res.kept_in_doubt = doubt
        for name in os.listdir(store.layers_dir) if not doubt else []:
            if name in keep_chains:
                continue
            path = os.path.join(store.layers_dir, name)
            try:
                with open(os.path.join(path, "layer.json")) as f:
                    link = json.load(f).get("link") or link_name("sha256:" + name)
            except (OSError, ValueError):
                link = link_name("sha256:" + name) if len(name) == 64 else ""
            res.reclaimed += _du(path)
            if link:
                _remove(os.path.join(store.links, link))
            # rename first: a crash mid-delete leaves only tmp/ garbage, never a layer
            # directory that looks complete but is not
            trash = os.path.join(store.tmp, f"gc-{os.getpid()}-{name}")
            try:
                os.rename(path, trash)
            except OSError:
                trash = path
            _remove(trash)
            res.layers += 1
        for name in os.listdir(store.blobs) if not doubt else []:
            if name in keep_blobs or name.startswith("."):
                continue
            path = os.path.join(store.blobs, name)
            with contextlib.suppress(OSError):
                res.reclaimed += os.lstat(path).st_size
            _remove(path)
            res.blobs += 1
        for name in os.listdir(store.links):  # links whose layer is gone
            path = os.path.join(store.links, name)
            if os.path.islink(path) and not os.path.exists(path):
                _remove(path)
        recover(store, exclusive=True)
    finally:
        os.close(fd)
    return res
