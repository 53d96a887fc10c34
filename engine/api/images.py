"""The image store, for front ends: names, the store and its operations.

Images are worked on in the caller's process under the store's locks (no supervisor
is needed to list, tag, import or remove an image)."""

from __future__ import annotations

from ..images import Image, ImageStore, LayerRef, reference, versions
from ..images.archive import load, save
from ..images.bootstrap import bootstrap
from ..images.commit import import_tarball
from ..images.gc import gc
from ..images.reference import InvalidReference, Reference, familiar_name
from ..images.reference import parse as parse_reference
from ..images.remove import history_rows, prune, prune_plan, remove

__all__ = [
           "Image",
           "ImageStore",
           "InvalidReference",
           "LayerRef",
           "Reference",
           "bootstrap",
           "familiar_name",
           "gc",
           "history_rows",
           "import_tarball",
           "load",
           "parse_reference",
           "prune",
           "prune_plan",
           "reference",
           "remove",
           "save",
           "versions",
]
