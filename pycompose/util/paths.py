"""Where pycompose keeps its state, and the short id that marks its kernel objects."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # the thin client of the worker imports this without pathlib
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_ROOT = "/var/lib/pycompose"


def state_root_text() -> str:
    """:func:`state_root` as text, made without :mod:`pathlib` (~3 ms of a command the
    warm worker runs: its client needs only the socket's path)."""
    env = os.environ.get("PYCOMPOSE_ROOT")
    if env:
        return env if env.startswith("/") else os.path.join(os.getcwd(), env)
    if os.geteuid() == 0:
        return DEFAULT_ROOT
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                          ".local", "share")
    return os.path.join(xdg, "pycompose")


def state_root() -> Path:
    """The state root: ``$PYCOMPOSE_ROOT``, else /var/lib/pycompose as root, else
    ``$XDG_DATA_HOME/pycompose`` (``~/.local/share/pycompose``)."""
    from pathlib import Path

    return Path(state_root_text())


def root_id(root: Path | None = None) -> str:
    """Six hex digits naming a state root in kernel object names (netns, links,
    cgroups, nft tables), so that two roots on one machine (tests, users) never take
    each other's objects, and every object can be traced back to its root."""
    import hashlib  # here: loading OpenSSL costs every CLI command ~2.5 ms

    path = str((root or state_root()).absolute())
    return hashlib.sha256(path.encode()).hexdigest()[:6]


#: State is root's (or, rootless, its owner's) alone, whatever the caller's umask, as
#: docker's /var/lib/docker: records hold secrets (``-e PASSWORD=...``) and volume
#: data, and the supervisor's socket is a way to run anything as root.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every directory this call makes is 0700 exactly, whatever
    the umask (existing ones are left as they are: see ``fs.tighten_state``)."""
    missing = []
    p = path
    while not os.path.isdir(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(d, PRIVATE_DIR)
    return path
