"""Is an image in the store? A quick look for the thin client of ``container run``
(outside engine/images/, whose package imports the whole store).

``run --pull missing`` (the default) must know whether to pull before it asks the
supervisor to create the container, and the thin client must stay light: no regular
expressions, no dataclasses, no store. This reads index.json and normalises the name
with string operations only. It may say "maybe not" wrongly (an unusual spelling);
the caller then asks the real store before pulling, so a wrong answer costs time,
never a wrong image. It never says "present" for a name the store lacks.
"""

from __future__ import annotations

import json
import os

from pycompose.util.paths import state_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def quick_normalize(ref: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, as reference.normalize does
    for well-formed names (it does not validate)."""
    name, _, digest = ref.partition("@")
    tag = ""
    if name.rfind(":") > name.rfind("/"):
        name, _, tag = name.rpartition(":")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not tag and not digest:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def maybe_present(ref: str, root: Path | None = None) -> bool:
    """True when index.json surely names ``ref`` (a name, a digest, an id or prefix)."""
    path = os.path.join(str(root or state_root()), "images", "index.json")
    try:
        with open(path, "rb") as f:
            entries = json.load(f).get("manifests") or []
    except (OSError, ValueError, AttributeError):
        return False
    full = quick_normalize(ref)
    h = ref.removeprefix("sha256:")
    is_hex = 4 <= len(h) <= 64 and all(c in "0123456789abcdef" for c in h)
    digest = ref.partition("@")[2]
    for e in entries:
        if not isinstance(e, dict):
            continue
        ann = e.get("annotations") or {}
        if ann.get("io.containerd.image.name") == full:
            return True
        if digest and digest in (e.get("digest"), ann.get("io.pycompose.image.id")):
            return True
        if is_hex and str(ann.get("io.pycompose.image.id", "")).removeprefix(
                "sha256:").startswith(h):
            return True
    return False
