"""What garbage collection must keep besides the tagged images: holds and the images
containers use.

A hold (``holds/<name>.json``) keeps blobs and unpacked chains under a name, with data
for its holder: the build cache keeps its layers so, and the images its RUN steps run in
(held images, which are in no index and resolve only by their full id). The images in
use are read from the container store's records. gc.py keeps both.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from pycompose.util.fs import atomic_write, read_json

from ..errors import NotFound
from .image import Image, load_image
from .layerstore import LayerRef, LayerStore
from .layout import MEDIA_CONFIG, MEDIA_MANIFEST, canonical_json, digest_hex, disk_errors


class HoldingStore(LayerStore):
    """The layers, plus what gc keeps for builds and containers (the third floor of
    :class:`~.store.ImageStore`)."""

    def hold(self, name: str, *, blobs: list[str], chains: list[str],
             image: Image | None = None, data: dict[str, Any] | None = None) -> None:
        """Keep ``blobs`` and unpacked ``chains`` from garbage collection under ``name``
        (``[a-z0-9-]``), with ``data`` for the holder. An ``image`` held this way is not
        in index.json (``image ls`` never shows it) but resolves by its full id: the
        build cache keeps its layers and the images its RUN steps run in like this.
        Call inside ``with store.writing():``, after the blobs and layers were added."""
        record: dict[str, Any] = {"blobs": blobs, "chains": chains, "data": data or {}}
        if image is not None:
            record["image"] = {"id": image.id, "manifest": image.manifest_digest}
        path = self.holds_dir / f"{name}.json"
        with disk_errors("build cache", self.images_dir):
            self.holds_dir.mkdir(mode=0o700, exist_ok=True)
            atomic_write(path, canonical_json(record), mode=0o600)

    def held(self, name: str) -> dict[str, Any] | None:
        """The record held as ``name``, or None."""
        try:
            rec: dict[str, Any] = json.loads((self.holds_dir / f"{name}.json").read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return rec

    def holds(self, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """Every hold whose name starts with ``prefix``."""
        try:
            names = sorted(os.listdir(self.holds_dir))
        except FileNotFoundError:
            return
        for n in names:
            if n.endswith(".json") and n.startswith(prefix):
                rec = self.held(n[:-5])
                if rec is not None:
                    yield n[:-5], rec

    def release(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.holds_dir / f"{name}.json").unlink()

    def add_held_image(self, oci_config: dict[str, Any], layers: list[LayerRef],
                       data: dict[str, Any] | None = None) -> Image:
        """Register an image that only a hold keeps (see :meth:`hold`), held as
        ``image-<hex of its id>``."""
        with disk_errors("image", self.images_dir), self.writing():
            cfg_bytes = canonical_json(oci_config)
            config_digest = self.put_blob(cfg_bytes)
            manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                                   "size": len(cfg_bytes)},
                        "layers": [ly.descriptor() for ly in layers]}
            m_digest = self.put_blob(canonical_json(manifest))
            image = load_image(self, m_digest, config_digest, [])
            self.hold(f"image-{digest_hex(config_digest)}",
                      blobs=[config_digest, m_digest, *[ly.digest for ly in layers]],
                      chains=[ly.chain_id for ly in layers], image=image, data=data)
            return image

    def held_image(self, image_id: str) -> Image | None:
        """An image kept by a hold (not in the index), by its full id."""
        rec = self.held(f"image-{digest_hex(image_id)}")
        im = (rec or {}).get("image") or {}
        if im.get("id") != image_id:
            return None
        try:
            return load_image(self, str(im["manifest"]), image_id, [])
        except (NotFound, ValueError, KeyError):
            return None

    @property
    def image_in_use(self) -> set[str]:
        """Image ids that containers use: ``$ROOT/containers/*/state.json`` key "Image".
        The container engine's records are the truth; a subclass may override."""
        out: set[str] = set()
        for state in (self.root / "containers").glob("*/state.json"):
            try:
                image = read_json(state).get("Image")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(image, str) and image:
                out.add(image)
        return out
