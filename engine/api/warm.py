"""What a long-lived caller of the face loads ahead (the compose worker, which forks a
child per command): the modules that the face's build, pull and push verbs import
only when first called, so that a forked child finds them loaded.

The builder's package and the registry client import their parts lazily (a one-shot
``image ls`` must not pay for them); httpx imports httpcore, h11 and its trio backend
only at its first connection. A no-change rebuild is ~4 ms of work once these are in.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger(__name__)

#: what httpx loads at its first request under trio (private names: tried, not required)
_HTTP = ("h11", "httpcore", "httpcore._backends.trio", "encodings.idna", "certifi")


def preload() -> None:
    """Import the build, pull and push verbs' modules (each import is cached)."""
    from .. import builder, imagelookup  # noqa: F401
    from ..registry import pull, push  # noqa: F401
    from . import build, registry  # noqa: F401

    for mod in pkgutil.iter_modules(builder.__path__):
        importlib.import_module(f"{builder.__name__}.{mod.name}")
    for name in _HTTP:
        try:
            importlib.import_module(name)
        except ImportError as e:
            log.info("not preloaded: %s", e)
