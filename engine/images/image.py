"""An image of the store, read from its manifest and config blobs: what it is (id,
config, history, layers as chain IDs) and where its layers are (``lowerdirs()``, which
unpacks on first use a pulled layer that only has its blob yet).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineError
from . import layers as L
from .layerstore import LayerRef, LayerStore
from .layout import chain_id, digest_hex, link_name


@dataclass
class Image:
    """An image of the store. ``config`` is the OCI config's ``config`` section."""

    id: str
    manifest_digest: str
    manifest: dict[str, Any]
    oci_config: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)
    store: LayerStore | None = field(default=None, repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return self.oci_config.get("config") or {}

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def created(self) -> str:
        return str(self.oci_config.get("created") or "")

    @property
    def diff_ids(self) -> list[str]:
        return list((self.oci_config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_ids(self) -> list[str]:
        out: list[str] = []
        for d in self.diff_ids:
            out.append(chain_id(out[-1] if out else None, d))
        return out

    @property
    def layers(self) -> list[LayerRef]:
        """Bottom layer first."""
        descs = self.manifest.get("layers") or []
        return [LayerRef(d["digest"], int(d.get("size", 0)), d.get("mediaType", L.MEDIA_TAR),
                         diff, chain)
                for d, diff, chain in zip(descs, self.diff_ids, self.chain_ids, strict=False)]

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.oci_config.get("history") or [])

    def lowerdirs(self, *, relative: bool = False, ready: bool = True) -> list[str]:
        """Overlay lowerdirs, top layer first: short links ``<root>/images/l/XXXX``.

        ``relative=True`` gives ``l/XXXX``, for a mount made with the working directory
        at ``store.images_dir`` (as docker does) when even short absolute paths would
        overflow the mount option page (more than ~100 layers). ``ready=False`` only
        names them (``image inspect``): a pulled image's layers are unpacked when a
        container or a build first uses them, not when somebody looks at it.
        """
        store = self.store
        assert store is not None
        chains = list(reversed(self.chain_ids))
        for c in chains if ready else ():  # a damaged store fails here, by name
            link = store.links / link_name(c)
            if not link.is_dir():
                if not store.has_layer(c):
                    self._unpack_or_fail(c)
                with contextlib.suppress(FileExistsError):  # only the link was lost
                    os.symlink(f"../layers/{digest_hex(c)}/diff", link)
        base = "" if relative else str(store.images_dir) + "/"
        return [base + "l/" + n for n in [link_name(c) for c in chains] or ["EMPTY"]]

    def _unpack_or_fail(self, chain: str) -> None:
        """A layer not unpacked yet: unpack what is missing from the blobs (a pulled
        image's layers are unpacked on first use, unpacking.py); no blob either is a
        damaged store."""
        store = self.store
        assert store is not None
        missing = [ly for ly in self.layers if ly.chain_id == chain]
        if not missing or not store.has_blob(missing[0].digest):
            raise EngineError(f"image {self.short_id}: layer {chain} is missing from "
                              "the store (remove the image and load it again)")
        from .unpacking import ensure_image_unpacked

        ensure_image_unpacked(self)

    @property
    def size(self) -> int:
        """Bytes on disk of the unpacked layers (of a layer not unpacked yet, its blob's:
        the best guess there is until it is)."""
        store = self.store
        assert store is not None
        return sum(store.layer_size(ly.chain_id) if store.has_layer(ly.chain_id) else ly.size
                   for ly in self.layers)


def load_image(store: LayerStore, m_digest: str, config_id: str, tags: list[str]) -> Image:
    """The image whose manifest and config are the blobs ``m_digest`` and ``config_id``
    (NotFound when one is missing, ValueError when one is not JSON)."""
    manifest = json.loads(store.read_blob(m_digest))
    cfg = json.loads(store.read_blob(config_id))
    return Image(config_id, m_digest, manifest, cfg, sorted(tags), store)
