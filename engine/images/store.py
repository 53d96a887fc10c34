"""The image store: an OCI image layout plus unpacked layers, under ``$ROOT/images``.

:class:`ImageStore` is the whole store, built in floors (the layout, locks and blobs in
layout.py; the unpacked layers in layerstore.py; what gc keeps in holds.py); this top
floor is the index: ``index.json`` names each image by its manifest, with a descriptor
per (image, name) annotated io.containerd.image.name (the full reference) and
io.pycompose.image.id; an untagged image appears once. Here images are registered, listed,
resolved by id, name, digest or id prefix, and named (a name moved is a version of it,
versions.py). The layout, crash safety and locking are drawn in layout.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pycompose.util.fs import atomic_write_json, read_json

from ..errors import Conflict, EngineError, NotFound
from . import reference
from .holds import HoldingStore
from .image import Image, load_image
from .layerstore import LayerRef
from .layout import (
    ANN_REF,
    MEDIA_CONFIG,
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    canonical_json,
    disk_errors,
)
from .versions import ANN_ID, ANN_NAME

__all__ = ["Image", "ImageStore", "LayerRef"]


class ImageStore(HoldingStore):
    """The content-addressed image store of one state root. See the module docstring."""

    def read_index(self) -> list[dict[str, Any]]:
        try:
            return list(read_json(self.images_dir / "index.json").get("manifests") or [])
        except FileNotFoundError:
            return []
        except ValueError as e:
            raise EngineError(f"{self.images_dir / 'index.json'} is damaged: {e}")

    def write_index(self, manifests: list[dict[str, Any]]) -> None:
        atomic_write_json(self.images_dir / "index.json", {
            "schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests})

    def add_image(self, oci_config: dict[str, Any] | bytes, layers: list[LayerRef],
                  tags: Sequence[str] = (),
                  *, manifest: bytes | None = None, media_type: str = MEDIA_MANIFEST,
                  unpacked_later: bool = False) -> Image:
        """Register an image from its config and its (already added) layers; move
        ``tags`` to it. Returns the Image. ``manifest``: the manifest's bytes as a
        registry sent them (so the image keeps the registry's digest), checked against
        the config and layers; by default the store writes an OCI manifest.
        ``unpacked_later``: the layers' blobs are stored but not all unpacked (a pull:
        unpacking.py unpacks them on first use)."""
        with disk_errors("image", self.images_dir), self.writing():
            cfg_bytes = (oci_config if isinstance(oci_config, bytes)
                         else canonical_json(oci_config))
            cfg = json.loads(cfg_bytes)
            diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
            if diff_ids != [ly.diff_id for ly in layers]:
                raise EngineError("image config's rootfs.diff_ids do not match its layers")
            for ly in layers:
                if not self.has_layer_blob(ly) or not (unpacked_later
                                                       or self.has_layer(ly.chain_id)):
                    raise EngineError(f"layer {ly.digest} is not in the store")
            config_digest = self.put_blob(cfg_bytes)
            if manifest is None:
                media_type = MEDIA_MANIFEST
                m_bytes = canonical_json({
                    "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                    "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                               "size": len(cfg_bytes)},
                    "layers": [ly.descriptor() for ly in layers]})
            else:
                m_bytes = manifest
                _check_manifest(json.loads(m_bytes), config_digest, layers)
            m_digest = self.put_blob(m_bytes)
            names = [reference.normalize(t) for t in tags]
            all_names = self._name(m_digest, len(m_bytes), config_digest, names, media_type)
        return load_image(self, m_digest, config_digest, all_names)

    def _entries(self) -> dict[str, tuple[str, list[str]]]:
        """image id -> (manifest digest, names), from index.json alone."""
        by_id: dict[str, tuple[str, list[str]]] = {}
        for e in self.read_index():
            ann = e.get("annotations") or {}
            image_id = ann.get(ANN_ID) or ""
            if not image_id:
                continue
            _, tags = by_id.setdefault(image_id, (e["digest"], []))
            if ann.get(ANN_NAME):
                tags.append(ann[ANN_NAME])
        return by_id

    def _loaded(self, entries: dict[str, tuple[str, list[str]]],
                ids: list[str]) -> list[Image]:
        out = []
        for i in ids:
            m, t = entries[i]
            try:
                out.append(load_image(self, m, i, t))
            except (NotFound, ValueError):
                continue  # a damaged entry (a blob deleted by hand) hides only itself
        return out

    def images(self) -> list[Image]:
        """Every image of the store, newest first."""
        entries = self._entries()
        return sorted(self._loaded(entries, list(entries)), key=lambda im: im.created,
                      reverse=True)

    def resolve(self, ref: str) -> Image:
        """An image by full id, name[:tag], name@digest, or unique id prefix.

        Found in index.json first, then only that image is read (not every image's
        manifest and config: a store keeps its old versions, and a no-change rebuild
        resolves three names)."""
        entries = self._entries()
        if ref.startswith("sha256:") and len(ref) == 71:
            for im in self._loaded(entries, [ref] if ref in entries else []):
                return im
            held = self.held_image(ref)
            if held is not None:
                return held
            raise NotFound(f"No such image: {ref}")
        try:
            parsed = reference.parse(ref)
        except reference.InvalidReference:
            parsed = None
        if parsed is not None:
            full = str(parsed)
            ids = [i for i, (m, tags) in entries.items()
                   if full in tags or (parsed.digest and parsed.digest in (m, i))]
            for im in self._loaded(entries, ids):
                return im
        if reference.looks_like_id(ref):
            h = ref.removeprefix("sha256:")
            found = self._loaded(entries, [i for i in entries
                                           if i.removeprefix("sha256:").startswith(h)])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Conflict(f"image id prefix {ref!r} is ambiguous")
        if parsed is None:
            reference.parse(ref)  # raises the reference error
        raise NotFound(f"No such image: {ref}")

    def tag(self, ref: str, new: str) -> None:
        """Give the image ``ref`` the name ``new`` (taking it from another image)."""
        im = self.resolve(ref)
        name = reference.normalize(new)
        with self.writing():
            self._name(im.manifest_digest, len(self.read_blob(im.manifest_digest)), im.id,
                       [name])

    def _name(self, m_digest: str, m_size: int, image_id: str, names: list[str],
              media_type: str | None = None) -> list[str]:
        """Register manifest ``m_digest`` in index.json under ``names`` (moved from other
        images, which stay untagged if it was their last); return all its names. Each
        move of a name is recorded as a version of it (versions.py)."""
        from .versions import record_moves

        with self.index_lock():
            current = self.read_index()
            before = {str((e.get("annotations") or {}).get(ANN_NAME)):
                      str((e.get("annotations") or {}).get(ANN_ID) or "") for e in current}
            if media_type is None:  # keep the type the image was registered with
                media_type = next((str(e["mediaType"]) for e in current
                                   if e.get("digest") == m_digest and e.get("mediaType")),
                                  MEDIA_MANIFEST)
            # names move to this image; its untagged entry goes if it gets a name
            index = [e for e in current
                     if (e.get("annotations") or {}).get(ANN_NAME) not in names
                     and not (names and e.get("digest") == m_digest
                              and not (e.get("annotations") or {}).get(ANN_NAME))]
            desc = {"mediaType": media_type, "digest": m_digest, "size": m_size}
            for n in names:
                index.append({**desc, "annotations": {
                    ANN_NAME: n, ANN_REF: reference.parse(n).tag or "", ANN_ID: image_id}})
            if not any(e.get("digest") == m_digest for e in index):
                index.append({**desc, "annotations": {ANN_ID: image_id}})
            self.write_index(_keep_dangling(index, self))
            record_moves(self, [(n, before.get(n, ""), image_id, m_digest) for n in names])
            return sorted(str((e.get("annotations") or {}).get(ANN_NAME)) for e in index
                          if e.get("digest") == m_digest
                          and (e.get("annotations") or {}).get(ANN_NAME))


def _check_manifest(doc: Any, config_digest: str, layers: list[LayerRef]) -> None:
    """A manifest handed to add_image must name the config and layers given with it."""
    try:
        cfg = doc["config"]["digest"]
        digests = [d["digest"] for d in doc.get("layers") or []]
    except (KeyError, TypeError):
        raise EngineError("image manifest lacks its config or layer descriptors")
    if cfg != config_digest or digests != [ly.digest for ly in layers]:
        raise EngineError("image manifest does not name the config and layers given")


def _keep_dangling(index: list[dict[str, Any]], store: ImageStore) -> list[dict[str, Any]]:
    """An image whose last tag moved away stays, untagged (``<none>``), as in docker."""
    old = store.read_index()
    present = {(e.get("annotations") or {}).get(ANN_ID) for e in index}
    for e in old:
        image_id = (e.get("annotations") or {}).get(ANN_ID)
        if image_id and image_id not in present:
            index.append({k: v for k, v in e.items() if k != "annotations"}
                         | {"annotations": {ANN_ID: image_id}})
            present.add(image_id)
    return index
