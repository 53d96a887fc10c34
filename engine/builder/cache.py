"""The layer cache: a step whose inputs are unchanged reuses the layer it made before.

A key is the sha256 of everything that decides a layer's content:

- the parent: the chain id of the layers below and the key of the step that made the
  top one (:attr:`State.parent_key`: a changed instruction runs every later step again,
  as docker's cache, even when its layer comes out the same); ``--link`` copies have
  none: their layer does not depend on what is under it;
- the step as it will run: for RUN the argv (through SHELL), the environment (ENV and the
  build args in scope: "the build args in use"), user, working directory, the mounts
  (types, targets, the bound stages' chain ids; not a cache mount's or a secret's
  content, as BuildKit) and the network mode; for COPY/ADD the destination, ownership,
  mode and flags;
- the inputs: the content digest of every file COPY/ADD reads (:mod:`.context`), of a
  stage's files by its chain id, of a downloaded URL by its bytes.

So a no-change rebuild runs nothing, and changing one copied file changes that COPY's
key, hence its layer's chain id, hence the key of every later step: exactly the steps
from that COPY on run again.

Records are image-store holds (``$ROOT/images/holds/build-<key>.json``, root-only,
written atomically after the layer is stored): garbage collection keeps their layers, a
crash leaves either no record or a complete one, and ``builder prune`` releases them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pycompose.util.records import record

from ..images.layerstore import LayerRef
from ..images.store import ImageStore

#: bump when the meaning of a key changes, so old records are never misread
VERSION = 1
PREFIX = "build-"
#: a layer's history comment: what made it (the first 64 bits of its key, enough to
#: tell steps apart), for ``--cache-from`` on another machine
COMMENT = "pycompose.build.v1 "
SHORT = 16


def comment(k: str) -> str:
    return COMMENT + k[:SHORT]


def key(op: str, parent: str | None, **inputs: Any) -> str:
    """The cache key of one step (hex)."""
    payload = {"v": VERSION, "op": op, "parent": parent, **inputs}
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


@record(frozen=True)
class Hit:
    """A cached layer and the history facts of when it was first made."""

    layer: LayerRef
    created: str
    author: str


class Cache:
    """Cache records in ``store``; ``enabled=False`` (``--no-cache``) never reads one
    but still writes, so the next build can use what this one made."""

    def __init__(self, store: ImageStore, *, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        #: layers of ``--cache-from`` images by the key recorded in their history
        self.sources: dict[str, Hit] = {}

    def add_source(self, image: Any) -> int:
        """Use the layers of ``image`` (built by pycompose anywhere: its history notes
        each layer's key) as cache; how many keys it brought."""
        layers = list(image.layers)
        i = 0
        n = 0
        for h in image.history:
            if h.get("empty_layer"):
                continue
            if i >= len(layers):
                break
            comment = str(h.get("comment") or "")
            if comment.startswith(COMMENT):
                key_hex = comment[len(COMMENT):].strip()
                if key_hex and self.store.has_layer(layers[i].chain_id):
                    self.sources[key_hex[:SHORT]] = Hit(layers[i], str(h.get("created") or ""),
                                                str(h.get("author") or ""))
                    n += 1
            i += 1
        return n

    def get(self, k: str, parent_chain: str | None) -> Hit | None:
        if not self.enabled:
            return None
        rec = self.store.held(PREFIX + k)
        if rec is None:
            src = self.sources.get(k[:SHORT])
            if src is not None:
                from ..images.layout import chain_id

                if chain_id(parent_chain, src.layer.diff_id) == src.layer.chain_id:
                    return src
            return None
        data = rec.get("data") or {}
        try:
            layer = LayerRef(str(data["digest"]), int(data["size"]), str(data["media_type"]),
                             str(data["diff_id"]), str(data["chain_id"]))
        except (KeyError, TypeError, ValueError):
            return None
        from ..images.layout import chain_id

        if chain_id(parent_chain, layer.diff_id) != layer.chain_id:
            return None  # a --link layer recorded on another parent: unpack it again
        if not self.store.has_layer(layer.chain_id) or not self.store.has_layer_blob(layer):
            return None  # removed by hand: make it again
        return Hit(layer, str(data.get("created") or ""), str(data.get("author") or ""))

    def put(self, k: str, below: list[LayerRef], layer: LayerRef, *, created: str,
            author: str) -> None:
        """Record ``layer`` (on top of ``below``) as the result of step ``k``. Call
        inside ``store.writing()``, after the layer was added."""
        chain = [*below, layer]
        self.store.hold(PREFIX + k, blobs=[ly.digest for ly in chain],
                        chains=[ly.chain_id for ly in chain],
                        data={"digest": layer.digest, "size": layer.size,
                              "media_type": layer.media_type, "diff_id": layer.diff_id,
                              "chain_id": layer.chain_id, "created": created,
                              "author": author})

    def blob_for(self, k: str) -> LayerRef | None:
        """The layer a ``--link`` step made before, whatever it was put on."""
        rec = self.store.held(PREFIX + k)
        data = (rec or {}).get("data") or {}
        if not data:
            return None
        try:
            layer = LayerRef(str(data["digest"]), int(data["size"]), str(data["media_type"]),
                             str(data["diff_id"]), str(data["chain_id"]))
        except (KeyError, TypeError, ValueError):
            return None
        return layer if self.store.has_layer_blob(layer) else None


def prune(store: ImageStore) -> int:
    """Release every build cache record (and the images RUN steps ran in); the layers
    go with the next garbage collection. Returns how many records were released."""
    n = 0
    for name, rec in list(store.holds()):
        if name.startswith(PREFIX) or (name.startswith("image-") and
                                       (rec.get("data") or {}).get("build")):
            store.release(name)
            n += 1
    return n
