"""Where pycompose keeps its state, and the short id that marks its kernel objects."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = "/var/lib/pycompose"


def state_root() -> Path:
    """The state root: ``$PYCOMPOSE_ROOT``, else /var/lib/pycompose as root, else
    ``$XDG_DATA_HOME/pycompose`` (``~/.local/share/pycompose``)."""
    env = os.environ.get("PYCOMPOSE_ROOT")
    if env:
        return Path(env).absolute()
    if os.geteuid() == 0:
        return Path(DEFAULT_ROOT)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "pycompose"


def root_id(root: Path | None = None) -> str:
    """Six hex digits naming a state root in kernel object names (netns, links,
    cgroups, nft tables), so that two roots on one machine (tests, users) never take
    each other's objects, and every object can be traced back to its root."""
    import hashlib  # here: loading OpenSSL costs every CLI command ~2.5 ms

    path = str((root or state_root()).absolute())
    return hashlib.sha256(path.encode()).hexdigest()[:6]
