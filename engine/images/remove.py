"""Removing images (``image rm``, ``image prune``) and reading their history, with
docker's rules: removing a name untags; removing the last name, or the id, deletes the
image unless a container uses it; an id with several names needs ``-f``."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict
from . import reference
from .gc import gc
from .image import Image
from .store import ImageStore
from .versions import ANN_ID, ANN_NAME


def _untag(store: ImageStore, names: set[str], delete_id: str | None) -> None:
    from .versions import record_moves

    with store.writing(), store.index_lock():
        index = []
        removed: list[tuple[str, str, str, str]] = []
        for e in store.read_index():
            ann = e.get("annotations") or {}
            if ann.get(ANN_NAME) in names or (delete_id and ann.get(ANN_ID) == delete_id):
                if ann.get(ANN_NAME):
                    removed.append((str(ann[ANN_NAME]), str(ann.get(ANN_ID) or ""), "", ""))
                continue
            index.append(e)
        present = {(e.get("annotations") or {}).get(ANN_ID) for e in index}
        for e in store.read_index():  # an image that lost its last name stays, untagged
            image_id = (e.get("annotations") or {}).get(ANN_ID)
            if image_id and image_id != delete_id and image_id not in present:
                index.append({k: v for k, v in e.items() if k != "annotations"}
                             | {"annotations": {ANN_ID: image_id}})
                present.add(image_id)
        store.write_index(index)
        record_moves(store, removed)


def _by_name(ref: str, im: Image) -> str | None:
    """The full name ``ref`` means, when it names one of ``im``'s tags."""
    try:
        full = reference.normalize(ref)
    except reference.InvalidReference:
        return None
    return full if full in im.repo_tags else None


def remove(store: ImageStore, ref: str, *, force: bool = False) -> list[str]:
    """Remove one image reference; return docker's output lines."""
    im = store.resolve(ref)
    in_use = im.id in store.image_in_use
    name = _by_name(ref, im)
    lines: list[str] = []
    if name and len(im.repo_tags) > 1:
        _untag(store, {name}, None)
        return [f"Untagged: {reference.parse(name).familiar()}"]
    if not name and len(im.repo_tags) > 1 and not force:
        raise Conflict(f"unable to delete {im.short_id} (must be forced) - image is "
                       "referenced in multiple repositories")
    if in_use and not force:
        what = f"repository reference {ref!r}" if name else im.short_id
        raise Conflict(f"unable to remove {what} (must force) - a container is using "
                       f"image {im.short_id}")
    lines += [f"Untagged: {reference.parse(t).familiar()}" for t in im.repo_tags]
    _untag(store, set(im.repo_tags), im.id)
    lines.append(f"Deleted: {im.id}")
    return lines


def prune_plan(store: ImageStore, *, all_unused: bool = False, old_versions: bool = False
               ) -> tuple[list[Image], list[tuple[Image, list[str]]]]:
    """What prune would do: (the images it would remove, the untagged images it keeps
    because earlier versions of tags point at them, with those tags). ``all_unused``
    removes every image no container uses; ``old_versions`` also the untagged images
    only earlier versions point at (rollback to those versions is then impossible)."""
    from .versions import referenced_images

    in_use = store.image_in_use
    versioned = {} if all_unused or old_versions else referenced_images(store)
    drop: list[Image] = []
    kept: list[tuple[Image, list[str]]] = []
    for im in store.images():
        if im.id in in_use or (im.repo_tags and not all_unused):
            continue
        if im.id in versioned:
            kept.append((im, versioned[im.id]))
            continue
        drop.append(im)
    return drop, kept


def prune(store: ImageStore, *, all_unused: bool = False, old_versions: bool = False
          ) -> tuple[list[str], int]:
    """Remove untagged images (all unused ones with ``all_unused``) no container uses
    and no version of a tag refers to (unless ``old_versions``); return output lines and
    the bytes reclaimed."""
    lines: list[str] = []
    drop, _ = prune_plan(store, all_unused=all_unused, old_versions=old_versions)
    for im in drop:
        lines += [f"untagged: {reference.parse(t).familiar()}" for t in im.repo_tags]
        _untag(store, set(im.repo_tags), im.id)
        lines.append(f"deleted: {im.id}")
    res = gc(store)
    return lines, res.reclaimed


def history_rows(store: ImageStore, im: Image) -> list[dict[str, Any]]:
    """``image history``: one row per history entry, newest first, with the size of the
    layer it made (0 for config-only steps)."""
    chains = im.chain_ids
    history = im.history
    if sum(1 for h in history if not h.get("empty_layer")) < len(chains):
        history = history + [{"created": im.created, "created_by": "", "comment": ""}
                             for _ in range(len(chains) - len(history))]
    rows: list[dict[str, Any]] = []
    li = 0
    for h in history:
        size = 0
        if not h.get("empty_layer") and li < len(chains):
            size = store.layer_size(chains[li])
            li += 1
        rows.append({"ID": "<missing>", "CreatedAt": h.get("created", ""),
                     "CreatedBy": h.get("created_by", ""), "Size": size,
                     "Comment": h.get("comment", ""), "Author": h.get("author", "")})
    rows.reverse()
    if rows:
        rows[0]["ID"] = im.id
    return rows
