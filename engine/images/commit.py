"""Making images from files: ``import`` (a rootfs tarball as a one-layer image) and
``commit`` (a container's overlay upper dir as a new layer on a base image)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import EngineError
from . import changes as C
from . import reference
from .pack import IdMap, pack

if TYPE_CHECKING:
    from .image import Image
    from .store import ImageStore

DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def import_tarball(store: ImageStore, raw: BinaryIO, *, source: str, tag: str | None = None,
                   changes: list[str] = (), message: str = "",  # type: ignore[assignment]
                   created_by: str = "", author: str = "") -> Image:
    """A rootfs tarball (plain or compressed) read from ``raw`` as a one-layer image."""
    if tag:
        reference.parse(tag)  # a bad name is refused before any work
    created = C.now_rfc3339()
    config = C.apply_changes({}, list(changes))
    try:
        with store.writing():
            layer = store.add_layer(raw, None, what=f"tarball {source}")
            oci = C.new_config(
                config=config, diff_ids=[layer.diff_id], created=created, author=author,
                history=[C.history_entry(created=created, created_by=created_by,
                                         comment=message or f"Imported from {source}",
                                         author=author)])
            return store.add_image(oci, [layer], [tag] if tag else [])
    except EngineError:
        from .gc import gc

        gc(store, wait=False)  # a layer that no image got: remove it again
        raise


def commit_dir(store: ImageStore, upper: Path, base: Image | None, *, repo_tag: str | None,
               author: str, comment: str, changes: list[str], created_by: str,
               id_maps: tuple[IdMap | None, IdMap | None] = (None, None)) -> Image:
    """Pack ``upper`` (overlay whiteouts and opaque dirs become ``.wh.`` entries) as a
    layer on ``base`` with a history entry, and register the new image."""
    if not upper.is_dir():
        raise EngineError(f"cannot commit {upper}: not a directory")
    if repo_tag:
        reference.parse(repo_tag)
    created = C.now_rfc3339()
    base_cfg: dict[str, Any] = dict(base.oci_config) if base else {}
    config = C.apply_changes(base_cfg.get("config") or ({} if base else
                                                        {"Env": list(DEFAULT_ENV)}),
                             changes)
    with store.writing(), store.tmpdir() as work:
        blob = work / "layer.tar"
        with open(blob, "wb") as out:
            try:
                pack(str(upper), out, *id_maps)
                out.flush()
                os.fsync(out.fileno())
            except OSError as e:
                raise EngineError(f"cannot pack {upper}: {e}")
        parent = base.chain_ids[-1] if base and base.chain_ids else None
        with open(blob, "rb") as f:
            layer = store.add_layer(f, parent, what=f"commit of {upper}")
        layers = (base.layers if base else []) + [layer]
        history = (base.history if base else []) + [C.history_entry(
            created=created, created_by=created_by, comment=comment, author=author)]
        oci = C.new_config(config=config, diff_ids=[ly.diff_id for ly in layers],
                           history=history, created=created, author=author)
        for k in ("architecture", "os", "variant"):
            if k in base_cfg:
                oci[k] = base_cfg[k]
        return store.add_image(oci, layers, [repo_tag] if repo_tag else [])
