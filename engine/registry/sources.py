"""Which repositories of which registries hold a blob, as far as this store knows.

A push can ask a registry to *mount* a blob it already holds under another repository
(``POST /v2/NEW/blobs/uploads/?mount=DIGEST&from=OLD``) instead of receiving its bytes
again. To know what to ask for, every pull and push notes here where each blob came
from or went to: ``$ROOT/images/registry-sources.json``, ``{digest: ["host/repo",
...]}``, a few entries per blob, newest first. It is a hint: a wrong entry costs one
refused mount, after which the blob is uploaded.
"""

from __future__ import annotations

import json
import logging

from pycompose.util.fs import atomic_write, locked

from ..images.store import ImageStore

log = logging.getLogger(__name__)

PER_BLOB = 4
FILE = "registry-sources.json"


def _load(store: ImageStore) -> dict[str, list[str]]:
    try:
        doc = json.loads((store.images_dir / FILE).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable, starting again: %s", store.images_dir / FILE, e)
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: [str(x) for x in v] for k, v in doc.items() if isinstance(v, list)}


def remember(store: ImageStore, host: str, repo: str, digests: list[str]) -> None:
    """Note that ``host/repo`` holds ``digests``; forget blobs the store lost."""
    where = f"{host}/{repo}"
    try:
        with locked(store.images_dir / (FILE + ".lock")):
            doc = _load(store)
            for d in digests:
                doc[d] = [where, *(w for w in doc.get(d, []) if w != where)][:PER_BLOB]
            doc = {d: w for d, w in doc.items() if store.has_blob(d)}
            # no sync: a hint lost to a power cut costs mounts, not data, and each
            # sync is a wait on the disk at the end of every pull and push
            atomic_write(store.images_dir / FILE,
                         json.dumps(doc, separators=(",", ":")).encode(), sync=False,
                         sync_new=False)
    except OSError as e:  # a hint only: never fail a pull or push for it
        log.warning("cannot note where blobs came from (%s): %s", store.images_dir / FILE, e)


def repositories(store: ImageStore, host: str, digest: str) -> list[str]:
    """Repositories of registry ``host`` known to hold ``digest``, newest first."""
    prefix = host + "/"
    return [w[len(prefix):] for w in _load(store).get(digest, []) if w.startswith(prefix)]
