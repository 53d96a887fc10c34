"""Layers unpacked when a container first needs them, from blobs already in the store.

A pull stores each layer's compressed blob (its sha256 checked as it arrived) and
registers the image; it does not unpack (what skopeo does, and containerd's ``content
fetch``). The layer's directory under ``layers/`` is made here, by whoever needs it
first: a container's create (its overlay's lowerdirs), a build's ``FROM``, ``image
inspect``, a copy out of the image. Why: on this 2-core machine, unpacking the five
20 MB layers of bench/registry_pull.py (inflate, sha256 of the tar, 100 MB of files
written through the confined unpacker) costs twice the CPU of fetching them, so a pull
that unpacked could not come near skopeo's time (issue 14's target); a pull that is
followed by a run pays the same work either way, but a pull that is not (a CI cache
warm-up, ``compose pull``, pulling for a later push) pays nothing it does not use.

What stays the same, only later: every check of the unpacker (the tar's sha256 against
the config's diff_id, paths confined to the layer, whiteouts, no overlay xattrs from the
archive) runs on the first unpack, and a failure names the image and the layer, as the
pull would have. A layer is unpacked under ``tmp/`` and renamed into ``layers/`` when
complete (store.unpack_blob), so no reader ever sees half a layer, whoever is killed
when; ``unpack-<chain>.lock`` (an flock) makes a second process or thread that needs
the same layer wait for the first rather than unpack it again. The blob is not hashed
again: it was checked when it was stored, and blobs are written atomically.

Layers do not depend on each other to unpack (a chain ID names where a layer sits in
the stack, not what it holds), so an image's missing layers unpack side by side, one
thread each (inflate, hashing and file writes release the GIL).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pycompose.util.fs import lock_file

from .layerstore import LayerRef, LayerStore


class StoredImage(Protocol):
    """What unpacking needs of an image of the store (``image.Image`` is one)."""

    @property
    def store(self) -> LayerStore | None: ...
    @property
    def layers(self) -> list[LayerRef]: ...
    @property
    def repo_tags(self) -> list[str]: ...
    @property
    def short_id(self) -> str: ...


def pending(store: LayerStore, layers: Sequence[LayerRef]) -> list[tuple[int, LayerRef]]:
    """The layers (by index, bottom first) whose directory is not unpacked yet."""
    return [(i, ly) for i, ly in enumerate(layers) if not store.has_layer(ly.chain_id)]


def ensure_unpacked(store: LayerStore, layers: Sequence[LayerRef], *, name: str = "",
                    workers: int | None = None) -> int:
    """Unpack every layer of ``layers`` (an image's, bottom first) that is not, from its
    blob; wait for one another process is unpacking. Returns how many this call
    unpacked. ``name`` (the image) goes into error messages with the layer's id."""
    todo = pending(store, layers)
    if not todo:
        return 0
    root = store.root
    jobs = [(ly, layers[i - 1].chain_id if i else None) for i, ly in todo]

    def one(job: tuple[LayerRef, str | None]) -> bool:
        ly, parent = job
        # a store per thread: its writer count and gc.lock fd are not shared
        return unpack_layer(_store(root), ly, parent, what=_what(ly, name))

    n = min(len(jobs), workers or os.cpu_count() or 2)
    if n <= 1:
        return sum(one(j) for j in jobs)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n, thread_name_prefix="pycompose-unpack") as pool:
        futures = [pool.submit(one, j) for j in jobs]
        done = 0
        first: BaseException | None = None
        for f in futures:  # wait for all: none is left writing when the error is told
            try:
                done += f.result()
            except BaseException as e:
                first = first or e
        if first is not None:
            raise first
        return done


def ensure_image_unpacked(image: StoredImage) -> int:
    """:func:`ensure_unpacked` for an image of the store."""
    assert image.store is not None
    name = image.repo_tags[0] if image.repo_tags else image.short_id
    return ensure_unpacked(image.store, image.layers, name=name)


def unpack_layer(store: LayerStore, layer: LayerRef, parent: str | None, *,
                 what: str) -> bool:
    """Unpack ``layer``'s blob as its chain (on ``parent``) unless it is there; True
    if this call did it."""
    if store.has_layer(layer.chain_id):
        return False
    with store.writing(), chain_lock(store.tmp, layer.chain_id):
        if store.has_layer(layer.chain_id):  # another unpacked it while we waited
            return False
        store.unpack_blob(layer.digest, parent, layer.diff_id, what=what)
        return True


def chain_lock(tmp: Path, chain: str) -> contextlib.AbstractContextManager[int]:
    """Hold ``tmp/unpack-<hex>.lock`` (an flock: it dies with its holder; removed on
    release, util.fs.lock_file; the store's recover() removes stale ones too)."""
    return lock_file(tmp / f"unpack-{chain.partition(':')[2]}.lock")


def _what(ly: LayerRef, name: str) -> str:
    short = ly.digest.partition(":")[2][:12]
    return f"layer {short} of {name}" if name else f"layer {short}"


def _store(root: Path) -> LayerStore:
    return LayerStore(root)
